"""The client's address, for limits that count per address (joining by a link).

A request's peer is the client unless it is a reverse proxy named in the trusted-proxy setting:
only then is ``X-Forwarded-For`` read, right to left, skipping the trusted proxies, and the
first other address is the client. A header from anyone else is ignored, since any client can
write one.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from starlette.types import Scope

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class ClientAddresses:
    """Finds each request's client address, given the trusted proxies.

    >>> ClientAddresses(("10.0.0.0/8",)).of({"client": ("10.0.0.5", 1), "headers": [
    ...     (b"x-forwarded-for", b"203.0.113.9, 10.0.0.7")]})
    '203.0.113.9'
    >>> ClientAddresses(()).of({"client": ("198.51.100.4", 1), "headers": [
    ...     (b"x-forwarded-for", b"203.0.113.9")]})
    '198.51.100.4'
    """

    def __init__(self, trusted_proxies: tuple[str, ...]) -> None:
        self.trusted: tuple[Network, ...] = tuple(
            ipaddress.ip_network(network, strict=False) for network in trusted_proxies
        )

    def of(self, scope: Scope) -> str:
        client = scope.get("client")
        peer = str(client[0]) if client else "unknown"
        if not self.trusted or not self._is_trusted(peer):
            return peer
        values = [
            value.decode("latin-1")
            for name, value in scope.get("headers", ())
            if name == b"x-forwarded-for"
        ]
        hops = [hop.strip() for hop in ",".join(values).split(",") if hop.strip()]
        for hop in reversed(hops):
            if not self._is_trusted(hop):
                return hop[:64]
        return hops[0][:64] if hops else peer

    def scheme_of(self, scope: Scope) -> str:
        """``http`` or ``https`` as the browser reached the server: ``X-Forwarded-Proto`` when a
        trusted proxy sent it (TLS ends there), else the connection's own scheme.

        >>> ClientAddresses(("127.0.0.1",)).scheme_of({"scheme": "http", "client": (
        ...     "127.0.0.1", 1), "headers": [(b"x-forwarded-proto", b"https")]})
        'https'
        """
        client = scope.get("client")
        if client and self.trusted and self._is_trusted(str(client[0])):
            for name, value in scope.get("headers", ()):
                if name == b"x-forwarded-proto":
                    proto: str = value.decode("latin-1").split(",")[-1].strip().lower()
                    if proto in ("http", "https"):
                        return proto
        return str(scope.get("scheme", "http"))

    def _is_trusted(self, address: str) -> bool:
        parsed = _parse(address)
        return parsed is not None and any(parsed in network for network in self.trusted)


@lru_cache(maxsize=4096)
def _parse(address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(address)
    except ValueError:
        return None
