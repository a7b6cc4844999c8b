/* Plan vs actual: stacked planned power with TOU bands and measured lines; SoC and tank charts; KPIs. */
(function () {
  "use strict";
  var BAND = { valley: "#e6f4ea", flat: "#f7f7f7", peak: "#fdecea", critical: "#f6c9c9" };
  var C = { pv: "#f2b705", discharge: "#2f80ed", import: "#9aa5b1", charge: "#74a9f0", export: "#c9b458",
            base: "#e07b39", hp: "#d9480f", flex: "#9c36b5", gridActual: "#111827", pvActual: "#a16207" };
  var PALETTE = ["#2f80ed", "#12b886", "#f76707", "#ae3ec9", "#e64980", "#1098ad"];

  function ms(list) { return list.map(function (iso) { return Date.parse(iso); }); }
  function sumCols(series, cols, n, fn) {
    var out = new Array(n).fill(0), any = false;
    cols.forEach(function (c) {
      var v = series[c];
      if (!v) return;
      any = true;
      v.forEach(function (x, i) { if (x !== null) out[i] += fn ? fn(x) : x; });
    });
    return any ? out : null;
  }

  function render(d) {
    var tz = MG.siteTz();
    var dayStart = Date.parse(d.price_bands[0].start), dayEnd = Date.parse(d.price_bands[d.price_bands.length - 1].end);
    var bands = d.price_bands.map(function (b) {
      return { start: Date.parse(b.start), end: Date.parse(b.end), period: b.period, color: BAND[b.period] || "#fff",
               label: MG.t("band." + b.period, b.period) + " " + (b.price !== null ? b.price.toFixed(4) + " CNY/kWh" : "") };
    });
    var legend = document.getElementById("band-legend");
    legend.textContent = "";
    ["valley", "flat", "peak", "critical"].forEach(function (p) {
      var b = d.price_bands.filter(function (x) { return x.period === p; })[0];
      if (!b) return;
      var item = document.createElement("span"), sw = document.createElement("span");
      sw.className = "sw"; sw.style.background = BAND[p];
      item.appendChild(sw); item.appendChild(document.createTextNode(MG.t("band." + p, p) + " " + (b.price !== null ? b.price.toFixed(3) : "") + " CNY/kWh"));
      legend.appendChild(item);
    });
    var stack = d.stack, stacks = [], lines = [], x = [], step = 900000;
    var byKind = function (k) { return stack.filter(function (s) { return s.kind === k; }).map(function (s) { return s.column; }); };
    var flexCols = stack.filter(function (s) { return ["deferrable", "shiftable", "curtailable", "ev_depot"].indexOf(s.kind) >= 0; }).map(function (s) { return s.column; });
    var batCols = byKind("battery");
    if (d.plan) {
      var p = d.plan.series, n = d.plan.index.length;
      x = ms(d.plan.index); step = d.plan.step_min * 60000;
      var neg = function (v) { return -v; };
      stacks = [
        { label: MG.t("series.pv"), color: C.pv, values: sumCols(p, byKind("pv"), n) },
        { label: MG.t("series.discharge"), color: C.discharge, values: sumCols(p, batCols, n, function (v) { return Math.max(v, 0); }) },
        { label: MG.t("series.import"), color: C.import, values: p.grid_import_kw || sumCols(p, ["grid_kw"], n, function (v) { return Math.max(v, 0); }) },
        { label: MG.t("series.base"), color: C.base, values: sumCols(p, byKind("load"), n, neg) },
        { label: MG.t("series.hp"), color: C.hp, values: sumCols(p, byKind("heat_pump"), n, neg) },
        { label: MG.t("series.flex"), color: C.flex, values: sumCols(p, flexCols, n, neg) },
        { label: MG.t("series.charge"), color: C.charge, values: sumCols(p, batCols, n, function (v) { return Math.min(v, 0); }) },
        { label: MG.t("series.export"), color: C.export, values: p.grid_export_kw ? p.grid_export_kw.map(neg) : null }
      ].filter(function (s) { return s.values; });
      lines.push({ label: MG.t("series.grid_plan"), color: "#374151", values: p.grid_kw, dash: true, width: 1.5 });
    }
    if (d.actual && d.actual.index.length) {
      var a = d.actual.series, ax = ms(d.actual.index), na = ax.length, astep = d.actual.step_min * 60000;
      if (!x.length) { x = ax; step = astep; }
      if (a.grid_kw) lines.push({ label: MG.t("series.grid_actual"), color: C.gridActual, values: a.grid_kw, x: ax, stepMs: astep, width: 2.5 });
      var pvA = sumCols(a, byKind("pv"), na);
      if (pvA) lines.push({ label: MG.t("series.pv_actual"), color: C.pvActual, values: pvA, x: ax, stepMs: astep, width: 2.5 });
    }
    MGChart.time(document.getElementById("power-chart"), {
      start: dayStart, end: dayEnd, x: x, stepMs: step, bands: bands, stacks: stacks, lines: lines,
      yUnit: "kW", timeZone: tz, title: "power", emptyText: MG.t("plan.no_plan")
    });
    // SoC and tank: plan dashed, measured solid, one colour per asset
    function stateChart(id, kind, suffixPlan, suffixActual, unit) {
      var cols = stack.filter(function (s) { return s.kind === kind; }), ls = [];
      cols.forEach(function (s, i) {
        var color = PALETTE[i % PALETTE.length];
        if (d.plan && d.plan.series[s.asset_id + suffixPlan]) ls.push({ label: s.asset_id + " " + MG.t("series.plan"), color: color, dash: true, values: d.plan.series[s.asset_id + suffixPlan], x: ms(d.plan.index), stepMs: d.plan.step_min * 60000 });
        if (d.actual && d.actual.series[s.asset_id + suffixActual]) ls.push({ label: s.asset_id + " " + MG.t("series.actual"), color: color, values: d.actual.series[s.asset_id + suffixActual], x: ms(d.actual.index), stepMs: d.actual.step_min * 60000 });
      });
      MGChart.time(document.getElementById(id), { start: dayStart, end: dayEnd, x: x, stepMs: step, bands: bands, lines: ls,
                                                   yUnit: unit, timeZone: tz, yMin: 0, yMax: unit === "%" ? 100 : undefined, emptyText: MG.t("plan.no_plan") });
    }
    stateChart("soc-chart", "battery", "_soc_pct", "_soc_pct", "%");
    if (stack.some(function (s) { return s.kind === "heat_pump"; })) {
      stateChart("tank-chart", "heat_pump", "_tank_kwh", "_tank_kwh", "kWh");
    } else {
      var tank = document.getElementById("tank-chart");
      tank.textContent = "";
      var note = document.createElement("div"); note.className = "chart-empty"; note.textContent = MG.t("plan.no_hp");
      tank.appendChild(note);
    }
    document.getElementById("plan-version").textContent = d.version ? MG.t("plan.version") + " " + d.version : MG.t("plan.no_plan");
  }

  function kpis(scheduleId) {
    var dl = document.getElementById("plan-kpis");
    dl.textContent = "";
    if (!scheduleId) return;
    MG.api("/api/v1/schedules/versions/" + scheduleId + "/kpis").then(function (k) {
      ["cost_total_cny", "savings_vs_baseline_cny", "import_kwh", "export_kwh", "pv_generation_kwh", "pv_curtailed_kwh",
       "peak_import_kw", "green_power_ratio", "co2_kg", "battery_discharge_kwh"].forEach(function (key) {
        if (!(key in k.kpis)) return;
        var div = document.createElement("div"), dt = document.createElement("dt"), dd = document.createElement("dd");
        dt.textContent = MG.t("kpi." + key, key); var v = k.kpis[key];
        dd.textContent = key === "green_power_ratio" ? MG.fmtPct(v) : MG.fmtNum(v, 1);
        div.appendChild(dt); div.appendChild(dd); dl.appendChild(div);
      });
    }).catch(function () {});
  }

  var dayInput;
  function load() {
    var q = dayInput.value ? "?day=" + dayInput.value : "";
    return MG.api("/api/v1/plan-vs-actual" + q).then(function (d) {
      if (!dayInput.value) { dayInput.value = d.day; MG.showDay(dayInput); }
      render(d);
      kpis(d.schedule_id);
    }).catch(function (e) { MG.banner(e.detail); });
  }
  MG.ready.then(function () {
    dayInput = document.getElementById("day");
    MG.dayPicker(dayInput);
    dayInput.addEventListener("change", load);
    MG.every(60, load);
  });
})();
