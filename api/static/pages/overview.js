/* Overview: PCC, PV, storage, consumption, alarms, flows per tenant and the asset table (refresh 5 s). */
(function () {
  "use strict";
  var COLORS = { meter: "#6b7280", pv: "#f2b705", storage: "#2f80ed", flexible: "#9c36b5" };

  function set(id, text) { var n = document.getElementById(id); if (n) n.textContent = text; }

  function tiles(l) {
    var pcc = l.pcc_p_kw;
    set("t-pcc", MG.fmtKw(pcc === null ? null : Math.abs(pcc)));
    set("t-pcc-sub", pcc === null ? "" : (pcc >= 0 ? MG.t("tile.import") : MG.t("tile.export")) + " · " + MG.t("tile.limit") + " " + MG.fmtNum(l.import_cap_kw, 0) + " kW");
    set("t-pv", MG.fmtKw(l.pv_kw));
    var kwp = MG.state.site ? MG.state.site.pv_kwp : null;
    set("t-pv-sub", kwp ? MG.fmtNum(kwp, 0) + " kWp" : "");
    set("t-storage", MG.fmtKw(Math.abs(l.storage_kw)));
    var dir = l.storage_kw > 1 ? MG.t("tile.discharge") : l.storage_kw < -1 ? MG.t("tile.charge") : MG.t("tile.idle");
    var socs = l.assets.filter(function (a) { return a.kind === "battery" && a.soc_pct !== null && a.soc_pct !== undefined; })
      .map(function (a) { return a.id + " " + a.soc_pct.toFixed(0) + " %"; });
    set("t-soc", dir + (socs.length ? " · SoC " + socs.join(" · ") : (l.soc_pct !== null ? " · SoC " + l.soc_pct.toFixed(1) + " %" : "")));
    set("t-cons", MG.fmtKw(l.consumption_kw));
    set("t-cons-sub", "");
    set("t-alarms", String(MG.activeAlarms.length || l.active_alarms));
    set("t-plan", planAge(l));
    set("t-cycle", l.cycle_time_ms !== null ? MG.t("tile.cycle") + " " + MG.fmtNum(l.cycle_time_ms, 0) + " ms" : "");
  }

  /* "intraday-20250716T100000-1" made at 10:00, now 10:12 -> "Intraday plan, 12 min old". */
  function planAge(l) {
    var m = /^([a-z_]+?)-(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})/.exec(l.plan_version || "");
    if (!m) return l.plan_version ? l.plan_version : "–";
    var kind = MG.t("plan.kind." + m[1], m[1]);
    var nowLocal = MG.localDay(l.at) + "T" + MG.fmtTime(l.at).slice(0, 5);
    var made = m[2] + "-" + m[3] + "-" + m[4] + "T" + m[5] + ":" + m[6];
    var minutes = Math.max(0, Math.round((Date.parse(nowLocal + ":00Z") - Date.parse(made + ":00Z")) / 60000));
    var age = minutes < 90 ? MG.t("age.minutes", null, { n: minutes }) : MG.t("age.hours", null, { n: Math.round(minutes / 60) });
    return MG.t("plan.age", null, { kind: kind, age: age });
  }

  function green() {
    return MG.api("/api/v1/green").then(function (g) {
      var f = g.today;
      set("t-green", MG.fmtPct(f.green_power_ratio));
      var co2 = f.co2_kg >= 10000 ? MG.fmtNum(f.co2_kg / 1000, 2) + " t" : MG.fmtNum(f.co2_kg, 0) + " kg";
      set("t-green-sub", (g.target_ratio_pct !== null ? MG.t("green.target") + " " + g.target_ratio_pct + " % · " : "") + "CO₂ " + co2);
      var tile = document.getElementById("t-green-tile");
      if (tile && g.target_ratio_pct !== null && f.green_power_ratio !== null) tile.classList.toggle("below-target", f.green_power_ratio * 100 < g.target_ratio_pct);
    }).catch(function () {});
  }

  function flows(l) {
    var cats = l.tenants.map(function (t) { return MG.tenantName(t.tenant); });
    MGChart.bars(document.getElementById("flow-chart"), {
      categories: cats, yUnit: "kW",
      series: [
        { label: MG.t("flow.meter"), color: COLORS.meter, values: l.tenants.map(function (t) { return t.meter_kw; }) },
        { label: MG.t("flow.pv"), color: COLORS.pv, values: l.tenants.map(function (t) { return t.pv_kw; }) },
        { label: MG.t("flow.storage"), color: COLORS.storage, values: l.tenants.map(function (t) { return t.storage_kw; }) },
        { label: MG.t("flow.flexible"), color: COLORS.flexible, values: l.tenants.map(function (t) { return t.flexible_kw; }) }
      ]
    });
  }

  function assets(l) {
    var body = document.querySelector("#asset-table tbody");
    body.textContent = "";
    l.assets.forEach(function (a) {
      var tr = document.createElement("tr");
      tr.setAttribute("data-asset", a.id);
      MG.cell(tr, a.name !== a.id ? a.id + " – " + a.name : a.id);
      MG.cell(tr, MG.t("kind." + a.kind, a.kind));
      MG.cell(tr, MG.tenantName(a.tenant));
      MG.cell(tr, MG.fmtNum(a.p_kw, 1), "num");
      MG.cell(tr, MG.fmtNum(a.planned_kw, 1), "num");
      MG.cell(tr, MG.fmtNum(a.setpoint_kw, 1), "num");
      var st = a.soc_pct !== null && a.soc_pct !== undefined ? a.soc_pct.toFixed(1) + " %" :
               a.tank_temp_c !== null && a.tank_temp_c !== undefined ? a.tank_temp_c.toFixed(1) + " °C" :
               a.tank_kwh_th !== null && a.tank_kwh_th !== undefined ? MG.fmtNum(a.tank_kwh_th, 0) + " kWh" : "";
      MG.cell(tr, st, "num");
      MG.cell(tr, MG.badge(MG.t("health." + a.health, a.health), a.health));
      MG.cell(tr, a.override ? MG.fmtNum(a.override.value_kw, 1) + " kW → " + MG.fmtTime(a.override.expires_at) : "");
      body.appendChild(tr);
    });
  }

  /* Active alarms (shared with the header strip), unacknowledged first, at the top of the page. */
  function alarms() {
    var list = document.getElementById("alarm-list");
    var items = MG.activeAlarms.slice().sort(function (a, b) { return (a.acked_at ? 1 : 0) - (b.acked_at ? 1 : 0); });
    list.textContent = "";
    if (!items.length) {
      var none = document.createElement("li"); none.className = "muted"; none.textContent = MG.t("overview.no_alarms"); list.appendChild(none);
    }
    items.slice(0, 10).forEach(function (a) {
      var li = document.createElement("li");
      var when = document.createElement("span"); when.className = "when"; when.textContent = MG.fmtTime(a.raised_at);
      li.setAttribute("data-alarm", a.id);
      li.classList.toggle("unacked", !a.acked_at);
      li.appendChild(when); li.appendChild(MG.severity(a.severity));
      li.appendChild(document.createTextNode(" " + MG.alarmText(a)));
      list.appendChild(li);
    });
  }

  var last = null;
  function render() { if (last) { tiles(last); flows(last); assets(last); } alarms(); }
  document.addEventListener("mg:live", function (ev) { last = ev.detail; render(); });
  document.addEventListener("mg:lang", render);
  document.addEventListener("mg:alarms", render);
  MG.ready.then(function (st) { if (st) MG.every(60, green); });
})();
