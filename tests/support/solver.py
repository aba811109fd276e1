"""A scripted client's proof of work, written from ALTCHA's published format rather than from our server code:
read the challenge from the sign form, try numbers until SHA-256(salt + number) is the challenge, send the payload
(base64 of the JSON object {algorithm, challenge, number, salt, signature}) in the field `altcha`."""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
from typing import Any

CHALLENGE = re.compile(r"data-challenge='([^']*)'")


def challenge_in(page: str) -> dict[str, Any]:
    """The challenge the sign form carries (the attribute the page's script reads)."""
    found = CHALLENGE.search(page)
    assert found is not None, "the sign form carries no proof-of-work challenge"
    return json.loads(html.unescape(found.group(1)))  # type: ignore[no-any-return]


def solve(challenge: dict[str, Any]) -> int:
    """The number, by brute force as a browser does it, from 0 up to the challenge's maxnumber."""
    salt = challenge["salt"].encode()
    target = bytes.fromhex(challenge["challenge"])
    for number in range(int(challenge["maxnumber"]) + 1):
        if hashlib.sha256(salt + str(number).encode()).digest() == target:
            return number
    raise AssertionError("no number up to maxnumber solves the challenge")


def payload(challenge: dict[str, Any], number: int) -> str:
    fields = {key: challenge[key] for key in ("algorithm", "challenge", "salt", "signature")}
    return base64.b64encode(json.dumps({**fields, "number": number}).encode()).decode()


def solved_field(page: str) -> str:
    """What a client that solves puts in the field `altcha` of this form."""
    challenge = challenge_in(page)
    return payload(challenge, solve(challenge))
