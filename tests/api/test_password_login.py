"""Dashboard passwords: scrypt hashes in the store (upgraded from a v1 store), login with user name and
password into the same signed session as tokens, lockout per user and address, changing a password ends the
sessions opened with the old one, messages in both languages."""

from __future__ import annotations

import hashlib
import sqlite3

import httpx
import pytest
import sqlalchemy as sa

from api import Settings
from microgrid.errors import UserError
from microgrid.store import Store, passwords, schema
from tests.api.conftest import make_env, serving

PW = "Correct-horse-77"


@pytest.fixture
def cheap_hashes(monkeypatch):
    """Lower the scrypt cost for tests that hash many times (the stored string keeps its own cost)."""
    monkeypatch.setattr(passwords, "SCRYPT_N", 2**12)


def test_hash_format_cost_and_verification():
    stored = passwords.hash_password(PW)
    scheme, n, r, p, salt, digest = stored.split("$")
    assert (scheme, int(n), int(r), int(p)) == ("scrypt", 2**16, 8, 1) and len(bytes.fromhex(salt)) == 16
    # an independent computation of the same scrypt gives the stored digest
    assert hashlib.scrypt(PW.encode(), salt=bytes.fromhex(salt), n=2**16, r=8, p=1, dklen=32,
                          maxmem=2**27).hex() == digest
    assert PW not in stored and passwords.hash_password(PW) != stored  # salted
    assert passwords.verify_password(PW, stored)
    assert not passwords.verify_password(PW + "x", stored)
    assert not passwords.verify_password(PW, None) and not passwords.verify_password(PW, "md5$abc")
    assert not passwords.needs_rehash(stored) and passwords.needs_rehash(passwords.hash_password(PW, n=2**12))


@pytest.mark.parametrize(("password", "message"), [
    ("short", "password too short: use at least 10 characters"),
    ("x" * 257, "password too long"),
    (" padded-password ", "white space"),
    ("li.wei", "password too short"),
    ("LI.WEI.LI.WEI", "too easy to guess"),
    ("aaaaabbbbbaaaaa", "too easy to guess"),
])
def test_policy(password, message):
    with pytest.raises(UserError, match=message):
        passwords.check_policy(password, "li.wei.li.wei" if password.startswith("LI") else "li.wei")


def test_store_passwords_and_upgrade_from_a_v1_store(tmp_path, small_site, cheap_hashes):
    path = tmp_path / "s.sqlite"
    store = Store.open(f"sqlite:///{path}", site_id=small_site.id, timezone=small_site.timezone)
    store.create_user("li.wei", "operator")
    store.close()
    # make it the store an older release left behind: no password columns, schema version 1
    con = sqlite3.connect(path)
    con.execute("alter table users drop column password_hash")
    con.execute("alter table users drop column password_key")
    con.execute("delete from schema_migrations where version = 2")
    con.commit()
    con.close()
    store = Store.open(f"sqlite:///{path}", site_id=small_site.id, timezone=small_site.timezone)
    try:
        with store.engine.connect() as conn:
            assert schema.current_version(conn) == 2
        assert store.user("li.wei").has_password is False
        assert store.authenticate_password("li.wei", PW) is None  # no password yet
        assert store.set_password("li.wei", PW).has_password is True
        user, key = store.authenticate_password("li.wei", PW)
        assert user.name == "li.wei" and len(key) == 12
        assert store.authenticate_password("li.wei", PW.lower()) is None
        assert store.authenticate_password("nobody", PW) is None
        with store.engine.connect() as conn:
            stored = conn.execute(sa.text("select password_hash from users where name='li.wei'")).scalar()
        assert stored.startswith("scrypt$4096$") and PW not in stored
        store.set_password("li.wei", PW + "!")
        assert store.authenticate_password("li.wei", PW + "!")[1] != key  # a new password, a new key
        store.set_user_disabled("li.wei", True)
        assert store.authenticate_password("li.wei", PW + "!") is None
        with pytest.raises(UserError, match="no user named 'nobody'"):
            store.set_password("nobody", PW)
    finally:
        store.close()


def test_weak_hash_is_upgraded_on_login(tmp_path, small_site, monkeypatch):
    store = Store.open(f"sqlite:///{tmp_path / 's.sqlite'}", site_id=small_site.id, timezone=small_site.timezone)
    try:
        store.create_user("li.wei", "viewer")
        monkeypatch.setattr(passwords, "SCRYPT_N", 2**10)
        store.set_password("li.wei", PW)
        monkeypatch.setattr(passwords, "SCRYPT_N", 2**12)
        assert store.authenticate_password("li.wei", PW) is not None
        with store.engine.connect() as conn:
            assert conn.execute(sa.text("select password_hash from users")).scalar().startswith("scrypt$4096$")
    finally:
        store.close()


@pytest.fixture
def pw_env(tmp_path, small_site, cheap_hashes):
    env = make_env(tmp_path, small_site)
    env["store"].set_password("operator_user", PW)
    env["store"].set_password("viewer_user", "Viewer-pass-2026")
    yield env
    env["store"].close()


def test_password_login_opens_a_session_that_a_new_password_ends(pw_env):
    with serving(pw_env) as (url, clients), httpx.Client(base_url=url) as browser:
        r = browser.post("/api/v1/auth/login", json={"user": "operator_user", "password": PW})
        assert r.status_code == 200, r.text
        assert "HttpOnly" in r.headers["set-cookie"] and "SameSite=strict" in r.headers["set-cookie"]
        me = browser.get("/api/v1/auth/me").json()
        assert (me["user"], me["role"], me["auth"]) == ("operator_user", "operator", "session")
        csrf = r.json()["csrf_token"]
        body = {"value_kw": -30, "duration_min": 10}
        ok = browser.put("/api/v1/assets/bat_factory/override", json=body, headers={"X-CSRF-Token": csrf})
        assert ok.status_code == 200 and ok.json()["user"] == "operator_user"
        assert browser.delete("/api/v1/assets/bat_factory/override", headers={"X-CSRF-Token": csrf}).status_code == 204
        # the token still works for API clients, and a token session is not ended by a new password
        assert clients["operator"].get("/api/v1/auth/me").json()["auth"] == "bearer"
        with httpx.Client(base_url=url) as other:
            other.post("/api/v1/auth/login", json={"token": pw_env["tokens"]["operator"]}).raise_for_status()
            # the admin sets a new password (e.g. the operator forgot it): the password session ends at once
            admin = clients["admin"]
            assert admin.put("/api/v1/users/operator_user/password",
                             json={"password": "New-password-88"}).json()["has_password"] is True
            gone = browser.get("/api/v1/auth/me")
            assert gone.status_code == 401 and gone.json()["detail"] == "password changed or user removed: sign in again"
            assert other.get("/api/v1/auth/me").status_code == 200
        assert browser.post("/api/v1/auth/login", json={"user": "operator_user", "password": PW}).status_code == 401
        assert browser.post("/api/v1/auth/login",
                            json={"user": "operator_user", "password": "New-password-88"}).status_code == 200
        events = clients["admin"].get("/api/v1/events", params={"category": "api", "source_id": "operator_user"}).json()
        assert ("admin_user", "password_set") in [(e["user"], e["data"]["action"]) for e in events["items"]]
        assert PW not in str(events) and "New-password-88" not in str(events)


def test_change_own_password_and_bad_requests(pw_env):
    with serving(pw_env) as (url, clients), httpx.Client(base_url=url) as browser:
        r = browser.post("/api/v1/auth/login", json={"user": "viewer_user", "password": "Viewer-pass-2026"})
        csrf = r.json()["csrf_token"]
        wrong = browser.post("/api/v1/auth/password", headers={"X-CSRF-Token": csrf, "Accept-Language": "zh-CN"},
                             json={"current_password": "nope-nope-nope", "new_password": "Viewer-pass-2027"})
        assert wrong.status_code == 422 and wrong.json()["detail"].startswith("当前密码错误")
        weak = browser.post("/api/v1/auth/password", headers={"X-CSRF-Token": csrf},
                            json={"current_password": "Viewer-pass-2026", "new_password": "short"})
        assert weak.status_code == 422
        assert weak.json()["detail"] == "password too short: use at least 10 characters"
        weak = browser.post("/api/v1/auth/password", headers={"X-CSRF-Token": csrf, "Accept-Language": "zh-CN"},
                            json={"current_password": "Viewer-pass-2026", "new_password": "short"})
        assert weak.status_code == 422 and weak.json()["detail"] == "密码太短：至少使用 10 个字符"
        ok = browser.post("/api/v1/auth/password", headers={"X-CSRF-Token": csrf},
                          json={"current_password": "Viewer-pass-2026", "new_password": "Viewer-pass-2027"})
        assert ok.status_code == 200 and "mg_session=" in ok.headers["set-cookie"]  # cookie deleted
        assert browser.get("/api/v1/auth/me").status_code == 401
        assert browser.post("/api/v1/auth/login",
                            json={"user": "viewer_user", "password": "Viewer-pass-2027"}).status_code == 200
        for body in ({"user": "viewer_user"}, {"password": "x"}, {"user": "a", "password": "b", "token": "c"}, {}):
            assert httpx.post(f"{url}/api/v1/auth/login", json=body).status_code == 422, body
        zh = httpx.post(f"{url}/api/v1/auth/login", json={"user": "viewer_user", "password": "wrong-wrong"},
                        headers={"Accept-Language": "zh-CN,zh;q=0.9"})
        assert zh.status_code == 401 and zh.json()["detail"].startswith("用户名或密码错误")
        missing = clients["admin"].put("/api/v1/users/nobody/password", json={"password": PW})
        assert missing.status_code == 404


def test_lockout_per_address_like_tokens(tmp_path, small_site, cheap_hashes):
    """Failed password logins spend the address's buckets: once empty, even the right password waits (429 with
    Retry-After) from that address, while the same user signs in from another one (behind a trusted proxy
    here, so the test can be two clients)."""
    from api.proxies import parse_networks

    env = make_env(tmp_path, small_site)
    env["store"].set_password("operator_user", PW)
    settings = Settings.for_dev(auth_rate_per_min=1, auth_burst=4, trusted_proxies=parse_networks("127.0.0.1"))
    try:
        with serving(env, settings) as (url, _clients):
            def login(password, client_ip):
                return httpx.post(f"{url}/api/v1/auth/login", json={"user": "operator_user", "password": password},
                                  headers={"X-Forwarded-For": client_ip})

            assert [login(f"guess-{i}-xxxxx", "10.0.0.66").status_code for i in range(4)] == [401] * 4
            locked = login(PW, "10.0.0.66")
            assert locked.status_code == 429 and int(locked.headers["retry-after"]) >= 1
            assert login(PW, "10.0.0.7").status_code == 200
            # names nobody holds spend the address's bucket too (no way to tell users from non-users)
            assert [httpx.post(f"{url}/api/v1/auth/login", json={"user": f"ghost{i}", "password": "x" * 12},
                               headers={"X-Forwarded-For": "10.0.0.8"}).status_code for i in range(5)] == [401] * 4 + [429]
    finally:
        env["store"].close()
