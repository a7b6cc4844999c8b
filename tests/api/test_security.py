"""Security edges: forwarded headers only from configured proxies, dev mode on loopback only, strict JSON
types with the constraints in the OpenAPI schema, and a lockout that spares valid tokens."""

from __future__ import annotations

import asyncio
import secrets

import httpx
import pytest

from api import Settings
from api.proxies import client_address, parse_networks
from api.security import token_key
from api.settings import InsecureSettingsError, check_bind
from tests.api.conftest import make_env, serving

SECRET = "k" + secrets.token_urlsafe(40)
LOCAL = parse_networks("127.0.0.1")


@pytest.mark.parametrize(("peer", "header", "trusted", "expected"), [
    ("127.0.0.1", "203.0.113.9", "", "127.0.0.1"),  # nothing trusted by default, loopback included
    ("198.51.100.7", "203.0.113.9", "127.0.0.1", "198.51.100.7"),  # header from a peer that is no proxy
    ("127.0.0.1", "203.0.113.9", "127.0.0.1", "203.0.113.9"),
    ("127.0.0.1", "1.1.1.1, 203.0.113.9", "127.0.0.1", "203.0.113.9"),  # the client cannot prepend a lie
    ("10.0.0.2", "203.0.113.9, 10.0.0.3", "10.0.0.0/24", "203.0.113.9"),  # chain of trusted proxies
    ("127.0.0.1", "not-an-ip", "127.0.0.1", "127.0.0.1"),  # garbage: keyed by the proxy, never by the text
    ("::ffff:127.0.0.1", "2001:db8::5", "127.0.0.1", "2001:db8::5"),  # v4-mapped peer
    ("127.0.0.1", None, "127.0.0.1", "127.0.0.1"),
])
def test_client_address_honours_forwarded_for_only_from_configured_proxies(peer, header, trusted, expected):
    assert client_address(peer, header, parse_networks(trusted)) == expected


def test_trust_proxy_setting_lists_addresses_and_refuses_trust_everyone():
    env = {"MICROGRID_SECRET": SECRET}
    assert Settings.from_env(env).trusted_proxies == ()
    listed = Settings.from_env({**env, "MICROGRID_TRUST_PROXY": "10.0.0.5, 10.1.0.0/24"}).trusted_proxies
    assert [str(n) for n in listed] == ["10.0.0.5/32", "10.1.0.0/24"]
    for value, words in (("1", "would trust X-Forwarded-For from anyone"), ("proxy.local", "not an IP address")):
        with pytest.raises(InsecureSettingsError) as exc:
            Settings.from_env({**env, "MICROGRID_TRUST_PROXY": value})
        assert words in exc.value.problems[0]


def _guess() -> dict[str, str]:
    return {"Authorization": f"Bearer mgs_{secrets.token_urlsafe(9)[:12]}_{secrets.token_urlsafe(32)}"}


def test_rotating_forwarded_for_does_not_escape_the_lockout_and_valid_tokens_still_work(tmp_path, small_site):
    env = make_env(tmp_path, small_site)
    with serving(env, Settings.for_dev(auth_rate_per_min=1, auth_burst=3)) as (url, _clients):
        codes = [httpx.get(f"{url}/api/v1/site", headers={**_guess(), "X-Forwarded-For": f"203.0.113.{i}"})
                 .status_code for i in range(6)]
        assert codes == [401, 401, 401, 429, 429, 429]
        # tokens never used before (not in the verified cache) work from the locked-out address
        for role in ("viewer", "operator"):
            r = httpx.get(f"{url}/api/v1/site", headers={"Authorization": f"Bearer {env['tokens'][role]}"})
            assert r.status_code == 200, r.text
        # guessing the secret of a real token's key locks that key from this address, not the holder elsewhere
        key = token_key(env["tokens"]["admin"])  # by position: the url-safe key may itself contain "_"
        wrong = {"Authorization": f"Bearer mgs_{key}_{secrets.token_urlsafe(32)}"}
        assert [httpx.get(f"{url}/api/v1/site", headers=wrong).status_code for _ in range(4)] == [401, 401, 401, 429]
    with serving(env, Settings.for_dev(auth_rate_per_min=1, auth_burst=3, trusted_proxies=LOCAL)) as (url, _c):
        # behind a configured proxy every forwarded client has its own bucket
        codes = [httpx.get(f"{url}/api/v1/site", headers={**_guess(), "X-Forwarded-For": f"203.0.113.{i}"})
                 .status_code for i in range(6)]
        assert codes == [401] * 6
        same = [httpx.get(f"{url}/api/v1/site", headers={**_guess(), "X-Forwarded-For": "198.51.100.1"})
                .status_code for _ in range(4)]
        assert same == [401, 401, 401, 429]
    env["store"].close()


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.10", "park-controller.local"])
def test_dev_mode_refuses_any_non_loopback_bind(host, tmp_path, small_site):
    with pytest.raises(InsecureSettingsError, match="MICROGRID_DEV=1 serves on loopback only"):
        check_bind(host, dev=True)
    check_bind(host, dev=False)  # production settings may listen on the network
    for loopback in ("127.0.0.1", "127.0.0.2", "::1", "localhost"):
        check_bind(loopback, dev=True)


def test_start_server_refuses_dev_mode_on_all_interfaces_before_listening(tmp_path, small_site):
    from api import create_app
    from api.serve import start_server

    env = make_env(tmp_path, small_site)
    app = create_app(Settings.for_dev(), env["store"], env["control"], env["site"])
    with pytest.raises(InsecureSettingsError):
        asyncio.run(start_server(app, host="0.0.0.0", port=0))
    env["store"].close()


OVERRIDE = "/api/v1/assets/bat_factory/override"


@pytest.fixture(scope="module")
def sec_env(write_env):
    write_env["store"].create_user("target_user", "viewer")
    return write_env


@pytest.mark.parametrize(("method", "path", "body", "field"), [
    ("put", OVERRIDE, {"value_kw": True, "duration_min": 5}, "body.value_kw"),
    ("put", OVERRIDE, {"value_kw": "100", "duration_min": 5}, "body.value_kw"),
    ("put", OVERRIDE, {"value_kw": 100, "duration_min": "5"}, "body.duration_min"),
    ("put", OVERRIDE, {"value_kw": 100, "duration_min": 5, "reason": 7}, "body.reason"),
    ("patch", "/api/v1/users/target_user", {"disabled": 0}, "body.disabled"),
    ("patch", "/api/v1/users/target_user", {"disabled": "true"}, "body.disabled"),
    ("patch", "/api/v1/users/target_user", {"role": 1}, "body.role"),
    ("post", "/api/v1/alarms/1/acknowledge", {"comment": 5}, "body.comment"),
    ("post", "/api/v1/schedules/replan", {"reason": False}, "body.reason"),
    ("post", "/api/v1/auth/login", {"token": 12345}, "body.token"),
])
def test_request_bodies_are_strictly_typed(sec_env, method, path, body, field):
    r = getattr(sec_env["clients"]["admin"], method)(path, json=body)
    assert r.status_code == 422, r.text
    assert r.json()["problems"][0].startswith(f"{field}: ")
    assert sec_env["store"].user("target_user").disabled is False


def test_well_typed_bodies_still_pass(sec_env):
    admin, operator = sec_env["clients"]["admin"], sec_env["clients"]["operator"]
    assert admin.patch("/api/v1/users/target_user", json={"role": "operator"}).json()["role"] == "operator"
    assert admin.patch("/api/v1/users/target_user", json={"role": "viewer", "disabled": False}).status_code == 200
    r = operator.put(OVERRIDE, json={"value_kw": -100, "duration_min": 5})  # ints are numbers
    assert r.status_code == 200, r.text
    assert operator.delete(OVERRIDE).status_code == 204


def test_openapi_schema_states_the_constraints_the_api_checks(sec_env, small_site):
    schema = sec_env["clients"]["viewer"].get("/api/v1/openapi.json").json()
    body = schema["components"]["schemas"]["OverrideRequest"]
    value, duration = body["properties"]["value_kw"], body["properties"]["duration_min"]
    battery = small_site.assets.batteries[0]
    assert value["type"] == "number" and value["minimum"] == -battery.p_charge_max_kw
    assert value["maximum"] >= battery.p_discharge_max_kw
    assert duration["exclusiveMinimum"] == 0 and duration["maximum"] == 24 * 60
    assert body["additionalProperties"] is False and body["required"] == ["value_kw", "duration_min"]
    put = schema["paths"]["/api/v1/assets/{asset_id}/override"]["put"]
    ids = next(p for p in put["parameters"] if p["name"] == "asset_id")["schema"]["enum"]
    assert set(ids) == set(small_site.all_asset_ids())
    update = schema["components"]["schemas"]["UserUpdate"]["properties"]
    assert {"type": "boolean"} in update["disabled"]["anyOf"]
