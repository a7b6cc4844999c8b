"""Server settings from ``MICROGRID_*`` environment variables; insecure values are refused.

Outside the explicit dev mode (``MICROGRID_DEV=1``) the server refuses to start when
``MICROGRID_SECRET`` is missing, short or a well-known default, or when CORS is opened to any origin.
In dev mode a missing secret is replaced by a random one for this process (sessions then end with it)
and a warning names every relaxed rule.

=================================  =========================================================================
``MICROGRID_SECRET``               signs dashboard session cookies and CSRF tokens; >= 32 characters
``MICROGRID_DEV``                  ``1`` enables dev mode (random secret if missing, non-secure cookies)
``MICROGRID_CORS_ORIGINS``         comma-separated origins allowed by CORS; empty (default) = CORS closed
``MICROGRID_COOKIE_SECURE``        ``1``/``0``: send the session cookie over HTTPS only (default: on, off in dev)
``MICROGRID_SESSION_TTL_S``        lifetime of a dashboard session, seconds (default 28800 = 8 h)
``MICROGRID_AUTH_RATE_PER_MIN``    login/token requests and failed authentications per client per minute
``MICROGRID_AUTH_BURST``           bucket size of that limit (default 5)
``MICROGRID_TRUST_PROXY``          addresses/networks of reverse proxies whose ``X-Forwarded-For`` is honoured
                                   (comma-separated, e.g. ``10.0.0.5,10.1.0.0/24``); empty (default) = none,
                                   loopback included
=================================  =========================================================================

Dev mode serves on loopback only: :func:`check_bind` refuses any other address (dev mode's random secret
and the simulator's demo operator token must not be reachable from the network).
"""

from __future__ import annotations

import ipaddress
import logging
import os
import secrets
from collections.abc import Mapping
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, SecretStr, ValidationError

from api.proxies import Network, parse_networks
from microgrid.errors import UserError
from microgrid.i18n import t

log = logging.getLogger(__name__)

MIN_SECRET_LEN = 32
KNOWN_DEFAULT_SECRETS = frozenset(
    {
        "changethis",
        "changeme",
        "change-me",
        "secret",
        "secretkey",
        "secret-key",
        "password",
        "admin",
        "dev",
        "development",
        "test",
        "microgrid",
        "default",
        "insecure",
    }
)
"""Values (compared case-insensitively, ignoring repetition) that are refused as secrets."""

GENERATE_HINT = "python -c 'import secrets; print(secrets.token_urlsafe(32))'"


class InsecureSettingsError(UserError):
    """A setting would make the server insecure; raised before it starts listening (exit code 2)."""


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def _looks_default(secret: str) -> bool:
    low = secret.strip().lower()
    if low in KNOWN_DEFAULT_SECRETS or len(set(low)) <= 2:
        return True
    return any(low == word * (len(low) // len(word)) for word in KNOWN_DEFAULT_SECRETS if len(low) % len(word) == 0)


class Settings(BaseModel):
    """Validated server settings. Build with :meth:`from_env` (or directly in tests)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    secret: SecretStr
    """Key for HMAC-signed session cookies and CSRF tokens (not for API tokens: those are hashed)."""
    dev: bool = False
    """Explicit development mode: relaxed checks, logged at start-up."""
    cors_origins: tuple[str, ...] = ()
    """Origins allowed to call the API from a browser; empty = no CORS headers (closed)."""
    cookie_secure: bool = True
    session_ttl_s: Annotated[int, Field(ge=60, le=7 * 24 * 3600)] = 8 * 3600
    auth_rate_per_min: Annotated[float, Field(gt=0, le=10_000)] = 10.0
    auth_burst: Annotated[int, Field(ge=1, le=1000)] = 5
    trusted_proxies: tuple[Network, ...] = ()
    """Peers whose ``X-Forwarded-For`` names the client (:mod:`api.proxies`); empty = trust nobody."""
    generated_secret: bool = False
    """True when dev mode made up the secret because none was given."""
    _warned: bool = PrivateAttr(default=False)

    def check(self) -> Settings:
        """Raise :class:`InsecureSettingsError` listing every insecure value (nothing is relaxed outside dev)."""
        found = _insecure(self)
        problems = [t(key, "en", **params) for key, params in found]
        if problems and not self.dev:
            err = InsecureSettingsError.of("uerr.insecure_settings")
            for key, params in found:
                err.with_problem(key, **params)
            raise err
        if not self._warned:  # once per settings object (from_env and create_app both check)
            for problem in problems:
                log.warning("dev mode: %s", problem)
            self._warned = True
        return self

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Settings from ``env`` (default ``os.environ``), checked with :meth:`check`."""
        env = os.environ if env is None else env
        dev = _truthy(env.get("MICROGRID_DEV"))
        secret = env.get("MICROGRID_SECRET", "")
        generated = False
        if not secret and dev:
            secret, generated = secrets.token_urlsafe(32), True
        origins = tuple(o.strip() for o in env.get("MICROGRID_CORS_ORIGINS", "").split(",") if o.strip())
        raw: dict[str, object] = {
            "secret": secret,
            "dev": dev,
            "cors_origins": origins,
            "cookie_secure": _truthy(env["MICROGRID_COOKIE_SECURE"]) if "MICROGRID_COOKIE_SECURE" in env else not dev,
            "generated_secret": generated,
        }
        trusted = env.get("MICROGRID_TRUST_PROXY", "").strip()
        if trusted.lower() in ("1", "true", "yes", "on", "*"):
            raise InsecureSettingsError.of("uerr.invalid_settings").with_problem("uerr.trust_anyone", value=trusted)
        try:
            raw["trusted_proxies"] = parse_networks(trusted)
        except ValueError as exc:
            raise InsecureSettingsError.of("uerr.invalid_settings", [f"MICROGRID_TRUST_PROXY: {exc}"]) from None
        for key, name in (
            ("session_ttl_s", "MICROGRID_SESSION_TTL_S"),
            ("auth_rate_per_min", "MICROGRID_AUTH_RATE_PER_MIN"),
            ("auth_burst", "MICROGRID_AUTH_BURST"),
        ):
            if env.get(name):
                raw[key] = env[name]
        try:
            settings = cls.model_validate(raw)
        except ValidationError as exc:
            problems = [
                f"MICROGRID_{'.'.join(str(p) for p in err['loc']).upper()}: {err['msg']}" for err in exc.errors()
            ]
            raise InsecureSettingsError.of("uerr.invalid_settings", problems) from None
        return settings.check()

    @classmethod
    def for_dev(cls, **overrides: object) -> Settings:
        """Dev-mode settings with a fresh random secret (tests, demos)."""
        values: dict[str, object] = {
            "secret": secrets.token_urlsafe(32),
            "dev": True,
            "cookie_secure": False,
            "generated_secret": True,
        }
        values.update(overrides)
        return cls.model_validate(values)


LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


def is_loopback_host(host: str) -> bool:
    """True for a loopback address (127.0.0.0/8, ::1) or the name ``localhost``; names are not resolved."""
    host = host.strip().strip("[]")
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_bind(host: str, dev: bool) -> None:
    """Refuse to serve dev mode on anything but loopback (:class:`InsecureSettingsError`, exit code 2)."""
    if dev and not is_loopback_host(host):
        raise InsecureSettingsError.of("uerr.dev_loopback_only", host=host)


def insecure_problems(settings: Settings) -> list[str]:
    """One line per insecure setting (empty when the settings are fit for production)."""
    return [t(key, "en", **params) for key, params in _insecure(settings)]


def _insecure(settings: Settings) -> list[tuple[str, dict]]:
    """The insecure settings as catalogue entries ``(key, params)``."""
    problems: list[tuple[str, dict]] = []
    secret = settings.secret.get_secret_value()
    if not secret:
        problems.append(("uerr.secret_unset", {"n": MIN_SECRET_LEN, "hint": GENERATE_HINT}))
    elif settings.generated_secret:
        problems.append(("uerr.secret_generated", {}))
    elif _looks_default(secret):
        problems.append(("uerr.secret_default", {"hint": GENERATE_HINT}))
    elif len(secret) < MIN_SECRET_LEN:
        problems.append(("uerr.secret_short", {"len": len(secret), "n": MIN_SECRET_LEN, "hint": GENERATE_HINT}))
    if "*" in settings.cors_origins:
        problems.append(("uerr.cors_star", {}))
    for origin in settings.cors_origins:
        if origin != "*" and not origin.startswith(("https://", "http://")):
            problems.append(("uerr.cors_bad", {"origin": origin}))
    if not settings.cookie_secure:
        problems.append(("uerr.cookie_insecure", {}))
    return problems
