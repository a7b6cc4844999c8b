/* Alarms (acknowledge: operators) and events, newest first, with cursor paging. */
(function () {
  "use strict";
  var cursor = null;

  function alarmRow(a) {
    var tr = document.createElement("tr");
    tr.setAttribute("data-alarm", a.id);
    tr.classList.toggle("active-alarm", !a.cleared_at);
    MG.cell(tr, MG.fmtTime(a.raised_at, true));
    MG.cell(tr, MG.severity(a.severity));
    MG.cell(tr, a.code, "code");
    MG.cell(tr, a.source_id).translate = false;  // an identifier, not words of either language
    var text = MG.cell(tr, MG.alarmText(a), "msg");
    var detail = MG.alarmDetail(a);
    if (detail) { var small = document.createElement("div"); small.className = "muted"; small.textContent = detail; text.appendChild(small); }
    MG.cell(tr, String(a.count), "num");
    MG.cell(tr, a.cleared_at ? MG.fmtTime(a.cleared_at) : "");
    MG.cell(tr, a.acked_at ? a.acked_by + " " + MG.fmtTime(a.acked_at) : "");
    var td = MG.cell(tr, "");
    if (!a.acked_at && MG.isOperator()) {
      var b = document.createElement("button");
      b.className = "btn small"; b.type = "button"; b.textContent = MG.t("events.ack");
      b.setAttribute("data-ack", a.id);
      b.addEventListener("click", function () {
        b.disabled = true;
        MG.api("/api/v1/alarms/" + a.id + "/acknowledge", { method: "POST", body: {} })
          .then(function (done) { tr.replaceWith(alarmRow(done)); if (MG.refreshAlarms) MG.refreshAlarms(); })
          .catch(function (err) { b.disabled = false; MG.banner(err.detail); });
      });
      td.appendChild(b);
    }
    return tr;
  }

  function loadAlarms() {
    var q = ["limit=200"];
    if (document.getElementById("f-active").checked) q.push("active=true");
    if (document.getElementById("f-unack").checked) q.push("unacknowledged=true");
    return MG.api("/api/v1/alarms?" + q.join("&")).then(function (page) {
      var body = document.querySelector("#alarm-table tbody");
      body.textContent = "";
      if (!page.items.length) {
        var tr = document.createElement("tr"); var td = MG.cell(tr, MG.t("alarms.none"), "muted"); td.colSpan = 9; body.appendChild(tr);
      }
      page.items.forEach(function (a) { body.appendChild(alarmRow(a)); });
    }).catch(function (e) { MG.banner(e.detail); });
  }

  function eventRow(e) {
    var tr = document.createElement("tr");
    tr.setAttribute("data-event", e.id);
    MG.cell(tr, MG.fmtTime(e.ts, true));
    MG.cell(tr, MG.eventText(e.category)).title = e.category;
    MG.cell(tr, e.source_id).translate = false;  // identifiers, not words of either language
    MG.cell(tr, e.user).translate = false;
    var msg = MG.cell(tr, MG.lang() === "zh" ? "" : e.message + (e.reason ? " — " + e.reason : ""), "msg");
    /* Chinese: the controller's English detail moves to the tooltip; an operator's own words stay. */
    if (MG.lang() === "zh") { msg.title = e.message + (e.reason ? " — " + e.reason : ""); if (e.reason && e.category === "api") msg.textContent = e.reason; }
    return tr;
  }

  function loadEvents(older) {
    var q = ["limit=50"], cat = document.getElementById("f-category").value.trim();
    if (cat) q.push("category=" + encodeURIComponent(cat));
    if (older && cursor) q.push("cursor=" + encodeURIComponent(cursor));
    return MG.api("/api/v1/events?" + q.join("&")).then(function (page) {
      var body = document.querySelector("#event-table tbody");
      if (!older) body.textContent = "";
      if (!older && !page.items.length) {
        var tr = document.createElement("tr"); var td = MG.cell(tr, MG.t("events.none"), "muted"); td.colSpan = 5; body.appendChild(tr);
      }
      page.items.forEach(function (e) { body.appendChild(eventRow(e)); });
      cursor = page.next_cursor;
      document.getElementById("older").classList.toggle("hidden", !cursor);
    }).catch(function (e) { MG.banner(e.detail); });
  }

  MG.ready.then(function () {
    ["f-active", "f-unack"].forEach(function (id) { document.getElementById(id).addEventListener("change", loadAlarms); });
    document.getElementById("f-category").addEventListener("change", function () { loadEvents(false); });
    document.getElementById("refresh").addEventListener("click", function () { loadAlarms(); loadEvents(false); });
    document.getElementById("older").addEventListener("click", function () { loadEvents(true); });
    MG.every(30, function () { loadAlarms(); loadEvents(false); });
  });
})();
