// Refresh the live board every 5 seconds from /admin/board.json (no framework, no build step).
(function () {
  "use strict";
  function text(value) { return value === null || value === undefined ? "" : String(value); }
  function cell(row, value) { var td = document.createElement("td"); td.textContent = text(value); row.appendChild(td); return td; }
  function fill(id, rows, empty, columns) {
    var body = document.querySelector("#" + id + " tbody");
    if (!body) { return; }
    body.replaceChildren();
    if (!rows.length) { var tr = document.createElement("tr"); var td = cell(tr, empty); td.colSpan = columns; td.className = "muted"; body.appendChild(tr); return; }
    rows.forEach(function (r) { var tr = document.createElement("tr"); r.forEach(function (v) { cell(tr, v); }); body.appendChild(tr); });
  }
  function pct(x) { return x === null || x === undefined ? "–" : Math.round(x * 100) + "%"; }
  function refresh() {
    var note = document.getElementById("live-note");
    fetch("board.json", { headers: { "Accept": "application/json" }, credentials: "same-origin" })
      .then(function (r) {
        if (r.status === 503) { note.hidden = false; }  // Redis is unreachable: live figures are not
        if (!r.ok) { throw new Error(r.status); }
        return r.json();
      })
      .then(function (d) {
        if (!document.getElementById("waiting")) { window.location.reload(); return; }  // back: full page
        note.hidden = true;
        var t = d.queue.today;
        document.getElementById("asof").textContent = d.now.slice(0, 19).replace("T", " ") + " UTC";
        document.getElementById("waiting").textContent = d.queue.waiting;
        document.getElementById("longest").textContent = d.queue.longest_wait_seconds;
        document.getElementById("service-level").textContent = pct(t.service_level);
        document.getElementById("asa").textContent = t.asa_seconds === null ? "–" : Math.round(t.asa_seconds) + " s";
        document.getElementById("answered").textContent = t.answered;
        document.getElementById("abandoned").textContent = t.abandoned;
        var oc = document.getElementById("oncall"); oc.replaceChildren();
        d.on_call.forEach(function (s) { var div = document.createElement("div"); div.textContent = s.layer + ": " + (s.engineer || "nobody"); oc.appendChild(div); });
        fill("incidents", d.incidents.map(function (i) { return [i.id + " (case " + i.case + ")", i.district, i.state, i.triggered_at.slice(0, 16).replace("T", " "), i.acknowledged_by]; }), "None.", 5);
        fill("line", d.queue.line.map(function (w) { return [w.position, w.priority, w.skill, w.waiting_seconds + " s" + (w.waiting_for_owner ? " (for the owner)" : "")]; }), "Nobody is waiting.", 4);
        fill("advisors", d.advisors.map(function (a) { return [a.name, a.team, a.state.replace("_", " ") + (a.away_reason ? " (" + a.away_reason + ")" : ""), a.calls_today]; }), "", 4);
      })
      .catch(function () { /* keep the last figures; try again next time */ });
  }
  setInterval(refresh, 5000);
}());
