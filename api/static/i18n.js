/* Bilingual labels (English / 中文). Elements with data-i18n="key" get their text from the catalogue;
   MG.t(key, fallback, params) returns the text in the current language with {name} placeholders filled.
   The choice is kept in localStorage and sent to the API as Accept-Language. */
(function () {
  "use strict";
  /* The product's one message catalogue (microgrid/i18n/*.json), put into the page by the server. */
  var CAT = window.MG_CATALOGUE || { en: {}, "zh-CN": {} };

  var KEY = "mg.lang";
  function initial() {
    try { var saved = localStorage.getItem(KEY); if (saved === "zh" || saved === "en") return saved; } catch (e) { /* private mode */ }
    return (navigator.language || "").toLowerCase().indexOf("zh") === 0 ? "zh" : "en";
  }
  var lang = initial();
  function t(key, fallback, params) {
    var text = (lang === "zh" ? CAT["zh-CN"] : CAT.en)[key];
    if (text === undefined) text = CAT.en[key];
    if (text === undefined) return fallback !== undefined && fallback !== null ? fallback : key;
    if (params) text = text.replace(/\{(\w+)\}/g, function (m, name) { return params[name] !== undefined ? params[name] : m; });
    return text;
  }
  function apply(root) {
    (root || document).querySelectorAll("[data-i18n]").forEach(function (el) {
      el.textContent = t(el.getAttribute("data-i18n"), el.textContent);
    });
    document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
    var btn = document.getElementById("lang-toggle");
    if (btn) { btn.textContent = lang === "zh" ? "English" : "中文"; btn.lang = lang === "zh" ? "en" : "zh-CN"; }
  }
  function setLang(value) {
    lang = value;
    try { localStorage.setItem(KEY, value); } catch (e) { /* ignore */ }
    apply();
    document.dispatchEvent(new CustomEvent("mg:lang", { detail: value }));
  }
  window.MG = window.MG || {};
  window.MG.t = t;
  window.MG.lang = function () { return lang; };
  window.MG.has = function (key) { return CAT.en[key] !== undefined; };
  window.MG.acceptLanguage = function () { return lang === "zh" ? "zh-CN" : "en"; };
  window.MG.setLang = setLang;
  window.MG.applyI18n = apply;
  document.addEventListener("DOMContentLoaded", function () {
    apply();
    var btn = document.getElementById("lang-toggle");
    if (btn) btn.addEventListener("click", function () { setLang(lang === "zh" ? "en" : "zh"); });
  });
})();
