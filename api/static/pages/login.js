/* Login page: a user name and password (or, under "API token", a token) for a session cookie, then go where
   the user was heading. */
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("login-form"), err = document.getElementById("login-error");
    var box = document.getElementById("token-box");
    var user = document.getElementById("user"), password = document.getElementById("password");
    function needs() { user.required = password.required = !box.open; }  // a token replaces both
    box.addEventListener("toggle", needs);
    needs();
    user.focus();
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      err.textContent = "";
      var token = document.getElementById("token").value.trim();
      var body = box.open && token ? { token: token }
        : { user: user.value.trim(), password: password.value };
      MG.api("/api/v1/auth/login", { method: "POST", body: body, noRedirect: true })
        .then(function () {
          var next = new URLSearchParams(window.location.search).get("next") || "/";
          if (!/^\/([^\/\\]|$)/.test(next)) next = "/";  // same-site paths only (no //host, no /\\host)
          window.location.href = next;
        })
        .catch(function (e) { err.textContent = MG.t("login.failed") + ": " + e.detail; });
    });
  });
})();
