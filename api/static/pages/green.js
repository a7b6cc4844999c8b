/* Green-power ratio, CO2 and energy cost: today and month to date, from measured interval energies. */
(function () {
  "use strict";
  function tile(parent, label, value, sub, id) {
    var t = document.createElement("div"); t.className = "tile";
    if (id) t.id = id;
    var l = document.createElement("div"); l.className = "tile-label"; l.textContent = label;
    var v = document.createElement("div"); v.className = "tile-value"; v.textContent = value;
    var s = document.createElement("div"); s.className = "tile-sub"; s.textContent = sub || "";
    t.appendChild(l); t.appendChild(v); t.appendChild(s); parent.appendChild(t);
  }
  function tiles(id, f, target) {
    var box = document.getElementById(id);
    box.textContent = "";
    tile(box, MG.t("green.ratio"), MG.fmtPct(f.green_power_ratio), target !== null ? MG.t("green.target") + " " + target + " %" : "", id + "-ratio");
    tile(box, MG.t("green.co2"), f.co2_kg >= 10000 ? MG.fmtNum(f.co2_kg / 1000, 2) + " t" : MG.fmtNum(f.co2_kg, 0) + " kg", "", id + "-co2");
    tile(box, MG.t("green.cost"), "¥ " + MG.fmtNum(f.cost_energy_cny, 0), "");
    tile(box, MG.t("green.consumption"), MG.fmtNum(f.consumption_kwh, 0) + " kWh", MG.t("green.import") + " " + MG.fmtNum(f.import_kwh, 0) + " kWh");
    tile(box, MG.t("green.pv"), MG.fmtNum(f.pv_generation_kwh, 0) + " kWh", "");
  }
  var dayInput;
  function load() {
    var q = dayInput.value ? "?day=" + dayInput.value : "";
    return MG.api("/api/v1/green" + q).then(function (g) {
      if (!dayInput.value) { dayInput.value = g.day; MG.showDay(dayInput); }
      tiles("tiles-today", g.today, g.target_ratio_pct);
      tiles("tiles-mtd", g.month_to_date, g.target_ratio_pct);
      var cats = [MG.t("green.today"), MG.t("green.mtd")], parts = [g.today, g.month_to_date];
      MGChart.bars(document.getElementById("green-chart"), {
        categories: cats, stacked: true, yUnit: "kWh",
        series: [
          { label: MG.t("green.green_kwh"), color: "#2b8a3e", values: parts.map(function (f) { return f.green_energy_kwh; }) },
          { label: MG.t("green.grid_kwh"), color: "#9aa5b1", values: parts.map(function (f) { return Math.max(f.consumption_kwh - f.green_energy_kwh, 0); }) }
        ]
      });
      var first = g.day.slice(0, 8) + "01";
      ["html", "csv", "xlsx"].forEach(function (fmt) {
        document.getElementById("report-" + fmt).href = "/api/v1/reports?from=" + first + "&to=" + g.day + "&format=" + fmt;
      });
      var method = document.getElementById("green-method");
      method.textContent = MG.t("green.method") + " · " + g.emission_factor_kg_per_kwh + " kgCO₂/kWh · " + MG.t("green.factor_source") + " ";
      var cite = document.createElement("cite"); /* the source document, quoted as published */
      cite.textContent = g.emission_factor_source; method.appendChild(cite);
    }).catch(function (e) { MG.banner(e.detail); });
  }
  MG.ready.then(function () {
    dayInput = document.getElementById("day");
    MG.dayPicker(dayInput);
    dayInput.addEventListener("change", load);
    MG.every(60, load);
  });
})();
