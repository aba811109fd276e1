"""What a rate limit counts: one network per IPv4 address or IPv6 /64 (RFC 6177), one hashed key per staff account."""

from __future__ import annotations

import pytest

from app.rate_limits import UNKNOWN_CLIENT, account_key, network_of


@pytest.mark.parametrize(
    ("address", "network"),
    [
        ("192.0.2.7", "192.0.2.7"),
        ("2001:db8:1:2::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"),
        ("2001:DB8:1:2:0:0:0:9", "2001:db8:1:2::/64"),  # one spelling, whatever the client's
        ("2001:db8:1:3::1", "2001:db8:1:3::/64"),
        ("fe80::1%eth0", "fe80::/64"),  # a zone index names an interface, not a client
        ("::ffff:192.0.2.7", "192.0.2.7"),  # IPv4-mapped: counted as the IPv4 address it is
        ("::1", "::/64"),
        ("", UNKNOWN_CLIENT),
        (None, UNKNOWN_CLIENT),
        ("not an address", UNKNOWN_CLIENT),
    ],
)
def test_network_of(address: str | None, network: str) -> None:
    assert network_of(address) == network


def test_account_key_names_no_address() -> None:
    key = account_key("olga@example.org", "server secret")
    assert key.startswith("account:") and "olga" not in key and "example" not in key
    assert key == account_key("olga@example.org", "server secret")
    assert key != account_key("olgb@example.org", "server secret")
    assert key != account_key("olga@example.org", "another server's secret")  # not guessable from a list of addresses
