/* Login page: exchange a token for a session cookie, then go where the user was heading. */
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("login-form"), err = document.getElementById("login-error");
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      err.textContent = "";
      MG.api("/api/v1/auth/login", { method: "POST", body: { token: document.getElementById("token").value.trim() }, noRedirect: true })
        .then(function () {
          var next = new URLSearchParams(window.location.search).get("next") || "/";
          if (!/^\/([^\/\\]|$)/.test(next)) next = "/";  // same-site paths only (no //host, no /\\host)
          window.location.href = next;
        })
        .catch(function (e) { err.textContent = MG.t("login.failed") + ": " + e.detail; });
    });
  });
})();
