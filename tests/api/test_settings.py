"""Settings refuse missing, default or short secrets and open CORS outside dev mode; dev mode says what it relaxed."""

from __future__ import annotations

import pytest

from api import InsecureSettingsError, Settings, create_app
from microgrid.cli import main

GOOD = "k3FmSZJxf5s27hqnImfXPL32riPfrxeQEjA7"


def test_production_settings_from_env():
    s = Settings.from_env({"MICROGRID_SECRET": GOOD, "MICROGRID_CORS_ORIGINS": "https://ops.example.cn"})
    assert not s.dev and s.cookie_secure and s.cors_origins == ("https://ops.example.cn",)


@pytest.mark.parametrize(("env", "fragment"), [
    ({}, "MICROGRID_SECRET is not set"),
    ({"MICROGRID_SECRET": "changethis"}, "well-known default"),
    ({"MICROGRID_SECRET": "secretsecretsecretsecretsecretsecret"}, "well-known default"),
    ({"MICROGRID_SECRET": "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}, "well-known default"),
    ({"MICROGRID_SECRET": "Xy7-short-but-random"}, "characters long: use at least 32"),
    ({"MICROGRID_SECRET": GOOD, "MICROGRID_CORS_ORIGINS": "*"}, "contains '*'"),
    ({"MICROGRID_SECRET": GOOD, "MICROGRID_COOKIE_SECURE": "0"}, "MICROGRID_COOKIE_SECURE is off"),
])
def test_insecure_settings_refused_outside_dev(env, fragment):
    with pytest.raises(InsecureSettingsError) as err:
        Settings.from_env(env)
    assert err.value.message.startswith("refusing to start with insecure settings")
    assert any(fragment in p for p in err.value.problems), err.value.problems


def test_dev_mode_generates_a_secret_and_allows_http_cookies():
    s = Settings.from_env({"MICROGRID_DEV": "1"})
    assert s.dev and s.generated_secret and len(s.secret.get_secret_value()) >= 32 and not s.cookie_secure


def test_bad_number_names_the_variable():
    with pytest.raises(InsecureSettingsError) as err:
        Settings.from_env({"MICROGRID_SECRET": GOOD, "MICROGRID_SESSION_TTL_S": "ten"})
    assert err.value.problems[0].startswith("MICROGRID_SESSION_TTL_S:")


def test_create_app_refuses_insecure_settings(api_env):
    weak = Settings(secret="changethis")
    with pytest.raises(InsecureSettingsError):
        create_app(weak, api_env["store"], api_env["control"], api_env["site"])


def test_users_cli_round_trip(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("MICROGRID_STORE_URL", raising=False)
    url = f"sqlite:///{tmp_path / 'users.sqlite'}"
    assert main(["users", "add", "li.wei", "--role", "operator", "--store", url]) == 0
    token = capsys.readouterr().out.splitlines()[1]
    assert token.startswith("mgs_")
    assert main(["users", "--store", url, "add", "li.wei"]) == 2
    assert "already exists" in capsys.readouterr().err
    assert main(["users", "--store", url, "list"]) == 0
    listing = capsys.readouterr().out
    assert "li.wei" in listing and "operator" in listing and token not in listing
    from microgrid.cli.users import open_users

    users = open_users(url)
    try:
        assert users.authenticate(token).name == "li.wei"
        assert main(["users", "--store", url, "disable", "li.wei"]) == 0
        assert users.authenticate(token) is None
        assert main(["users", "--store", url, "enable", "li.wei"]) == 0
        assert main(["users", "--store", url, "rotate", "li.wei"]) == 0
        new = capsys.readouterr().out.splitlines()[-1]
        assert users.authenticate(token) is None and users.authenticate(new).name == "li.wei"
        assert main(["users", "--store", url, "role", "li.wei", "admin"]) == 0
        assert users.user("li.wei").role == "admin"
    finally:
        users.close()
    monkeypatch.setenv("MICROGRID_DATA_DIR", str(tmp_path / "var"))
    assert main(["users", "list"]) == 2
    assert "no site store in" in capsys.readouterr().err


def test_users_add_finds_the_one_site_store_like_run(tmp_path, capsys, monkeypatch):
    """README: `microgrid users add NAME --role operator` with no store argument on a one-park machine."""
    from microgrid.store import Store

    monkeypatch.delenv("MICROGRID_STORE_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MICROGRID_DATA_DIR", raising=False)
    Store.open("sqlite:///var/park_a.sqlite", site_id="park_a", timezone="Asia/Shanghai").close()  # as `run` makes it
    assert main(["users", "add", "li.wei", "--role", "operator"]) == 0
    assert capsys.readouterr().out.splitlines()[1].startswith("mgs_")
    assert main(["users", "list", "--store", "sqlite:///var/park_a.sqlite"]) == 0
    assert "li.wei" in capsys.readouterr().out
    Store.open("sqlite:///var/park_b.sqlite", site_id="park_b", timezone="Asia/Shanghai").close()
    assert main(["users", "add", "wang.fang"]) == 2
    err = capsys.readouterr().err
    assert "2 site stores in var/ (park_a.sqlite, park_b.sqlite)" in err and "--site PATH" in err


def test_demo_user_token_is_fresh_each_time(tmp_path):
    from api.serve import demo_password, ensure_demo_user
    from microgrid.store import Store

    store = Store.open(f"sqlite:///{tmp_path / 'demo.sqlite'}", site_id="demo_site")
    try:
        first = ensure_demo_user(store)
        assert store.authenticate(first).role == "operator"
        store.set_user_disabled("demo", True)
        second = ensure_demo_user(store)  # re-enabled, new token; the old one stops working
        assert store.authenticate(first) is None and store.authenticate(second).name == "demo"
        one, two = demo_password(store), demo_password(store)
        assert len(one) >= 16 and store.authenticate_password("demo", one) is None
        assert store.authenticate_password("demo", two)[0].role == "operator"
    finally:
        store.close()


def test_token_bucket_refills_at_its_rate():
    from api.ratelimit import RateLimiter

    now = [0.0]
    limiter = RateLimiter(rate_per_min=6, burst=2, clock=lambda: now[0])  # one token every 10 s
    assert [limiter.take("10.0.0.1") for _ in range(2)] == [0.0, 0.0]
    assert limiter.take("10.0.0.1") == pytest.approx(10.0)
    assert limiter.check("10.0.0.2") == 0.0 and limiter.take("10.0.0.2") == 0.0  # per address
    now[0] = 5.0
    assert limiter.check("10.0.0.1") == pytest.approx(5.0)
    now[0] = 10.0
    assert limiter.take("10.0.0.1") == 0.0
    now[0] = 1000.0
    assert [limiter.take("10.0.0.1") for _ in range(3)] == [0.0, 0.0, pytest.approx(10.0)]  # at most the burst
