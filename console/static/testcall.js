// The test-call page: an on-screen keypad that builds key groups (one per prompt), more rings on
// demand, and a fetch POST (X-CSRFToken from the page's meta tag) that shows the transcript in
// place. Without script the form still works: it posts and the page comes back with the transcript.
(function () {
  "use strict";
  var form = document.getElementById("testcall");
  if (!form) { return; }
  var keys = document.getElementById("keys");
  var groups = document.getElementById("groups");
  var pad = document.getElementById("keypad");
  var rings = document.getElementById("rings");
  var addRing = document.getElementById("add-ring");
  var result = document.getElementById("result");
  var problems = document.getElementById("problems");
  var busy = document.getElementById("busy");

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }

  function renderGroups() {
    groups.replaceChildren();
    if (keys.value === "") {
      groups.appendChild(el("li", "muted", "No keys: the caller hangs up at the first prompt."));
      return;
    }
    var parts = keys.value.split(",");
    parts.forEach(function (group, i) {
      var li = el("li", i === parts.length - 1 ? "current" : "");
      var g = group.trim();
      if (g === "") { li.appendChild(el("span", "muted", "(no input)")); } else { li.textContent = g; }
      groups.appendChild(li);
    });
  }

  pad.hidden = false;
  pad.addEventListener("click", function (ev) {
    var button = ev.target.closest("button");
    if (!button) { return; }
    if (button.dataset.key) { keys.value += button.dataset.key; }
    else if (button.dataset.action === "next") { keys.value += ","; }
    else if (button.dataset.action === "back") { keys.value = keys.value.slice(0, -1); }
    else if (button.dataset.action === "clear") { keys.value = ""; }
    renderGroups();
  });
  keys.addEventListener("input", renderGroups);
  renderGroups();

  addRing.hidden = false;
  addRing.addEventListener("click", function () {
    var last = rings.lastElementChild;
    var copy = last.cloneNode(true);
    var select = copy.querySelector("select");
    select.value = "";
    select.setAttribute("aria-label", "Ring " + (rings.children.length + 1));
    rings.appendChild(copy);
    select.focus();
  });

  function showProblems(list) {
    problems.replaceChildren();
    list.forEach(function (p) { var node = el("p", "flash error", p); node.setAttribute("role", "alert"); problems.appendChild(node); });
  }

  function showResult(d) {
    result.replaceChildren();
    result.appendChild(el("h2", "", "What the caller hears"));
    result.appendChild(el("p", "muted", "Dry run: call from " + d.from + " at " + d.at + ". Nothing was kept."));
    var list = el("ol", "steps");
    d.steps.forEach(function (s) { list.appendChild(el("li", "step " + s.kind, s.text)); });
    result.appendChild(list);
    var outcome = el("p", "outcome");
    if (d.connected_to) {
      outcome.appendChild(document.createTextNode("Put through to: "));
      outcome.appendChild(el("strong", "", d.connected_to_name || d.connected_to));
    } else {
      outcome.textContent = "Not put through to anyone (" + d.ended_by + ").";
    }
    result.appendChild(outcome);
  }

  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var submit = form.querySelector("button[type=submit]");
    var meta = document.querySelector('meta[name="csrf-token"]');
    submit.disabled = true;
    busy.textContent = "Calling…";
    fetch(form.action, {
      method: "POST",
      body: new FormData(form),
      credentials: "same-origin",
      headers: { "X-CSRFToken": meta ? meta.content : "", "Accept": "application/json" }
    })
      .then(function (r) {
        return r.json().then(function (d) { return { ok: r.ok, data: d }; },
                             function () { throw new Error("HTTP " + r.status); });
      })
      .then(function (res) {
        if (!res.ok) {
          result.replaceChildren();  // a previous call's transcript is not this form's answer
          showProblems(res.data.problems || ["The test call could not be placed."]);
          return;
        }
        showProblems([]);
        showResult(res.data);
      })
      .catch(function (err) {
        result.replaceChildren();
        showProblems(["The test call could not be placed (" + err.message + ")."]);
      })
      .then(function () { submit.disabled = false; busy.textContent = ""; });
  });
}());
