"""Keyed fingerprints: the database alone cannot tell who signed (HMAC-SHA256 with FINGERPRINT_KEY)."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from datetime import date

from .member_states import rules_for
from .normalize import normalize_document_number, normalize_name, normalize_postal_code

_SEP = "\x1f"  # unit separator: cannot occur in validated input, so fields cannot run into each other


def _mac(key: bytes, purpose: str, parts: list[str]) -> str:
    message = _SEP.join([purpose, *parts]).encode("utf-8")
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def identity_fingerprint(
    key: bytes,
    *,
    country: str,
    first_names: str = "",
    family_names: str = "",
    date_of_birth: date | None = None,
    postal_code: str = "",
    id_type: str = "",
    id_number: str = "",
) -> str:
    """The same person gives the same fingerprint for the same nationality (ECI.md).

    Part B: (nationality, document type, normalized number).
    Part A: (nationality, normalized first names, family names, date of birth, normalized postal code).
    """
    state = rules_for(country)
    if state.data_part == "B":
        parts = [state.code, "B", id_type, normalize_document_number(id_number)]
    else:
        if date_of_birth is None:
            raise ValueError("Part A fingerprint needs a date of birth")
        parts = [
            state.code,
            "A",
            normalize_name(first_names),
            normalize_name(family_names),
            date_of_birth.isoformat(),
            normalize_postal_code(postal_code),
        ]
    return _mac(key, "identity", parts)


def email_fingerprint(key: bytes, email: str) -> str:
    """Addresses compare case-insensitively in the domain and, in practice, in the local part too."""
    return _mac(key, "email", [email.strip().casefold()])


def network_fingerprint(key: bytes, remote_addr: str | None) -> str | None:
    """A keyed hash of the sender's network (/24 for IPv4, /48 for IPv6), for quarantine by network."""
    if not remote_addr:
        return None
    try:
        address = ipaddress.ip_address(remote_addr)
    except ValueError:
        return None
    prefix = 24 if address.version == 4 else 48
    network = ipaddress.ip_network(f"{address}/{prefix}", strict=False)
    return _mac(key, "network", [str(network)])
