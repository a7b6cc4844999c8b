"""The auth matrix (anonymous / viewer / operator / admin / disabled on every route), sessions with CSRF,
rate limits on login and token routes, closed CORS and the security headers."""

from __future__ import annotations

import httpx
import pytest
from fastapi.routing import APIRoute

from api import Settings, create_app
from tests.api.conftest import serving

PUBLIC, VIEWER, OPERATOR, ADMIN = 0, 1, 2, 3
RANK = {"anonymous": 0, "disabled": 0, "viewer": 1, "operator": 2, "admin": 3}

# (method, route template, minimum role, concrete path, JSON body)
ROUTES = [
    ("GET", "/health", PUBLIC, "/health", None),
    ("POST", "/api/v1/auth/login", PUBLIC, "/api/v1/auth/login", "LOGIN"),
    ("POST", "/api/v1/auth/logout", VIEWER, "/api/v1/auth/logout", None),
    ("GET", "/api/v1/auth/me", VIEWER, "/api/v1/auth/me", None),
    ("GET", "/api/v1/users", ADMIN, "/api/v1/users", None),
    ("POST", "/api/v1/users", ADMIN, "/api/v1/users", "NEWUSER"),
    ("PATCH", "/api/v1/users/{name}", ADMIN, "/api/v1/users/target_user", {"role": "viewer"}),
    ("POST", "/api/v1/users/{name}/token", ADMIN, "/api/v1/users/target_user/token", None),
    ("PUT", "/api/v1/users/{name}/password", ADMIN, "/api/v1/users/target_user/password",
     {"password": "target-pass-2026"}),
    ("POST", "/api/v1/auth/password", VIEWER, "/api/v1/auth/password",
     {"current_password": "not-the-password", "new_password": "another-pass-2026"}),
    ("GET", "/api/v1/site", VIEWER, "/api/v1/site", None),
    ("GET", "/api/v1/site/topology", VIEWER, "/api/v1/site/topology", None),
    ("GET", "/api/v1/live", VIEWER, "/api/v1/live", None),
    ("GET", "/api/v1/assets", VIEWER, "/api/v1/assets", None),
    ("GET", "/api/v1/assets/{asset_id}", VIEWER, "/api/v1/assets/bat_factory", None),
    ("GET", "/api/v1/overrides", VIEWER, "/api/v1/overrides", None),
    ("GET", "/api/v1/dr-events", VIEWER, "/api/v1/dr-events", None),
    ("POST", "/api/v1/dr-events", OPERATOR, "/api/v1/dr-events",
     {"id": "matrix_dr", "start": "2025-07-16T18:00:00+08:00", "end": "2025-07-16T19:00:00+08:00",
      "max_import_kw": 300}),
    ("DELETE", "/api/v1/dr-events/{event_id}", OPERATOR, "/api/v1/dr-events/matrix_dr", None),
    ("GET", "/api/v1/dr-settlements", VIEWER, "/api/v1/dr-settlements?from=2025-07-16&to=2025-07-16", None),
    ("PUT", "/api/v1/assets/{asset_id}/override", OPERATOR, "/api/v1/assets/bat_factory/override",
     {"value_kw": -20, "duration_min": 5, "reason": "matrix"}),
    ("DELETE", "/api/v1/assets/{asset_id}/override", OPERATOR, "/api/v1/assets/bat_factory/override", None),
    ("GET", "/api/v1/schedules/current", VIEWER, "/api/v1/schedules/current", None),
    ("GET", "/api/v1/schedules/current/kpis", VIEWER, "/api/v1/schedules/current/kpis", None),
    ("GET", "/api/v1/schedules", VIEWER, "/api/v1/schedules?day=2025-07-16", None),
    ("GET", "/api/v1/schedules/day/{day}", VIEWER, "/api/v1/schedules/day/2025-07-16", None),
    ("GET", "/api/v1/schedules/versions/{schedule_id}", VIEWER, "/api/v1/schedules/versions/1", None),
    ("GET", "/api/v1/schedules/versions/{schedule_id}/kpis", VIEWER, "/api/v1/schedules/versions/1/kpis", None),
    ("POST", "/api/v1/schedules/replan", OPERATOR, "/api/v1/schedules/replan", {"reason": "matrix"}),
    ("GET", "/api/v1/plan-vs-actual", VIEWER, "/api/v1/plan-vs-actual", None),
    ("GET", "/api/v1/green", VIEWER, "/api/v1/green", None),
    ("GET", "/api/v1/telemetry", VIEWER, "/api/v1/telemetry", None),
    ("GET", "/api/v1/telemetry/{source_id}", VIEWER, "/api/v1/telemetry/meter_pcc", None),
    ("GET", "/api/v1/events", VIEWER, "/api/v1/events", None),
    ("GET", "/api/v1/alarms", VIEWER, "/api/v1/alarms", None),
    ("POST", "/api/v1/alarms/{alarm_id}/acknowledge", OPERATOR, "/api/v1/alarms/1/acknowledge", {"comment": "seen"}),
    ("GET", "/api/v1/audit/setpoints", VIEWER, "/api/v1/audit/setpoints", None),
    ("GET", "/api/v1/reports", VIEWER, "/api/v1/reports?from=2025-07-16&to=2025-07-16", None),
    ("GET", "/metrics", VIEWER, "/metrics", None),
    ("GET", "/api/v1/openapi.json", VIEWER, "/api/v1/openapi.json", None),
    ("GET", "/", VIEWER, "/", None),
    ("GET", "/plan", VIEWER, "/plan", None),
    ("GET", "/green", VIEWER, "/green", None),
    ("GET", "/events", VIEWER, "/events", None),
    ("GET", "/control", OPERATOR, "/control", None),
    ("GET", "/login", PUBLIC, "/login", None),
    ("GET", "/i18n/catalogue.js", PUBLIC, "/i18n/catalogue.js", None),
]
PAGES = {"/", "/plan", "/green", "/events", "/control"}


@pytest.fixture(scope="module")
def matrix_env(write_env):
    write_env["store"].create_user("target_user", "viewer")
    return write_env


def _flat_routes(routes):
    """Routes of an app, with included routers expanded (FastAPI keeps them as one entry each)."""
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from _flat_routes(inner.routes)
        else:
            yield route


def test_matrix_covers_every_route(matrix_env):
    app = create_app(Settings.for_dev(), matrix_env["store"], matrix_env["control"], matrix_env["site"])
    served = set()
    for route in _flat_routes(app.routes):
        methods = getattr(route, "methods", None)
        if methods is None:  # the /static mount: public files, no data
            assert route.path == "/static"
            continue
        served |= {(m, route.path) for m in methods if m != "HEAD"}
    assert served == {(m, p) for m, p, *_ in ROUTES}
    api_routes = [r for r in _flat_routes(app.routes) if getattr(r, "path", "").startswith("/api/")]
    assert api_routes and all(isinstance(r, APIRoute) for r in api_routes)


@pytest.mark.parametrize("who", ["anonymous", "disabled", "viewer", "operator", "admin"])
def test_auth_matrix(matrix_env, who):
    c = matrix_env["clients"][who]
    for n, (method, template, needed, path, body) in enumerate(ROUTES):
        if body == "LOGIN":
            body = {"token": matrix_env["tokens"]["viewer"]}
        elif body == "NEWUSER":
            body = {"name": f"new_{who}_{n}", "role": "viewer"}
        r = c.request(method, path, json=body, follow_redirects=False)
        c.cookies.clear()  # the login row sets a session cookie: keep testing the bearer token alone
        where = f"{who} {method} {template}: {r.status_code} {r.text[:120]}"
        if RANK[who] >= needed:
            assert r.status_code not in (401, 403) and r.status_code < 500, where
            if method == "GET" and template not in PAGES:
                assert r.status_code == 200, where
        elif who in ("anonymous", "disabled"):
            if template in PAGES:
                assert r.status_code == 303 and r.headers["location"] == f"/login?next={path}", where
            else:
                assert r.status_code == 401, where
                assert r.headers["www-authenticate"] == "Bearer", where
                if who == "disabled":
                    assert "disabled" in r.json()["detail"], where
        else:
            assert r.status_code == 403, where
            if template not in PAGES:
                assert "may not do this" in r.json()["detail"], where


def test_unauthenticated_write_with_bad_body_is_401_not_422(matrix_env):
    r = matrix_env["clients"]["anonymous"].put("/api/v1/assets/bat_factory/override", json={"value_kw": "x"})
    assert r.status_code == 401


def test_bad_tokens(matrix_env):
    url = matrix_env["url"]
    good = matrix_env["tokens"]["viewer"]
    for token, detail in [("nonsense", "malformed token"), (good[:-3] + "AAA", "unknown, rotated or disabled"),
                          ("mgs_AAAAAAAAAAAA_" + "B" * 43, "unknown, rotated or disabled")]:
        r = httpx.get(f"{url}/api/v1/site", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 401 and r.json()["detail"].startswith(detail)
    r = httpx.get(f"{url}/api/v1/site", headers={"Authorization": f"Basic {good}"})
    assert r.status_code == 401


def test_rotation_and_disable_take_effect_at_once(matrix_env):
    store, url = matrix_env["store"], matrix_env["url"]
    _user, token = store.create_user("rotated_user", "operator")
    assert httpx.get(f"{url}/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    new = store.rotate_token("rotated_user")  # e.g. `microgrid users rotate` in another process
    r = httpx.get(f"{url}/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401  # although the old token was cached as verified
    assert httpx.get(f"{url}/api/v1/auth/me", headers={"Authorization": f"Bearer {new}"}).json()["role"] == "operator"
    store.set_user_disabled("rotated_user", True)
    assert httpx.get(f"{url}/api/v1/auth/me", headers={"Authorization": f"Bearer {new}"}).status_code == 401


def test_admin_user_management(matrix_env):
    admin = matrix_env["clients"]["admin"]
    created = admin.post("/api/v1/users", json={"name": "zhang.san", "role": "operator"})
    assert created.status_code == 201 and created.json()["role"] == "operator"
    token = created.json()["token"]
    me = httpx.get(f"{matrix_env['url']}/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"}).json()
    assert me == {"user": "zhang.san", "role": "operator", "auth": "bearer", "csrf_token": None,
                  "session_expires_at": None}
    assert created.json().get("has_password") is None  # TokenIssued: the token only
    assert admin.post("/api/v1/users", json={"name": "zhang.san"}).status_code == 409
    bad = admin.post("/api/v1/users", json={"name": "no spaces", "role": "boss"})
    assert bad.status_code == 422 and {p.split(":")[0] for p in bad.json()["problems"]} == {"body.name", "body.role"}
    assert admin.patch("/api/v1/users/zhang.san", json={"disabled": True}).json()["disabled"] is True
    assert admin.patch("/api/v1/users/admin_user", json={"disabled": True}).status_code == 409
    assert admin.patch("/api/v1/users/nobody", json={"disabled": True}).status_code == 404
    events = admin.get("/api/v1/events", params={"category": "api", "source_id": "zhang.san"}).json()["items"]
    assert [(e["user"], e["data"]["action"]) for e in events] == [("admin_user", "user_update"),
                                                                   ("admin_user", "user_add")]


def test_session_login_csrf_and_logout(matrix_env):
    url, token = matrix_env["url"], matrix_env["tokens"]["operator"]
    with httpx.Client(base_url=url) as browser:
        assert browser.get("/", follow_redirects=False).status_code == 303
        r = browser.post("/api/v1/auth/login", json={"token": token})
        assert r.status_code == 200
        cookie = r.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "mg_session=" in cookie
        csrf = r.json()["csrf_token"]
        assert browser.get("/").status_code == 200
        assert browser.get("/api/v1/auth/me").json()["csrf_token"] == csrf
        body = {"value_kw": -30, "duration_min": 10}
        no_csrf = browser.put("/api/v1/assets/bat_factory/override", json=body)
        assert no_csrf.status_code == 403 and "X-CSRF-Token" in no_csrf.json()["detail"]
        ok = browser.put("/api/v1/assets/bat_factory/override", json=body, headers={"X-CSRF-Token": csrf})
        assert ok.status_code == 200 and ok.json()["user"] == "operator_user"
        assert browser.delete("/api/v1/assets/bat_factory/override", headers={"X-CSRF-Token": csrf}).status_code == 204
        assert browser.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf}).status_code == 204
        assert browser.get("/api/v1/auth/me").status_code == 401
    r = httpx.post(f"{url}/api/v1/auth/login", json={"token": "mgs_AAAAAAAAAAAA_" + "B" * 43})
    assert r.status_code == 401
    forged = httpx.get(f"{url}/api/v1/auth/me", cookies={"mg_session": "e30.AAAA"})
    assert forged.status_code == 401 and forged.json()["detail"].startswith("session expired or invalid")


def test_rate_limits_on_login_and_token_routes(tmp_path, small_site):
    from tests.api.conftest import make_env

    env = make_env(tmp_path, small_site)
    settings = Settings.for_dev(auth_rate_per_min=1, auth_burst=3)
    with serving(env, settings) as (url, clients):
        token = env["tokens"]["viewer"]
        codes = [httpx.post(f"{url}/api/v1/auth/login", json={"token": token}).status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        r = httpx.post(f"{url}/api/v1/auth/login", json={"token": token})
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
        assert r.json()["detail"].startswith("too many login or token requests")
        # other routes are not limited; failed authentications have their own bucket per address
        assert clients["viewer"].get("/api/v1/site").status_code == 200
        wrong = {"Authorization": "Bearer mgs_AAAAAAAAAAAA_" + "B" * 43}
        codes = [httpx.get(f"{url}/api/v1/site", headers=wrong).status_code for _ in range(4)]
        assert codes == [401, 401, 401, 429]
        forged = httpx.get(f"{url}/api/v1/site", cookies={"mg_session": "e30.AAAA"})
        assert forged.status_code == 429
        # valid tokens still work from the throttled address, verified before or not (their keys have their
        # own buckets); guesses of random tokens keep waiting
        assert clients["viewer"].get("/api/v1/site").status_code == 200
        assert clients["operator"].get("/api/v1/site").status_code == 200
        assert httpx.get(f"{url}/api/v1/site", headers=wrong).status_code == 429
    env["store"].close()


def test_cors_closed_by_default_and_explicit_when_configured(tmp_path, small_site, matrix_env):
    pre = {"Origin": "https://evil.example", "Access-Control-Request-Method": "GET",
           "Access-Control-Request-Headers": "authorization"}
    r = httpx.options(f"{matrix_env['url']}/api/v1/site", headers=pre)
    assert "access-control-allow-origin" not in r.headers
    r = matrix_env["clients"]["viewer"].get("/api/v1/site", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in r.headers
    settings = Settings.for_dev(cors_origins=("https://ops.example.cn",))
    with serving(matrix_env, settings) as (url, _clients):
        ok = httpx.options(f"{url}/api/v1/site", headers={**pre, "Origin": "https://ops.example.cn"})
        assert ok.headers["access-control-allow-origin"] == "https://ops.example.cn"
        evil = httpx.options(f"{url}/api/v1/site", headers=pre)
        assert "access-control-allow-origin" not in evil.headers


def test_security_headers(matrix_env):
    r = matrix_env["clients"]["viewer"].get("/api/v1/site")
    assert r.headers["cache-control"] == "no-store" and r.headers["x-content-type-options"] == "nosniff"
    page = matrix_env["clients"]["anonymous"].get("/login")
    csp = page.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "https://" not in page.text  # nothing from a CDN
    for asset in ("/static/chart.js", "/static/app.js", "/static/i18n.js", "/static/style.css",
                  "/static/pages/overview.js", "/static/pages/control.js"):
        r = matrix_env["clients"]["anonymous"].get(asset)  # code only, no data: public
        assert r.status_code == 200 and "https://" not in r.text, asset
