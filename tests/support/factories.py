"""Small factories: initiatives with an auditor key, valid sign-form data, links out of emails."""

from __future__ import annotations

import re
from datetime import date, timedelta
from email.message import EmailMessage
from typing import Any

from app.extensions import db
from app.initiatives import create_initiative
from app.models import Initiative, utctoday
from app.sealing import generate_key_pair

# Valid national numbers from python-stdnum's own documentation (doctests); born long ago, so of age.
PESEL = "44051401359"  # PL, born 1944-05-14
CNP = "1630615123457"  # RO, born 1963-06-15
EGN = "7523169263"  # BG, born 1875-03-16

LINK = re.compile(r"https?://[^\s\"<>]+/confirm/[^\s\"<>]+")


def make_initiative(
    slug: str = "stop-scanning",
    *,
    start: date | None = None,
    end: date | None = None,
    draft: bool = False,
    with_key: bool = True,
    **kwargs: Any,
) -> tuple[Initiative, bytes]:
    """A collecting initiative (or as asked) and the auditor's private key, committed."""
    today = utctoday()
    start = start or today - timedelta(days=10)
    end = end or start + timedelta(days=300)
    initiative = create_initiative(
        slug=slug, title=kwargs.pop("title", f"Initiative {slug}"), start=start, end=end, draft=draft, **kwargs
    )
    private = b""
    if with_key:
        private, public = generate_key_pair()
        initiative.auditor_public_key = public
    db.session.commit()
    return initiative, private


def part_a(country: str = "DE", **overrides: str) -> dict[str, str]:
    data = {
        "country": country,
        "first_names": "Zoë Anna",
        "family_names": "Müller-Lüdenscheidt",
        "date_of_birth": "1980-02-29",
        "street": "Hauptstraße 12",
        "postal_code": "10115",
        "city": "Berlin",
        "residence_country": "DE",
        "email": "zoe@example.org",
        "privacy_consent": "y",
        "declaration": "y",
    }
    data.update(overrides)
    return data


def part_b(country: str = "PL", **overrides: str) -> dict[str, str]:
    data = {
        "country": country,
        "first_names": "Agnieszka",
        "family_names": "Wiśniewska",
        "id_type": "personal_number",
        "id_number": PESEL,
        "email": "agnieszka@example.org",
        "privacy_consent": "y",
        "declaration": "y",
    }
    data.update(overrides)
    return data


def text_of(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    return str(body.get_content())


def html_of(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("html",))
    assert body is not None
    return str(body.get_content())


def confirm_link(message: EmailMessage) -> str:
    links = set(LINK.findall(text_of(message)))
    assert len(links) == 1, links
    return links.pop()


def path_of(url: str) -> str:
    return re.sub(r"^https?://[^/]+", "", url)


def make_staff(db: Any, email: str, role: str, initiatives: Any = ()) -> Any:
    """A staff account (password "x" * 12) given these initiatives, committed."""
    from app.admin.passwords import hash_password
    from app.models import StaffUser

    user = StaffUser(email=email, password_hash=hash_password("x" * 12), role=role)
    user.initiatives = list(initiatives)
    db.session.add(user)
    db.session.commit()
    return user


def sign_in_as(client: Any, user: Any) -> None:
    """Put the staff member's session in the test client's cookie, skipping the sign-in form."""
    from app.admin.access import session_values

    with client.session_transaction() as session:
        session.update(session_values(user))


# --- the lifecycle without HTTP ---------------------------------------------------------------------------------------


def signer(data: dict[str, str]) -> Any:
    """A checked signer from sign-form data (part_a(), part_b()), as the form would give it."""
    from app.eci.member_states import member_states
    from app.eci.signer import SigningRules, validate

    checked = validate(data, {code: SigningRules.of(state) for code, state in member_states().items()}, utctoday())
    assert checked.signer is not None, checked.errors
    return checked.signer


def submit(initiative: Initiative, data: dict[str, str], **options: Any) -> Any:
    """`lifecycle.submit` with the app's policy and links, now."""
    from flask import current_app

    from app.links import links
    from app.models import utcnow
    from app.statements import lifecycle

    policy = current_app.extensions["quorum.policy"]
    return lifecycle.submit(initiative, signer(data), policy=policy, links=links(), now=utcnow(), **options)


def confirm(initiative: Initiative, statement: Any) -> Any:
    from app.models import utcnow
    from app.statements import lifecycle

    return lifecycle.confirm(initiative, statement, now=utcnow())


def confirmation_url(initiative: Initiative, statement_id: Any) -> str:
    from flask import current_app

    from app.links import links

    token = current_app.extensions["quorum.policy"].confirmation_token(statement_id, initiative.id)
    return links().external("signing.confirm_page", slug=initiative.slug, token=token)


def sync_counters(initiative: Initiative, commit: bool = True) -> None:
    """For tests that write statements straight into the table: the counters set to the recount, as
    `counters check --repair` would (committed, unless told otherwise)."""
    from app.statements import counters

    counters.repair(counters.check(initiative))
    if commit:
        db.session.commit()


def reconfigure(app: Any, **settings: Any) -> None:
    """Change settings of a running test app; what the services were given at start-up is made again from them."""
    from app import register_services

    app.config.update(settings)
    register_services(app)
