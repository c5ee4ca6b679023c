"""Which address a join counts against: the peer, unless it is a trusted proxy."""

from __future__ import annotations

from typing import Any

import pytest

from session_runtime.api.client_address import ClientAddresses
from session_runtime.settings import Settings


def scope(peer: str | None, *forwarded: str) -> dict[str, Any]:
    return {
        "client": None if peer is None else (peer, 5000),
        "headers": [(b"x-forwarded-for", value.encode()) for value in forwarded],
    }


@pytest.mark.parametrize(
    ("trusted", "request_scope", "client"),
    [
        ((), scope("198.51.100.4", "203.0.113.9"), "198.51.100.4"),
        (("10.0.0.0/8",), scope("198.51.100.4", "203.0.113.9"), "198.51.100.4"),
        (("10.0.0.0/8",), scope("10.0.0.5", "203.0.113.9"), "203.0.113.9"),
        # A client may write any X-Forwarded-For itself: only what the proxies added counts.
        (("10.0.0.0/8",), scope("10.0.0.5", "1.2.3.4, 203.0.113.9, 10.0.0.7"), "203.0.113.9"),
        (("10.0.0.0/8",), scope("10.0.0.5", "1.2.3.4", "203.0.113.9"), "203.0.113.9"),
        (("10.0.0.0/8",), scope("10.0.0.5"), "10.0.0.5"),
        (("10.0.0.0/8",), scope("10.0.0.5", "10.0.0.6"), "10.0.0.6"),
        (("10.0.0.0/8",), scope("10.0.0.5", "not-an-address"), "not-an-address"),
        (("::1",), scope("::1", "2001:db8::7"), "2001:db8::7"),
        (("127.0.0.1",), scope(None, "203.0.113.9"), "unknown"),
    ],
)
def test_the_client_address(
    trusted: tuple[str, ...], request_scope: dict[str, Any], client: str
) -> None:
    assert ClientAddresses(trusted).of(request_scope) == client


def test_a_forwarded_value_is_bounded_in_length() -> None:
    long = "x" * 5000
    assert ClientAddresses(("10.0.0.0/8",)).of(scope("10.0.0.5", long)) == "x" * 64


def test_the_setting_takes_addresses_and_networks() -> None:
    settings = Settings(trusted_proxies="10.0.0.5, 10.1.0.0/16, ::1")  # type: ignore[arg-type]
    assert settings.trusted_proxies == ("10.0.0.5/32", "10.1.0.0/16", "::1/128")
    with pytest.raises(ValueError, match="does not appear to be an IPv4 or IPv6"):
        Settings(trusted_proxies="proxy.internal")  # type: ignore[arg-type]
