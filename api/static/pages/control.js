/* Override form (operators): set an override with expiry, see and clear the ones in force, re-plan. */
(function () {
  "use strict";
  var assets = {};
  function result(id, text, ok) {
    var p = document.getElementById(id);
    p.textContent = text; p.className = "result " + (ok ? "ok" : "err");
  }
  function fillAssets() {
    return MG.api("/api/v1/assets").then(function (list) {
      var sel = document.getElementById("o-asset"), keep = sel.value;
      sel.textContent = "";
      list.forEach(function (a) {
        assets[a.id] = a;
        var opt = document.createElement("option");
        opt.value = a.id; opt.textContent = a.id + " (" + MG.t("kind." + a.kind, a.kind) + ", " + MG.tenantName(a.tenant) + ")";
        sel.appendChild(opt);
      });
      if (keep && assets[keep]) sel.value = keep;
      range();
    });
  }
  function range() {
    var a = assets[document.getElementById("o-asset").value];
    if (!a) return;
    document.getElementById("o-range").textContent = MG.t("control.range") + ": " + a.min_kw + " … " + a.max_kw + " kW (" + MG.t("control.meaning." + (a.kind === "battery" || a.kind === "pv" ? a.kind : "load"), a.override_meaning) + ")";
    var v = document.getElementById("o-value");
    v.min = a.min_kw; v.max = a.max_kw;
  }
  function overrides() {
    return MG.api("/api/v1/overrides").then(function (list) {
      var body = document.querySelector("#override-table tbody");
      body.textContent = "";
      if (!list.items.length) {
        var tr0 = document.createElement("tr"); var td0 = MG.cell(tr0, MG.t("control.none"), "muted"); td0.colSpan = 5; body.appendChild(tr0);
      }
      list.items.forEach(function (o) {
        var tr = document.createElement("tr");
        tr.setAttribute("data-override", o.asset_id);
        MG.cell(tr, o.asset_id);
        MG.cell(tr, MG.fmtNum(o.value_kw, 1), "num");
        MG.cell(tr, MG.fmtTime(o.expires_at));
        MG.cell(tr, o.user);
        var b = document.createElement("button");
        b.className = "btn small secondary"; b.type = "button"; b.textContent = MG.t("control.clear");
        b.addEventListener("click", function () {
          MG.api("/api/v1/assets/" + encodeURIComponent(o.asset_id) + "/override", { method: "DELETE" })
            .then(function () { result("o-result", MG.t("control.cleared") + ": " + o.asset_id, true); overrides(); })
            .catch(function (e) { result("o-result", e.detail, false); });
        });
        MG.cell(tr, b);
        body.appendChild(tr);
      });
    });
  }
  MG.ready.then(function () {
    document.getElementById("o-asset").addEventListener("change", range);
    document.getElementById("override-form").addEventListener("submit", function (ev) {
      ev.preventDefault();
      var asset = document.getElementById("o-asset").value;
      var body = {
        value_kw: parseFloat(document.getElementById("o-value").value),
        duration_min: parseFloat(document.getElementById("o-duration").value),
        reason: document.getElementById("o-reason").value
      };
      if (isNaN(body.value_kw)) { result("o-result", "value_kw: " + MG.t("control.value"), false); return; }
      MG.api("/api/v1/assets/" + encodeURIComponent(asset) + "/override", { method: "PUT", body: body })
        .then(function (o) { result("o-result", MG.t("control.done") + " " + MG.fmtTime(o.expires_at) + " (" + o.asset_id + " " + o.value_kw + " kW)", true); overrides(); })
        .catch(function (e) { result("o-result", e.detail, false); });
    });
    document.getElementById("replan-form").addEventListener("submit", function (ev) {
      ev.preventDefault();
      MG.api("/api/v1/schedules/replan", { method: "POST", body: { reason: document.getElementById("r-reason").value } })
        .then(function (t) { result("r-result", MG.t("control.replan_ok") + " (" + t.request_id + ") " + (t.message || ""), t.accepted); })
        .catch(function (e) { result("r-result", e.detail, false); });
    });
    fillAssets();
    MG.every(10, overrides);
  });
})();
