"""Second-factor codes (RFC 6238 test vectors) and secrets sealed at rest, bound to their account and session."""

from __future__ import annotations

import base64

import pytest

from app.admin.second_factor import SEALED_PREFIX, SecretSeal, enrolled_context, matched_step, qr_svg, setup_context

# RFC 6238, Appendix B: the SHA-1 key "12345678901234567890"; its 8-digit codes end in these 6 digits
RFC_SECRET = base64.b32encode(b"12345678901234567890").decode()
RFC_VECTORS = [(59, "287082"), (1111111109, "081804"), (1111111111, "050471"), (1234567890, "005924")]
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


@pytest.mark.parametrize(("moment", "code"), RFC_VECTORS)
def test_codes_of_rfc_6238(moment: int, code: str) -> None:
    assert matched_step(RFC_SECRET, code, moment) == moment // 30
    assert matched_step(RFC_SECRET, f"{code[:3]} {code[3:]}", moment) == moment // 30  # as apps show it


def test_one_step_of_drift_either_side_and_no_more() -> None:
    moment, code = RFC_VECTORS[1]
    step = moment // 30
    assert matched_step(RFC_SECRET, code, moment + 30) == step  # the device's clock 30 s behind
    assert matched_step(RFC_SECRET, code, moment - 30) == step  # ... or ahead
    assert matched_step(RFC_SECRET, code, moment + 60) is None
    assert matched_step(RFC_SECRET, code, moment - 60) is None


@pytest.mark.parametrize("code", ["", "28708", "2870820", "abcdef", "28708x", "２８７０８２"])
def test_malformed_codes_match_nothing(code: str) -> None:
    assert matched_step(RFC_SECRET, code, 59) is None


def test_a_sealed_secret_opens_only_with_its_key_and_its_account() -> None:
    seal = SecretSeal.from_secret_key("the server's SECRET_KEY")
    sealed = seal.seal(SECRET, enrolled_context(7))
    assert sealed.startswith(SEALED_PREFIX) and SECRET not in sealed
    assert sealed != seal.seal(SECRET, enrolled_context(7))  # a fresh nonce each time
    assert seal.open(sealed, enrolled_context(7)) == SECRET
    assert SecretSeal.from_secret_key("the server's SECRET_KEY").open(sealed, enrolled_context(7)) == SECRET
    assert seal.open(sealed, enrolled_context(8)) is None  # copied onto another account's row
    assert SecretSeal.from_secret_key("another key").open(sealed, enrolled_context(7)) is None
    flipped = sealed[:-6] + ("A" if sealed[-6] != "A" else "B") + sealed[-5:]
    assert seal.open(flipped, enrolled_context(7)) is None


def test_a_setup_secret_opens_only_in_its_session() -> None:
    seal = SecretSeal.from_secret_key("k")
    sealed = seal.seal(SECRET, setup_context(7, "session-a"))
    assert seal.open(sealed, setup_context(7, "session-a")) == SECRET
    assert seal.open(sealed, setup_context(7, "session-b")) is None
    assert seal.open(sealed, enrolled_context(7)) is None  # a setup never passes for an enrolled secret


@pytest.mark.parametrize("stored", [None, "", SECRET, "v1:", "v1:not base64!", "v2:" + "A" * 40])
def test_anything_else_opens_to_nothing(stored: str | None) -> None:
    assert SecretSeal.from_secret_key("k").open(stored, enrolled_context(1)) is None


def test_the_qr_code_is_an_inline_svg_with_nothing_to_fetch() -> None:
    svg = qr_svg("otpauth://totp/Quorum:olga%40example.org?secret=" + SECRET + "&issuer=Quorum")
    assert svg.startswith("<svg ") and svg.endswith("</svg>")
    assert "<image" not in svg and "href" not in svg and "<script" not in svg
    assert SECRET not in svg  # drawn as modules, not written out
