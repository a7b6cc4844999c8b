"""The client's address behind trusted reverse proxies (``X-Forwarded-For`` is honoured only from them).

The address is what the rate limits and the brute-force lockout are keyed by, so a header any client can
send must not decide it. ``X-Forwarded-For`` is read only when the TCP peer is one of the configured proxies
(``MICROGRID_TRUST_PROXY``, addresses or networks); the header is then walked from the right (each proxy
appends the address it received the request from), skipping further trusted proxies, and the first address
that is not a trusted proxy is the client. Nothing is trusted by default, loopback included.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(text: str) -> tuple[Network, ...]:
    """``"10.0.0.5, 192.168.1.0/24, ::1"`` → networks; :class:`ValueError` naming the entry that is not one."""
    out = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        try:
            out.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ValueError(f"'{item}' is not an IP address or network (e.g. 10.0.0.5 or 10.0.0.0/24)") from None
    return tuple(out)


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = text.strip().strip('"')
    if text.startswith("[") and "]" in text:  # [v6]:port
        text = text[1:text.index("]")]
    elif text.count(":") == 1:  # v4:port
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    mapped = getattr(address, "ipv4_mapped", None)
    return mapped or address


def is_trusted(address: str, trusted: Iterable[Network]) -> bool:
    ip = _address(address)
    return ip is not None and any(ip.version == net.version and ip in net for net in trusted)


def client_address(peer: str | None, forwarded_for: str | None, trusted: tuple[Network, ...]) -> str:
    """The client's address: ``peer`` unless it is a trusted proxy that sent ``X-Forwarded-For``.

    A malformed entry met while walking the header ends the walk at the last trusted hop (the request is
    then keyed by that proxy's address, never by text the client chose).
    """
    peer = peer or "unknown"
    if not trusted or not forwarded_for or not is_trusted(peer, trusted):
        return peer
    client = peer
    for hop in reversed(forwarded_for.split(",")):
        ip = _address(hop)
        if ip is None:
            return client
        client = str(ip)
        if not any(ip.version == net.version and ip in net for net in trusted):
            return client
    return client
