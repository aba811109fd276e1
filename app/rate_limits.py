"""Who a rate limit counts: a client's network, or a staff account whatever network it is tried from.

An IPv6 client usually holds a whole /64 (RFC 6177; one home or phone gets one), so keying by its full address
would give it 2^64 fresh budgets. A staff account is keyed by a keyed hash of its address: the limit store never
holds an email address, and an unknown address is limited like a known one (no hint of which accounts exist).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress

from flask import current_app, request

IPV6_PREFIX = 64
UNKNOWN_CLIENT = "unknown"


def network_of(address: str | None) -> str:
    """The IPv4 address itself, the /64 of an IPv6 address (an IPv4-mapped one as IPv4), or UNKNOWN_CLIENT."""
    try:
        ip = ipaddress.ip_address((address or "").split("%", 1)[0])  # a zone index names an interface, not a client
    except ValueError:
        return UNKNOWN_CLIENT
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network(f"{ip}/{IPV6_PREFIX}", strict=False))
    return str(ip)


def client_network() -> str:
    """The key of every per-address limit (Flask-Limiter's key_func)."""
    return network_of(request.remote_addr)


def account_key(email: str, secret_key: str) -> str:
    """The key of a per-account limit: an HMAC of the typed address, never the address itself."""
    digest = hmac.new(secret_key.encode(), b"rate-limit\x00" + email.encode(), hashlib.sha256).hexdigest()
    return "account:" + digest[:32]


def current_account_key(email: str | None) -> str:
    """account_key under this app's SECRET_KEY; one shared key for "no address given" (the limit still applies)."""
    return account_key((email or "").strip().lower(), str(current_app.config["SECRET_KEY"]))


def api_limit() -> str:
    """Per client network on the public JSON (API_RATE_LIMIT): a scraper in a loop, not a counter on a page."""
    return str(current_app.config["API_RATE_LIMIT"])
