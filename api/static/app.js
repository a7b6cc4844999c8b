/* Shared dashboard code: session, API calls (with the CSRF header on writes), header, formatting. */
(function () {
  "use strict";
  var MG = window.MG = window.MG || {};
  var state = { me: null, site: null, csrf: null };
  MG.state = state;

  function ApiError(status, detail, problems) {
    this.status = status; this.detail = detail; this.problems = problems || [];
    this.message = detail;
  }
  ApiError.prototype = Object.create(Error.prototype);
  MG.ApiError = ApiError;

  MG.api = function (path, options) {
    options = options || {};
    var method = (options.method || "GET").toUpperCase();
    var headers = { "Accept": "application/json", "Accept-Language": MG.acceptLanguage() };
    if (options.body !== undefined) headers["Content-Type"] = "application/json";
    if (method !== "GET" && state.csrf) headers["X-CSRF-Token"] = state.csrf;
    return fetch(path, {
      method: method, headers: headers, credentials: "same-origin",
      body: options.body !== undefined ? JSON.stringify(options.body) : undefined
    }).then(function (res) {
      if (res.status === 204) return null;
      return res.json().catch(function () { return {}; }).then(function (data) {
        if (res.status === 401 && !options.noRedirect) {
          window.location.href = "/login?next=" + encodeURIComponent(window.location.pathname);
        }
        if (!res.ok) throw new ApiError(res.status, data.detail || res.statusText, data.problems);
        return data;
      });
    }, function () { throw new ApiError(0, MG.t("err.network")); });
  };

  MG.banner = function (text) {
    var b = document.getElementById("banner");
    if (!b) return;
    if (text) { b.textContent = text; b.classList.remove("hidden"); } else { b.classList.add("hidden"); }
  };

  MG.fmtKw = function (v) { return v === null || v === undefined ? "–" : MGChart.fmt(v, Math.abs(v) >= 100 ? 0 : 1) + " kW"; };
  MG.fmtNum = function (v, d) { return MGChart.fmt(v, d); };
  MG.fmtPct = function (ratio) { return ratio === null || ratio === undefined ? "–" : (ratio * 100).toFixed(1) + " %"; };
  MG.siteTz = function () { return state.site ? state.site.timezone : "Asia/Shanghai"; };
  /* One date format per language, whatever the browser's locale: English 2026-07-15 (as the CLI, reports and
     API write days), Chinese 2026年7月15日; times 24 h, in the site's time zone. */
  MG.fmtDate = function (day) {
    var m = /^(\d{4})-(\d{2})-(\d{2})/.exec(day || "");
    if (!m) return "–";
    return MG.lang() === "zh" ? m[1] + "年" + (+m[2]) + "月" + (+m[3]) + "日" : m[1] + "-" + m[2] + "-" + m[3];
  };
  MG.fmtTime = function (iso, withDate) {
    if (!iso) return "–";
    var opts = { hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23", timeZone: MG.siteTz() };
    var time;
    try { time = new Intl.DateTimeFormat("en-GB", opts).format(new Date(iso)); } catch (e) { return iso; }
    return withDate ? MG.fmtDate(MG.localDay(iso)) + " " + time : time;
  };
  /* A native date input shows its value in the browser's format; show ours next to it instead: ‹ day › with
     the native picker opened by a click on the day. MG.showDay(input) after setting the value in code. */
  MG.dayPicker = function (input) {
    var wrap = document.createElement("span"), prev = document.createElement("button"), next = document.createElement("button");
    var label = document.createElement("button");
    wrap.className = "day-picker";
    [prev, label, next].forEach(function (b) { b.type = "button"; b.className = "btn-day"; });
    prev.textContent = "‹"; next.textContent = "›"; label.id = input.id + "-label"; label.className += " day-label";
    input.parentNode.insertBefore(wrap, input);
    wrap.appendChild(prev); wrap.appendChild(label); wrap.appendChild(input); wrap.appendChild(next);
    input.classList.add("day-native");
    function shift(days) {
      if (!input.value) return;
      var d = new Date(input.value + "T12:00:00Z");
      d.setUTCDate(d.getUTCDate() + days);
      input.value = d.toISOString().slice(0, 10);
      input.dispatchEvent(new Event("change"));
    }
    prev.addEventListener("click", function () { shift(-1); });
    next.addEventListener("click", function () { shift(1); });
    label.addEventListener("click", function () { if (input.showPicker) input.showPicker(); else input.focus(); });
    input.addEventListener("change", function () { MG.showDay(input); });
    document.addEventListener("mg:lang", function () { MG.showDay(input); });
    MG.showDay(input);
  };
  MG.showDay = function (input) {
    var label = document.getElementById(input.id + "-label");
    if (!label) return;
    label.textContent = MG.fmtDate(input.value);
    label.previousSibling.title = MG.t("day.prev");
    label.nextSibling.nextSibling.title = MG.t("day.next");
  };
  MG.localDay = function (iso) {
    var d = iso ? new Date(iso) : new Date();
    var parts = new Intl.DateTimeFormat("en-CA", { year: "numeric", month: "2-digit", day: "2-digit", timeZone: MG.siteTz() }).format(d);
    return parts; /* YYYY-MM-DD */
  };
  MG.label = function (obj) { return MG.lang() === "zh" && obj.name_zh ? obj.name_zh : obj.name; };
  MG.tenantName = function (id) {
    if (!state.site) return id || "";
    var t = state.site.tenants.filter(function (x) { return x.id === id; })[0];
    return t ? MG.label(t) : (id || (MG.lang() === "zh" ? "园区共享" : "shared"));
  };
  MG.badge = function (text, cls) {
    var span = document.createElement("span");
    span.className = "badge " + (cls || text);
    span.textContent = text;
    return span;
  };
  MG.cell = function (tr, content, cls) {
    var td = document.createElement("td");
    if (cls) td.className = cls;
    if (content instanceof Node) td.appendChild(content); else td.textContent = content === null || content === undefined ? "" : content;
    tr.appendChild(td);
    return td;
  };
  /* An alarm's text in the current language, decoded by its code (unknown codes: a generic text + code). */
  MG.alarmText = function (a) {
    var params = { device: a.source_id || "", code: a.code, detail: a.message || "" };
    var key = MG.has("alarm." + a.code) ? "alarm." + a.code : "alarm._unknown";
    return MG.t(key, null, params);
  };
  /* English keeps the controller's detailed message next to the decoded text. */
  MG.alarmDetail = function (a) { return MG.lang() === "zh" || !a.message ? "" : a.message; };
  MG.severity = function (s) { return MG.badge(MG.t("severity." + s, s), s); };
  MG.eventText = function (kind) { return MG.t("event." + kind, null, { kind: kind }) || kind; };
  MG.isOperator = function () { return state.me && (state.me.role === "operator" || state.me.role === "admin"); };

  var refreshers = [];
  /* Call fn now, on language change and every `seconds` (paused while the tab is hidden). */
  MG.every = function (seconds, fn) {
    refreshers.push(fn);
    fn();
    if (seconds) setInterval(function () { if (!document.hidden) fn(); }, seconds * 1000);
  };
  document.addEventListener("mg:lang", function () { refreshers.forEach(function (fn) { fn(); }); header(); });

  function header() {
    var site = document.getElementById("site-name");
    if (site && state.site) site.textContent = MG.label(state.site);
    var user = document.getElementById("user-badge");
    if (user && state.me) user.textContent = state.me.user + " · " + state.me.role;
    document.querySelectorAll(".operator-only").forEach(function (n) { n.classList.toggle("hidden", !MG.isOperator()); });
  }

  /* Active alarms on every page: a red strip under the header (link to the alarm list) and, when the
     controller runs "normal" with alarms active, a "degraded" mode badge. */
  MG.activeAlarms = [];
  function alarmStrip() {
    var strip = document.getElementById("alarm-strip");
    var items = MG.activeAlarms;
    if (!strip) return;
    if (!items.length) { strip.classList.add("hidden"); strip.textContent = ""; return; }
    var unack = items.filter(function (a) { return !a.acked_at; }).length;
    var worst = items.filter(function (a) { return !a.acked_at; })[0] || items[0];
    strip.textContent = "⚠ " + MG.t("alarms.header", null, { n: items.length }) +
      (unack ? " (" + MG.t("alarms.header_unack", null, { n: unack }) + ")" : "") + " · " + MG.alarmText(worst) +
      " · " + MG.t("alarms.show");
    strip.classList.toggle("unacked", unack > 0);
    strip.classList.remove("hidden");
  }
  function modeBadge() {
    var badge = document.getElementById("mode-badge");
    var l = MG.lastLive;
    if (!badge || !l) return;
    var degraded = l.mode === "normal" && MG.activeAlarms.length > 0;
    badge.className = "badge " + (degraded ? "degraded" : l.mode);
    badge.textContent = MG.t("mode." + l.mode, l.mode) + (degraded ? " · " + MG.t("mode.degraded") : "");
  }
  function alarms() {
    return MG.api("/api/v1/alarms?active=true&limit=200").then(function (page) {
      MG.activeAlarms = page.items;
      alarmStrip(); modeBadge();
      document.dispatchEvent(new CustomEvent("mg:alarms", { detail: page.items }));
    }).catch(function () { /* the live call reports connection problems */ });
  }

  function live() {
    return MG.api("/api/v1/live").then(function (l) {
      MG.lastLive = l;
      var clock = document.getElementById("clock");
      if (clock) clock.textContent = MG.fmtTime(l.at, true);
      modeBadge();
      document.dispatchEvent(new CustomEvent("mg:live", { detail: l }));
      return l;
    }).catch(function (e) { if (e.status !== 401) MG.banner(e.detail); });
  }
  MG.refreshAlarms = alarms;

  MG.ready = new Promise(function (resolve) {
    document.addEventListener("DOMContentLoaded", function () {
      var page = document.body.getAttribute("data-page");
      document.querySelectorAll("[data-nav]").forEach(function (a) { a.classList.toggle("active", a.getAttribute("data-nav") === page); });
      var logout = document.getElementById("logout");
      if (logout) logout.addEventListener("click", function () {
        MG.api("/api/v1/auth/logout", { method: "POST", noRedirect: true }).catch(function () {}).then(function () { window.location.href = "/login"; });
      });
      if (page === "login") { resolve(null); return; }
      Promise.all([MG.api("/api/v1/auth/me"), MG.api("/api/v1/site")]).then(function (r) {
        state.me = r[0]; state.site = r[1]; state.csrf = r[0].csrf_token;
        header();
        MG.every(5, live);
        MG.every(5, alarms);
        resolve(state);
      }).catch(function (e) { MG.banner(e.detail || String(e)); });
    });
  });
})();
