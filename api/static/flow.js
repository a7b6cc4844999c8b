/* Energy-flow diagram of the park (inline SVG, no library): grid, PV and storage above the park bus, tenants'
   loads, heat pumps, EV chargers and flexible loads below it; each link carries its live kW, its width grows
   with the power and its arrow points the way the power flows. MGFlow.render(container, model):
   model = { bus: label, top: [node], bottom: [node] }, node = { id, label, sub, kw, into_bus: bool|null } where
   kw is the magnitude and into_bus says the direction (null: unknown). */
(function () {
  "use strict";
  var NS = "http://www.w3.org/2000/svg";
  var W = 1000, BUS_Y = 175, NODE_H = 70;  // W follows the container (text at its natural size)

  function el(name, attrs, parent) {
    var n = document.createElementNS(NS, name);
    Object.keys(attrs || {}).forEach(function (k) { n.setAttribute(k, attrs[k]); });
    if (parent) parent.appendChild(n);
    return n;
  }
  function text(parent, x, y, content, cls) {
    var t = el("text", { x: x, y: y, "text-anchor": "middle", "class": cls || "" }, parent);
    t.textContent = content;
    return t;
  }

  /* Squeeze a text into `width` (only when it does not fit; the SVG is in the page, so it can be measured). */
  function fit(t, width) {
    var len = t.getComputedTextLength ? t.getComputedTextLength() : 0;
    if (len > width) { t.setAttribute("textLength", width); t.setAttribute("lengthAdjust", "spacingAndGlyphs"); }
    return t;
  }

  /* A node's name on one line, or two (split at the space nearest the middle) when it is too long: tenant
     names stay readable instead of being cut. */
  function label(g, cx, y, width, content) {
    var t = text(g, cx, y + 22, content, "flow-label");
    if (!t.getComputedTextLength || t.getComputedTextLength() <= width) return;
    var words = content.split(" ");
    if (words.length < 2) { fit(t, width); return; }
    var best = 1, half = content.length / 2;
    for (var i = 1, pos = 0; i < words.length; i++) {
      pos += words[i - 1].length + 1;
      if (Math.abs(pos - half) < Math.abs(words.slice(0, best).join(" ").length + 1 - half)) best = i;
    }
    t.textContent = "";
    [words.slice(0, best).join(" "), words.slice(best).join(" ")].forEach(function (part, k) {
      var span = el("tspan", { x: cx, y: y + 16 + k * 15 }, t);
      span.textContent = part;
      fit(span, width);
    });
  }

  function row(nodes, y, svg, maxKw, above, fmtKw) {
    var n = Math.max(nodes.length, 1), slot = (W - 40) / n, w = Math.min(190, slot - 12);
    nodes.forEach(function (node, i) {
      var cx = 20 + slot * (i + 0.5);
      var g = el("g", { "class": "flow-node " + (node.cls || ""), "data-node": node.id,
                        "data-kw": node.kw === null ? "" : String(Math.round(node.kw)) }, svg);
      el("rect", { x: cx - w / 2, y: y, width: w, height: NODE_H, rx: 8 }, g);
      label(g, cx, y, w - 10, node.label);
      text(g, cx, y + 50, fmtKw(node.kw), "flow-value");
      if (node.sub) fit(text(g, cx, y + 64, node.sub, "flow-sub"), w - 10);
      var yTop = above ? y + NODE_H : BUS_Y, yBot = above ? BUS_Y : y;
      var kw = node.kw || 0, width = kw > 0.5 ? 2 + 8 * Math.min(1, kw / maxKw) : 1.5;
      var down = node.into_bus === null ? null : (above ? node.into_bus : !node.into_bus);
      // drawn in the direction of the flow, so the moving dashes run the way the power does
      var y1 = down === false ? yBot : yTop, y2 = down === false ? yTop : yBot;
      var line = el("line", { x1: cx, y1: y1, x2: cx, y2: y2, "stroke-width": width.toFixed(1),
                              "class": "flow-link" + (kw > 0.5 && down !== null ? " live" : " idle") }, svg);
      line.setAttribute("data-link", node.id);
      if (kw > 0.5 && down !== null) {  // arrow head in the middle of the link, pointing the way power flows
        var my = (yTop + yBot) / 2, s = 5 + width / 2, dir = down ? 1 : -1;
        el("path", { d: "M" + (cx - s) + "," + (my - dir * s) + "L" + cx + "," + (my + dir * s) + "L" + (cx + s) + "," + (my - dir * s) + "Z",
                     "class": "flow-arrow", "data-arrow": node.id + (down ? "-down" : "-up") }, svg);
      }
    });
  }

  function render(container, model, fmtKw) {
    while (container.firstChild) container.removeChild(container.firstChild);
    W = Math.max(420, Math.round(container.clientWidth || 1000));
    var top = model.top, bottom = model.bottom;
    var h = BUS_Y * 2 - 20 + NODE_H / 2;
    var svg = el("svg", { viewBox: "0 0 " + W + " " + h, "class": "flow-svg", role: "img", "aria-label": model.bus }, container);
    var maxKw = Math.max.apply(null, top.concat(bottom).map(function (n) { return n.kw || 0; }).concat([1]));
    el("line", { x1: 20, y1: BUS_Y, x2: W - 20, y2: BUS_Y, "class": "flow-bus" }, svg);
    text(svg, 24, BUS_Y - 6, model.bus, "flow-bus-label").setAttribute("text-anchor", "start");
    row(top, 20, svg, maxKw, true, fmtKw);
    row(bottom, BUS_Y + 60, svg, maxKw, false, fmtKw);
    return svg;
  }

  window.MGFlow = { render: render };
})();
