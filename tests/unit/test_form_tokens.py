"""The embedded form's token: bound to the initiative, the partner and its time of issue; signed; it lasts two hours."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from app.signing.form_tokens import LIFETIME, FormTokens, Verdict

NOW = datetime(2026, 5, 1, 12, 0, 0)


@pytest.fixture
def tokens() -> FormTokens:
    return FormTokens.from_secret_key("test secret")


def test_a_fresh_token_is_valid_for_its_page(tokens: FormTokens) -> None:
    token = tokens.issue(7, "edri", NOW)
    checked = tokens.check(token, 7, "edri", NOW + timedelta(minutes=30))
    assert checked.verdict is Verdict.VALID
    assert checked.expires_at == NOW + LIFETIME
    assert tokens.issue(7, "edri", NOW) != token  # a nonce each: two forms never share a token


@pytest.mark.parametrize(
    ("initiative", "partner", "verdict"),
    [(8, "edri", Verdict.FORGED), (7, "other", Verdict.FORGED), (7, "", Verdict.FORGED)],
)
def test_another_page_is_refused(tokens: FormTokens, initiative: int, partner: str, verdict: Verdict) -> None:
    assert tokens.check(tokens.issue(7, "edri", NOW), initiative, partner, NOW).verdict is verdict


def test_expiry(tokens: FormTokens) -> None:
    token = tokens.issue(7, "", NOW)
    assert tokens.check(token, 7, "", NOW + LIFETIME - timedelta(seconds=1)).valid
    assert tokens.check(token, 7, "", NOW + LIFETIME).verdict is Verdict.EXPIRED
    assert tokens.check(token, 7, "", NOW - timedelta(hours=1)).verdict is Verdict.EXPIRED  # issued in the future


def test_forged_and_missing(tokens: FormTokens) -> None:
    token = tokens.issue(7, "", NOW)
    assert tokens.check(None, 7, "", NOW).verdict is Verdict.MISSING
    assert tokens.check("", 7, "", NOW).verdict is Verdict.MISSING
    assert tokens.check(token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1], 7, "", NOW).verdict is (
        Verdict.FORGED
    )
    other_key = FormTokens.from_secret_key("another secret")
    assert other_key.check(token, 7, "", NOW).verdict is Verdict.FORGED
    # a token signed for another purpose with the same SECRET_KEY (e.g. the sent-to address) is no form token
    from itsdangerous import URLSafeSerializer

    assert tokens.check(URLSafeSerializer("test secret").dumps({"i": 7}), 7, "", NOW).verdict is Verdict.FORGED
