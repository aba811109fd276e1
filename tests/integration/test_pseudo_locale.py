"""Every word a signer reads goes through the catalog: the whole journey rendered in a pseudo-locale whose catalog
"translates" each message as itself in brackets, and the text scanned for words outside brackets.

What may stand outside brackets is data, not wording: the initiative's own texts and names, what the signer typed,
country, language and month names (CLDR, through Babel), document names (the ECI table), addresses and links.
The pseudo-locale is "en_001" (CLDR's "English (world)"): Babel has no en-XA, and Flask-Babel takes only locales
Babel knows. Signers are never offered it; only this test's app speaks it.
"""

from __future__ import annotations

import html
import json
import re
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from babel import Locale
from babel.dates import get_month_names
from flask import Flask
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from app.eci.member_states import id_documents
from app.languages import LANGUAGES, endonym
from app.models import OutboxMessage, Statement
from app.statements.policy import CONFIRM_SALT

from ..support.catalogs import TEMPLATE, pseudo_catalog, read_catalog, write_compiled
from ..support.factories import LINK, PESEL, make_initiative, part_a, part_b, path_of

PSEUDO = "en_001"
DETAILS = {
    "title": "Stop Scanning Faces",
    "summary": "Biometric **surveillance** harms everyone.",
    "objectives": "Ban remote biometric identification.",
    "organizers": "Alma Berg\nCitizens Watch",
    "contact_name": "Dora Enk",
    "contact_email": "contact@example.org",
    "website": "https://example.org",
    "registration_number": "ECI(2024)000005",
    "register_url": "https://citizens-initiative.europa.eu/initiatives/details/2024/000005",
}


def _data_words() -> set[str]:
    """Words that are data, never wording: the initiative's, CLDR's names, the ECI table's document names."""
    locale = Locale.parse(PSEUDO)
    texts = [*DETAILS.values(), "Quorum", "Zoë Anna", "Müller-Lüdenscheidt", "Agnieszka", "Wiśniewska"]
    texts += list(locale.territories.values()) + [endonym(code) for code in (*LANGUAGES, PSEUDO)]
    texts += list(get_month_names("wide", locale=locale).values())
    texts += [document.name for document in id_documents().values()]
    return {word for text in texts for word in _words(text)}


def _words(text: str) -> list[str]:
    return re.findall(r"[^\W\d_]{2,}", text)


def _outside_brackets(text: str) -> str:
    """The text with every bracketed span taken out, innermost first (a title sits inside its sentence)."""
    previous = None
    while previous != text:
        previous, text = text, re.sub(r"\[[^\[\]]*\]", " ", text)
    return text


def _readable(page: str) -> str:
    """What a reader (or a screen reader) gets of an HTML page: its text and its labelling attributes."""
    page = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S)
    labels = re.findall(r'\s(?:aria-label|title|placeholder|alt)="([^"]*)"', page)
    text = re.sub(r"<[^>]+>", " ", page)
    return html.unescape(" ".join([text, *labels]))


def _stray_words(text: str, allowed: set[str]) -> set[str]:
    text = re.sub(r"https?://\S+|mailto:\S+|\S+@\S+", " ", _outside_brackets(text))
    return {word for word in _words(text) if word not in allowed}


@pytest.fixture
def pseudo_app(app_factory, tmp_path: Path) -> Flask:  # type: ignore[no-untyped-def]
    directory = tmp_path / "translations"
    write_compiled(pseudo_catalog(read_catalog(TEMPLATE), PSEUDO), directory, PSEUDO)
    return app_factory(LANGUAGES=(*LANGUAGES, PSEUDO), BABEL_TRANSLATION_DIRECTORIES=str(directory))  # type: ignore[no-any-return]


def _expired_token(app: Flask, statement: Statement) -> str:
    class Signer(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - app.config["CONFIRM_MAX_AGE"] - 60

    serializer = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt=CONFIRM_SALT, signer=Signer)
    return serializer.dumps({"s": statement.id.hex, "i": statement.initiative_id})


@pytest.mark.fresh_app
def test_every_word_of_the_journey_goes_through_the_catalog(pseudo_app: Flask, db) -> None:  # type: ignore[no-untyped-def]
    from datetime import timedelta

    from app.models import utctoday

    allowed = _data_words()
    client = pseudo_app.test_client()
    with pseudo_app.app_context():
        initiative, _ = make_initiative(
            "scan",
            summary=DETAILS["summary"],
            title=DETAILS["title"],
            details={k: v for k, v in DETAILS.items() if k not in ("title", "summary")},
        )
        make_initiative("later", start=utctoday() + timedelta(days=5), title=DETAILS["title"])
        slug = initiative.slug
        pages: dict[str, str] = {}

        def visit(name: str, response, status: int = 200) -> None:  # type: ignore[no-untyped-def]
            assert response.status_code == status, (name, response.status_code)
            pages[name] = response.text

        visit("home", client.get(f"/?lang={PSEUDO}"))  # the choice is remembered from here on
        visit("initiative", client.get(f"/i/{slug}"))
        visit("privacy", client.get(f"/i/{slug}/privacy"))
        visit("sign", client.get(f"/i/{slug}/sign"))
        visit("sign part A", client.get(f"/i/{slug}/sign?country=DE"))
        visit("sign part B", client.get(f"/i/{slug}/sign?country=AT"))
        visit("part A errors", client.post(f"/i/{slug}/sign", data={"country": "DE", "date_of_birth_day": "x"}), 422)
        young = part_a(date_of_birth="2020-01-01", residence_country="")
        visit("part A too young", client.post(f"/i/{slug}/sign", data=young), 422)
        visit("part B errors", client.post(f"/i/{slug}/sign", data={"country": "PL", "id_type": "x"}), 422)
        visit("part B number", client.post(f"/i/{slug}/sign", data=part_b(id_number=PESEL[:-1])), 422)
        passport = part_b("AT", id_type="passport", id_number="P1234567")  # no age in the number: the box
        visit("part B age box", client.post(f"/i/{slug}/sign", data=passport), 422)
        visit("no country", client.post(f"/i/{slug}/sign", data={}), 422)
        visit("choose country", client.post(f"/i/{slug}/sign", data={"country": "PL", "choose_country": "1"}))
        signed = client.post(f"/i/{slug}/sign", data=part_b(updates_consent="y"))
        visit("check inbox", client.get(signed.headers["Location"]))
        visit("new link", client.post(f"/i/{slug}/new-link", data={"email": "nope"}), 422)
        again = client.post(f"/i/{slug}/new-link", data={"email": "agnieszka@example.org"})
        visit("link again", client.get(again.headers["Location"]))
        statement = db.session.scalars(sa.select(Statement)).one()
        confirm = path_of(LINK.findall(db.session.scalars(sa.select(OutboxMessage.body_text)).first())[0])
        visit("expired", client.get(f"/i/{slug}/confirm/{_expired_token(pseudo_app, statement)}"), 410)
        visit("confirm", client.get(confirm))
        visit("confirmed", client.post(confirm))
        visit("forged", client.get(f"/i/{slug}/confirm/forged"), 400)
        client.post(f"/i/{slug}/sign", data=part_b())  # signed already: an email says so
        for person in ("Jan", "Ewa"):  # a household of two, then a third: an email says the address is full
            client.post(f"/i/{slug}/sign", data=part_a(first_names=person, email="home@example.org"))
        client.post(f"/i/{slug}/sign", data=part_a(first_names="Olaf", email="home@example.org"))
        unsubscribe = re.search(r"https?://\S+/unsubscribe/\S+", _confirm_emails(db)[0].body_text or "")
        assert unsubscribe, "the confirmation email of a signer who asked for updates has its way out"
        visit("unsubscribe", client.get(path_of(unsubscribe.group(0))))
        visit("unsubscribed", client.post(path_of(unsubscribe.group(0))))
        visit("unknown", client.get("/i/nothing-here/sign"), 404)
        visit("not started", client.get("/i/later/sign"), 403)
        visit("no such page", client.get("/nowhere"), 404)

        stray = {name: _stray_words(_readable(page), allowed) for name, page in pages.items()}
        # the labels the form's script puts in place when the country changes
        rules = json.loads(re.search(r'id="country-rules">(.*?)</script>', pages["sign"], re.S).group(1))  # type: ignore[union-attr]
        labels = [rule["age_label"] for rule in rules.values()]
        labels += [text for rule in rules.values() for _code, *texts in rule["id_types"] for text in texts]
        stray["the form's script"] = _stray_words(" ".join(labels), allowed)

        messages = db.session.scalars(sa.select(OutboxMessage).order_by(OutboxMessage.id)).all()
        assert {m.kind for m in messages} == {"confirm", "already_confirmed", "household_full"}
        for message in messages:
            for part, text in (("subject", message.subject), ("text", message.body_text), ("html", message.body_html)):
                readable = _readable(text or "") if part == "html" else text or ""
                stray[f"email {message.kind} ({part})"] = _stray_words(readable, allowed)

    leftover = {name: sorted(words) for name, words in stray.items() if words}
    assert not leftover, json.dumps(leftover, indent=1)
    # the pages and emails spoke the pseudo-locale, so the scan above proves something
    assert '<html lang="en-001">' in pages["sign"] and "[Sign]" in pages["sign"]
    assert all(message.body_text and "[Hello,]" in message.body_text for message in messages)


def _confirm_emails(db) -> list[OutboxMessage]:  # type: ignore[no-untyped-def]
    query = sa.select(OutboxMessage).where(OutboxMessage.kind == "confirm").order_by(OutboxMessage.id)
    return list(db.session.scalars(query))
