"""Dashboard passwords: a policy check and a salted scrypt hash whose parameters travel with it.

A stored hash reads ``scrypt$<N>$<r>$<p>$<salt hex>$<hash hex>``, so the cost can be raised later without
invalidating existing passwords (:func:`needs_rehash`). The default cost (N=2^16, r=8, p=1: 64 MiB, about a
tenth of a second on one core) follows OWASP's password-storage guidance for scrypt; checking a password is
rate-limited by the API, and an unknown user costs the same hash as a known one (no timing oracle).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from microgrid.errors import UserError

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**16, 8, 1
DKLEN = 32
MIN_LEN, MAX_LEN = 10, 256


def check_policy(password: str, user: str) -> None:
    """Raise :class:`UserError` naming the rule a new password breaks."""
    if len(password) < MIN_LEN:
        raise UserError.of("uerr.pw_short", n=MIN_LEN)
    if len(password) > MAX_LEN:
        raise UserError.of("uerr.pw_long", n=MAX_LEN)
    if password.strip() != password:
        raise UserError.of("uerr.pw_space")
    if password.lower() == user.lower() or len(set(password)) < 4:
        raise UserError.of("uerr.pw_easy")


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, dklen=DKLEN, maxmem=256 * r * n + (1 << 20))


def hash_password(password: str, *, n: int | None = None, r: int | None = None, p: int | None = None) -> str:
    """The string to store for ``password`` (fresh 16-byte salt; cost parameters default to the module's)."""
    n, r, p = n or SCRYPT_N, r or SCRYPT_R, p or SCRYPT_P
    salt = secrets.token_bytes(16)
    return f"scrypt${n}${r}${p}${salt.hex()}${_scrypt(password, salt, n, r, p).hex()}"


def verify_password(password: str, stored: str | None) -> bool:
    """True when ``password`` matches ``stored``; with ``stored`` missing or malformed it still spends one
    default-cost hash and returns False."""
    try:
        scheme, n, r, p, salt, digest = (stored or "").split("$")
        if scheme != "scrypt":
            raise ValueError(scheme)
        params = int(n), int(r), int(p)
        salt_b, digest_b = bytes.fromhex(salt), bytes.fromhex(digest)
    except ValueError:
        _scrypt(password, b"0" * 16, SCRYPT_N, SCRYPT_R, SCRYPT_P)
        return False
    return hmac.compare_digest(_scrypt(password, salt_b, *params), digest_b)


def needs_rehash(stored: str) -> bool:
    """True when ``stored`` was hashed with weaker parameters than today's defaults."""
    parts = stored.split("$")
    return len(parts) != 6 or (int(parts[1]), int(parts[2]), int(parts[3])) < (SCRYPT_N, SCRYPT_R, SCRYPT_P)
