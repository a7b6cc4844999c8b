/* Small dependency-free SVG charts for the dashboard (no CDN, no build step).

   MGChart.time(el, opts)  time axis: TOU price bands, stacked step areas (interval averages; positive
                           values stack up, negative down), lines (step or straight), tooltip, legend.
   MGChart.bars(el, opts)  grouped or stacked vertical bars per category (values may be negative).

   Times are epoch milliseconds; labels use opts.timeZone (the site's, e.g. "Asia/Shanghai"). */
(function () {
  "use strict";
  var NS = "http://www.w3.org/2000/svg";

  function el(name, attrs, parent) {
    var node = document.createElementNS(NS, name);
    for (var k in attrs) if (attrs[k] !== undefined && attrs[k] !== null) node.setAttribute(k, attrs[k]);
    if (parent) parent.appendChild(node);
    return node;
  }
  function num(v) { return v === null || v === undefined || isNaN(v) ? null : +v; }
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }

  function niceStep(span, count) {
    var raw = span / Math.max(count, 1), mag = Math.pow(10, Math.floor(Math.log10(raw || 1))), norm = raw / mag;
    return (norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10) * mag;
  }
  function niceTicks(lo, hi, count) {
    if (lo === hi) { lo -= 1; hi += 1; }
    var step = niceStep(hi - lo, count), start = Math.floor(lo / step) * step, ticks = [];
    for (var v = start; v <= hi + step * 0.5; v += step) ticks.push(+v.toFixed(10));
    return ticks;
  }
  function fmt(v, digits) {
    if (v === null || v === undefined || isNaN(v)) return "–";
    var d = digits === undefined ? (Math.abs(v) >= 100 ? 0 : Math.abs(v) >= 10 ? 1 : 2) : digits;
    // the page's language decides the separators, not the browser's locale (both use 1,234.5)
    var locale = window.MG && MG.lang && MG.lang() === "zh" ? "zh-CN" : "en-GB";
    return (+v).toLocaleString(locale, { maximumFractionDigits: d, minimumFractionDigits: 0 });
  }
  function timeFormatter(tz) {
    try { return new Intl.DateTimeFormat("en-GB", { hour: "2-digit", minute: "2-digit", hour12: false, timeZone: tz }); }
    catch (e) { return new Intl.DateTimeFormat("en-GB", { hour: "2-digit", minute: "2-digit", hour12: false }); }
  }

  function frame(container, opts, defaultHeight) {
    clear(container);
    container.style.position = "relative";
    var width = opts.width || Math.max(320, container.clientWidth || 800);
    var height = opts.height || (container.classList.contains("tall") ? 380 : defaultHeight);
    var m = { l: 58, r: opts.rightAxis ? 50 : 14, t: 18, b: 26 };
    var svg = el("svg", { viewBox: "0 0 " + width + " " + height, width: width, height: height, role: "img",
                          "aria-label": opts.title || "chart", "class": "mg-chart" }, container);
    var tip = document.createElement("div");
    tip.className = "chart-tip hidden";
    container.appendChild(tip);
    var legend = document.createElement("div");
    legend.className = "chart-legend";
    container.appendChild(legend);
    return { svg: svg, tip: tip, legend: legend, w: width, h: height, m: m,
             iw: width - m.l - m.r, ih: height - m.t - m.b };
  }

  function legendItem(legend, label, color, kind) {
    var item = document.createElement("span");
    var sw = document.createElement("span");
    sw.className = "sw" + (kind === "line" ? " line" : kind === "dash" ? " dash" : "");
    if (kind === "dash") sw.style.borderTopColor = color; else sw.style.background = color;
    item.appendChild(sw);
    item.appendChild(document.createTextNode(label));
    legend.appendChild(item);
  }

  function yAxis(f, lo, hi, unit, side) {
    var ticks = niceTicks(lo, hi, Math.max(3, Math.floor(f.ih / 45)));
    var tlo = Math.min(lo, ticks[0]), thi = Math.max(hi, ticks[ticks.length - 1]);
    var y = function (v) { return f.m.t + f.ih - (v - tlo) / (thi - tlo) * f.ih; };
    var g = el("g", { "class": "axis y" }, f.svg);
    ticks.forEach(function (v) {
      if (side !== "right") el("line", { x1: f.m.l, x2: f.m.l + f.iw, y1: y(v), y2: y(v), "class": v === 0 ? "zero" : "gridline" }, g);
      var text = el("text", { x: side === "right" ? f.m.l + f.iw + 6 : f.m.l - 6, y: y(v) + 4,
                              "text-anchor": side === "right" ? "start" : "end", "class": "tick" }, g);
      text.textContent = fmt(v);
    });
    if (unit) {
      var u = el("text", { x: side === "right" ? f.w - 4 : 4, y: 10, "text-anchor": side === "right" ? "end" : "start", "class": "tick" }, g);
      u.textContent = unit;
    }
    return y;
  }

  function time(container, opts) {
    var f = frame(container, opts, 240);
    var stacks = (opts.stacks || []).filter(function (s) { return s.values && s.values.some(function (v) { return num(v); }); });
    var lines = (opts.lines || []).filter(function (s) { return s.values && s.values.some(function (v) { return num(v) !== null; }); });
    var x0 = opts.start, x1 = opts.end, step = opts.stepMs || 900000;
    var xs = opts.x || [];
    if (!stacks.length && !lines.length) {
      var empty = document.createElement("div");
      empty.className = "chart-empty";
      empty.textContent = opts.emptyText || "no data";
      container.insertBefore(empty, f.svg);
      container.setAttribute("data-series", "0");
      return;
    }
    var x = function (t) { return f.m.l + (t - x0) / (x1 - x0) * f.iw; };
    // extents
    var pos = xs.map(function () { return 0; }), neg = xs.map(function () { return 0; });
    stacks.forEach(function (s) { s.values.forEach(function (v, i) { v = num(v) || 0; if (v > 0) pos[i] += v; else neg[i] += v; }); });
    var lo = Math.min(0, Math.min.apply(null, neg.concat([0]))), hi = Math.max(0, Math.max.apply(null, pos.concat([0])));
    var right = [], left = [];
    lines.forEach(function (s) { (s.axis === "right" ? right : left).push(s); });
    left.forEach(function (s) { s.values.forEach(function (v) { v = num(v); if (v !== null) { lo = Math.min(lo, v); hi = Math.max(hi, v); } }); });
    if (opts.yMin !== undefined) lo = Math.min(lo, opts.yMin);
    if (opts.yMax !== undefined) hi = Math.max(hi, opts.yMax);
    var pad = (hi - lo) * 0.05 || 1;
    if (lo < 0) lo -= pad;
    hi += pad;
    // price bands (behind everything)
    var gb = el("g", { "class": "bands" }, f.svg);
    (opts.bands || []).forEach(function (b) {
      var a = Math.max(x(b.start), f.m.l), c = Math.min(x(b.end), f.m.l + f.iw);
      if (c > a) {
        var r = el("rect", { x: a, y: f.m.t, width: c - a, height: f.ih, fill: b.color, "class": "band band-" + (b.period || "") }, gb);
        var title = el("title", {}, r);
        title.textContent = b.label || "";
      }
    });
    var y = yAxis(f, lo, hi, opts.yUnit, "left");
    var y2 = null;
    if (right.length) {
      var rlo = Infinity, rhi = -Infinity;
      right.forEach(function (s) { s.values.forEach(function (v) { v = num(v); if (v !== null) { rlo = Math.min(rlo, v); rhi = Math.max(rhi, v); } }); });
      y2 = yAxis(f, Math.min(0, rlo), rhi * 1.05 || 1, opts.y2Unit, "right");
    }
    // x axis: hour ticks in the site's time zone
    var fmtTime = timeFormatter(opts.timeZone);
    var span = x1 - x0, hour = 3600000;
    var every = span <= 6 * hour ? hour : f.iw < 500 ? 6 * hour : f.iw < 900 ? 3 * hour : 2 * hour;
    var gx = el("g", { "class": "axis x" }, f.svg);
    var origin = opts.tickOrigin !== undefined ? opts.tickOrigin : x0;  /* ticks on local hours: x0 is local midnight */
    for (var t = origin + Math.ceil((x0 - origin) / every) * every; t <= x1; t += every) {
      var px = x(t);
      el("line", { x1: px, x2: px, y1: f.m.t, y2: f.m.t + f.ih, "class": "gridline" }, gx);
      var label = el("text", { x: px, y: f.h - 8, "text-anchor": "middle", "class": "tick" }, gx);
      label.textContent = fmtTime.format(new Date(t));
    }
    // stacked step areas
    var base = { p: xs.map(function () { return 0; }), n: xs.map(function () { return 0; }) };
    var ga = el("g", { "class": "stacks" }, f.svg);
    stacks.forEach(function (s) {
      ["p", "n"].forEach(function (sign) {
        var top = [], bottom = [], any = false;
        xs.forEach(function (t, i) {
          var v = num(s.values[i]) || 0;
          var part = sign === "p" ? Math.max(v, 0) : Math.min(v, 0);
          if (part !== 0) any = true;
          var b0 = base[sign][i], b1 = b0 + part;
          base[sign][i] = b1;
          top.push([x(t), y(b1)], [x(t + step), y(b1)]);
          bottom.push([x(t), y(b0)], [x(t + step), y(b0)]);
        });
        if (!any) return;
        var d = "M" + top.map(function (p) { return p[0].toFixed(1) + "," + p[1].toFixed(1); }).join("L") +
                "L" + bottom.reverse().map(function (p) { return p[0].toFixed(1) + "," + p[1].toFixed(1); }).join("L") + "Z";
        el("path", { d: d, fill: s.color, "fill-opacity": 0.75, stroke: "none", "class": "area" }, ga);
      });
      legendItem(f.legend, s.label, s.color, "area");
    });
    // lines
    var gl = el("g", { "class": "lines" }, f.svg);
    lines.forEach(function (s) {
      var yy = s.axis === "right" && y2 ? y2 : y, lx = s.x || xs, d = "", pen = false, stepped = s.step !== false;
      lx.forEach(function (t, i) {
        var v = num(s.values[i]);
        if (v === null) { pen = false; return; }
        if (stepped) {
          d += (pen ? "L" : "M") + x(t).toFixed(1) + "," + yy(v).toFixed(1) + "L" + x(t + (s.stepMs || step)).toFixed(1) + "," + yy(v).toFixed(1);
        } else {
          d += (pen ? "L" : "M") + x(t).toFixed(1) + "," + yy(v).toFixed(1);
        }
        pen = true;
      });
      el("path", { d: d, fill: "none", stroke: s.color, "stroke-width": s.width || 2,
                   "stroke-dasharray": s.dash ? "6 4" : null, "class": "line" }, gl);
      legendItem(f.legend, s.label, s.color, s.dash ? "dash" : "line");
    });
    container.setAttribute("data-series", String(stacks.length + lines.length));
    // tooltip
    var cursor = el("line", { y1: f.m.t, y2: f.m.t + f.ih, "class": "cursor", visibility: "hidden" }, f.svg);
    var hit = el("rect", { x: f.m.l, y: f.m.t, width: f.iw, height: f.ih, fill: "transparent" }, f.svg);
    function valueAt(s, t) {
      var lx = s.x || xs, st = s.stepMs || step;
      for (var i = 0; i < lx.length; i++) if (t >= lx[i] && t < lx[i] + st) return num(s.values[i]);
      return null;
    }
    hit.addEventListener("mousemove", function (ev) {
      var box = f.svg.getBoundingClientRect(), scale = f.w / box.width;
      var px = (ev.clientX - box.left) * scale, t = x0 + (px - f.m.l) / f.iw * (x1 - x0);
      var snapped = Math.floor((t - x0) / step) * step + x0;
      cursor.setAttribute("x1", x(snapped)); cursor.setAttribute("x2", x(snapped));
      cursor.setAttribute("visibility", "visible");
      var rows = [fmtTime.format(new Date(snapped))];
      stacks.concat(lines).forEach(function (s) {
        var v = valueAt(s, t);
        if (v !== null) rows.push(s.label + ": " + fmt(v) + (s.unit || (s.axis === "right" ? opts.y2Unit : opts.yUnit) || ""));
      });
      f.tip.textContent = "";
      rows.forEach(function (r, i) { if (i) f.tip.appendChild(document.createElement("br")); f.tip.appendChild(document.createTextNode(r)); });
      f.tip.classList.remove("hidden");
      var left = (ev.clientX - box.left) + 14;
      if (left > box.width - 220) left -= 240;
      f.tip.style.left = left + "px";
      f.tip.style.top = Math.max(0, ev.clientY - box.top - 20) + "px";
    });
    hit.addEventListener("mouseleave", function () { cursor.setAttribute("visibility", "hidden"); f.tip.classList.add("hidden"); });
  }

  function bars(container, opts) {
    var f = frame(container, opts, 240);
    var cats = opts.categories || [], series = opts.series || [];
    if (!cats.length || !series.length) {
      var empty = document.createElement("div");
      empty.className = "chart-empty";
      empty.textContent = opts.emptyText || "no data";
      container.insertBefore(empty, f.svg);
      container.setAttribute("data-series", "0");
      return;
    }
    var lo = 0, hi = 0;
    cats.forEach(function (c, i) {
      var p = 0, n = 0;
      series.forEach(function (s) {
        var v = num(s.values[i]) || 0;
        if (opts.stacked) { if (v > 0) p += v; else n += v; } else { p = Math.max(p, v); n = Math.min(n, v); }
      });
      lo = Math.min(lo, n); hi = Math.max(hi, p);
    });
    hi += (hi - lo) * 0.05 || 1;
    var y = yAxis(f, lo, hi, opts.yUnit, "left");
    var band = f.iw / cats.length, inner = band * 0.7;
    var g = el("g", { "class": "bars" }, f.svg);
    cats.forEach(function (c, i) {
      var bx = f.m.l + i * band + (band - inner) / 2, p = 0, n = 0;
      series.forEach(function (s, k) {
        var v = num(s.values[i]);
        if (v === null) return;
        var x, w, y0, y1;
        if (opts.stacked) {
          x = bx; w = inner;
          if (v >= 0) { y0 = p; y1 = p + v; p = y1; } else { y0 = n; y1 = n + v; n = y1; }
        } else {
          w = inner / series.length; x = bx + k * w; y0 = 0; y1 = v;
        }
        var r = el("rect", { x: x, width: Math.max(w - 1, 1), y: Math.min(y(y0), y(y1)),
                             height: Math.max(Math.abs(y(y0) - y(y1)), 0.5), fill: s.color, "class": "bar" }, g);
        var title = el("title", {}, r);
        title.textContent = c + " · " + s.label + ": " + fmt(v) + (opts.yUnit ? " " + opts.yUnit : "");
      });
      var label = el("text", { x: f.m.l + i * band + band / 2, y: f.h - 8, "text-anchor": "middle", "class": "tick" }, g);
      label.textContent = c.length > 14 ? c.slice(0, 13) + "…" : c;
    });
    series.forEach(function (s) { legendItem(f.legend, s.label, s.color, "area"); });
    container.setAttribute("data-series", String(series.length));
  }

  window.MGChart = { time: time, bars: bars, fmt: fmt, niceTicks: niceTicks };
})();
