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

  function sumKw(l, kinds) {
    var sel = l.assets.filter(function (a) { return kinds.indexOf(a.kind) >= 0; });
    if (!sel.length) return null;
    return sel.reduce(function (s, a) { return s + (a.p_kw || 0); }, 0);
  }

  /* Grid, PV and storage feed the park bus (sign convention: into the bus > 0); tenants' own loads (tenant meter
     + own PV + own storage − heat pumps/EV/flexible, which have their own boxes), heat pumps, EV chargers and
     flexible loads draw from it. */
  function energyFlow(l) {
    var box = document.getElementById("energy-flow");
    if (!box || !window.MGFlow) return;
    var pcc = l.pcc_p_kw, socs = l.assets.filter(function (a) { return a.kind === "battery" && a.soc_pct !== null && a.soc_pct !== undefined; })
      .map(function (a) { return a.id + " " + a.soc_pct.toFixed(0) + " %"; });
    var st = l.storage_kw;
    var top = [
      { id: "grid", label: MG.t("flowd.grid"), kw: pcc === null ? null : Math.abs(pcc), into_bus: pcc === null ? null : pcc >= 0,
        sub: pcc === null ? "" : (pcc >= 0 ? MG.t("flowd.import") : MG.t("flowd.export")), cls: "grid" },
      { id: "pv", label: MG.t("flowd.pv"), kw: l.pv_kw, into_bus: true, cls: "pv",
        sub: MG.state.site && MG.state.site.pv_kwp ? MG.fmtNum(MG.state.site.pv_kwp, 0) + " kWp" : "" }
    ];
    if (l.assets.some(function (a) { return a.kind === "battery"; })) {
      top.push({ id: "storage", label: MG.t("flowd.storage"), kw: Math.abs(st), into_bus: st >= 0, cls: "storage",
                 sub: (st > 1 ? MG.t("tile.discharge") : st < -1 ? MG.t("tile.charge") : MG.t("tile.idle")) + (socs.length ? " · " + socs.join(" · ") : "") });
    }
    var flexAll = sumKw(l, ["heat_pump", "ev_depot", "deferrable", "shiftable", "curtailable"]) || 0;
    var metered = l.tenants.filter(function (t) { return t.meter_kw !== null && t.meter_kw !== undefined; });
    var own = function (t) { return Math.max(0, t.meter_kw + t.pv_kw + t.storage_kw - t.flexible_kw); };
    // tenants without a meter share what the metered ones and the flexible loads leave of the park's
    // consumption, by typical load (as the reports do); the box says it is an estimate
    var residual = l.consumption_kw === null ? null :
      Math.max(0, l.consumption_kw - flexAll - metered.reduce(function (s, t) { return s + own(t); }, 0));
    var typical = function (id) {
      var t = MG.state.site ? MG.state.site.tenants.filter(function (x) { return x.id === id; })[0] : null;
      return t ? t.typical_load_kw || 0 : 0;
    };
    var unmetered = l.tenants.filter(function (t) { return metered.indexOf(t) < 0; });
    var weight = unmetered.reduce(function (s, t) { return s + typical(t.tenant); }, 0);
    var bottom = l.tenants.map(function (t) {
      var estimate = metered.indexOf(t) < 0;
      var kw = !estimate ? own(t) : residual === null ? null
        : residual * (weight > 0 ? typical(t.tenant) / weight : 1 / unmetered.length);
      return { id: "tenant-" + t.tenant, label: MG.tenantName(t.tenant), kw: kw, into_bus: kw === null ? null : false,
               sub: estimate ? MG.t("flowd.estimated") : "", cls: "load" };
    });
    [["heat_pumps", ["heat_pump"]], ["ev", ["ev_depot"]], ["flexible", ["deferrable", "shiftable", "curtailable"]]].forEach(function (k) {
      var kw = sumKw(l, k[1]);
      if (kw !== null) bottom.push({ id: k[0], label: MG.t("flowd." + k[0]), kw: Math.abs(kw), into_bus: kw < 0, cls: "load" });
    });
    MGFlow.render(box, { bus: MG.t("flowd.bus"), top: top, bottom: bottom }, MG.fmtKw);
  }

  /* Today's planned grid exchange (dashed) against the measured one (solid), refreshed every minute. */
  function planMini() {
    return MG.api("/api/v1/plan-vs-actual").then(function (d) {
      var lines = [];
      if (d.plan && d.plan.series.grid_kw) lines.push({ label: MG.t("series.grid_plan"), color: "#374151", dash: true, width: 1.5,
        values: d.plan.series.grid_kw, x: d.plan.index.map(Date.parse), stepMs: d.plan.step_min * 60000 });
      if (d.actual && d.actual.index.length && d.actual.series.grid_kw) lines.push({ label: MG.t("series.grid_actual"), color: "#111827", width: 2.5,
        values: d.actual.series.grid_kw, x: d.actual.index.map(Date.parse), stepMs: d.actual.step_min * 60000 });
      var start = Date.parse(d.price_bands[0].start), end = Date.parse(d.price_bands[d.price_bands.length - 1].end);
      MGChart.time(document.getElementById("plan-mini"), { start: start, end: end, x: lines.length ? lines[0].x : [], stepMs: 900000,
        lines: lines, yUnit: "kW", timeZone: MG.siteTz(), height: 200, emptyText: MG.t("plan.no_plan") });
    }).catch(function () {});
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
  function render() { if (last) { tiles(last); energyFlow(last); flows(last); assets(last); } alarms(); }
  document.addEventListener("mg:live", function (ev) { last = ev.detail; render(); });
  document.addEventListener("mg:lang", render);
  document.addEventListener("mg:alarms", render);
  MG.ready.then(function (st) { if (st) { MG.every(60, green); MG.every(60, planMini); } });
})();
