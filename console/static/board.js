// The live board's refresh is htmx (hx-get on #board-live, console/templates/admin/board.html);
// this file only does what htmx cannot: say when a refresh failed, and never swap the login page
// (a signed-out session's refresh is redirected there) into the board.
(function () {
  "use strict";
  var region = document.getElementById("board-live");
  var banner = document.getElementById("board-stale");
  if (!region || !banner) { return; }

  function show(text) { banner.textContent = text; banner.hidden = false; }
  function asof() {
    var part = region.querySelector("[data-asof]");
    return part ? part.getAttribute("data-asof") : "the last refresh";
  }
  function stale() { show("Stale since " + asof() + ": the last refresh failed (retrying)."); }
  function answeredByTheBoard(xhr) {
    try { return new URL(xhr.responseURL).pathname === new URL(region.getAttribute("hx-get"), document.baseURI).pathname; }
    catch (e) { return false; }
  }

  region.addEventListener("htmx:beforeSwap", function (evt) {
    if (evt.detail.xhr.status === 200 && !answeredByTheBoard(evt.detail.xhr)) {
      evt.detail.shouldSwap = false;  // redirected: the sign-in page, not the board
      show("Signed out: reload to sign in.");
    }
  });
  region.addEventListener("htmx:afterSwap", function () { banner.hidden = true; banner.textContent = ""; });
  region.addEventListener("htmx:responseError", stale);
  region.addEventListener("htmx:sendError", stale);
  region.addEventListener("htmx:timeout", stale);
}());
