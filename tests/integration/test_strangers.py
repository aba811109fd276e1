"""Nothing for strangers who know someone's details (CONTRACT.md, "Who signed stays unknown"), the typo corrected,
and no flooding of an address: over HTTP and real SMTP, on SQLite and PostgreSQL.

A stranger knows the victim's identity (here a PESEL) but not their mailbox, and types it with an address of their
own. Whatever the victim did (nothing, signed and waits, signed and confirmed), the stranger sees the same emails
and the same pages, and the victim's own mail is neither reached nor used up.
"""

from __future__ import annotations

import re
from email.message import EmailMessage

import sqlalchemy as sa

from app.mail.delivery import deliver_due
from app.models import InitiativeCountry, OutboxMessage, Statement

from ..support.factories import confirm_link, html_of, make_initiative, part_a, part_b, path_of, text_of

VICTIM = "victim@example.org"
STRANGER = "stranger@example.net"


def _deliver() -> int:
    return deliver_due(echo=lambda _line: None).sent


def _sign(client, slug: str, data: dict[str, str]) -> str:  # type: ignore[no-untyped-def]
    """Submit; the thanks page the submitter lands on."""
    response = client.post(f"/i/{slug}/sign", data=data)
    assert response.status_code == 303, response.text
    return client.get(response.headers["Location"]).text


def _confirmed(db, initiative_id: int) -> int:  # type: ignore[no-untyped-def]
    db.session.expire_all()
    query = sa.select(sa.func.sum(InitiativeCountry.confirmed_count))
    return int(db.session.scalar(query.where(InitiativeCountry.initiative_id == initiative_id)))


def _blank(text: str, slug: str) -> str:
    """An email or page with what differs by construction blanked: the initiative's slug and the link tokens."""
    text = text.replace(slug, "SLUG")
    return re.sub(r"/(confirm|unsubscribe)/[A-Za-z0-9_.\-]+", r"/\1/TOKEN", text)


def _shape(message: EmailMessage, slug: str) -> tuple[str, list[str], str, str]:
    parts = [part.get_content_type() for part in message.walk()]
    return str(message["Subject"]), parts, _blank(text_of(message), slug), _blank(html_of(message), slug)


def _stranger_sees(client, db, smtp, victim: str) -> dict[str, object]:  # type: ignore[no-untyped-def]
    """One world: the victim does `victim` (nothing, pending, confirmed), then the stranger types the victim's
    PESEL with their own address, opens the link, presses the button, opens the link again and signs once more.
    Returns everything the stranger could observe."""
    initiative, _ = make_initiative(f"world-{victim}", title="One initiative")
    slug = initiative.slug
    if victim != "nothing":
        _sign(client, slug, part_b(email=VICTIM))
        _deliver()
        if victim == "confirmed":
            assert client.post(path_of(confirm_link(smtp.to(VICTIM)[-1]))).status_code == 200
    victim_mail_before = len(smtp.to(VICTIM))
    seen: dict[str, object] = {}
    seen["thanks"] = _blank(_sign(client, slug, part_b(email=STRANGER, first_names="Someone")), slug)
    _deliver()
    [first] = smtp.to(STRANGER)
    seen["email"] = _shape(first, slug)
    link = path_of(confirm_link(first))
    page = client.get(link)
    seen["page"] = (page.status_code, _blank(page.text, slug))
    pressed = client.post(link)
    seen["pressed"] = (pressed.status_code, _blank(pressed.text, slug))
    again = client.get(link)
    seen["again"] = (again.status_code, _blank(again.text, slug))
    _sign(client, slug, part_b(email=STRANGER))
    _deliver()
    seen["second email"] = _shape(smtp.to(STRANGER)[-1], slug)
    seen["counted"] = _confirmed(db, initiative.id) - (1 if victim == "confirmed" else 0)
    assert len(smtp.to(VICTIM)) == victim_mail_before  # the victim's mailbox is never reached
    smtp.clear()
    return seen


def test_a_stranger_sees_the_same_whatever_the_victim_did(mail_app, client, smtp, db):  # type: ignore[no-untyped-def]
    nothing = _stranger_sees(client, db, smtp, "nothing")
    confirmed = _stranger_sees(client, db, smtp, "confirmed")
    pending = _stranger_sees(client, db, smtp, "pending")
    for key in ("thanks", "email", "page", "pressed", "again", "second email"):
        assert nothing[key] == confirmed[key] == pending[key], key
    subject, parts, text, _html = nothing["email"]  # type: ignore[misc]
    assert "Please confirm your support" in subject and parts == ["multipart/alternative", "text/plain", "text/html"]
    assert "/confirm/TOKEN" in text
    _subject, _parts, second_text, _html = nothing["second email"]  # type: ignore[misc]
    assert "already recorded" in second_text  # the stranger's press is on record, as a new signer's would be
    # what differs is only the count: the person counts once, whoever pressed first (README: "What a stranger can
    # learn" says so of quiet countries)
    assert (nothing["counted"], confirmed["counted"], pending["counted"]) == (1, 0, 1)


def test_the_victim_still_confirms_after_six_strangers_tried(mail_app, client, smtp, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    slug = initiative.slug
    _sign(client, slug, part_b(email=VICTIM))
    for n in range(6):
        for _ in range(3):  # each stranger signs three times, from their own address
            _sign(client, slug, part_b(email=f"stranger{n}@example.net"))
    _deliver()
    assert len(smtp.to(VICTIM)) == 1
    # the victim signs again: their own statement has used one of its five emails, whatever the strangers did
    _sign(client, slug, part_b(email=VICTIM))
    _deliver()
    assert len(smtp.to(VICTIM)) == 2
    assert client.post(path_of(confirm_link(smtp.to(VICTIM)[-1]))).status_code == 200
    assert _confirmed(db, initiative.id) == 1
    statuses = sorted(db.session.scalars(sa.select(Statement.status)))
    assert statuses == ["confirmed"] + ["lapsed"] * 6


def test_a_mistyped_address_is_corrected_by_signing_again(mail_app, client, smtp, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    slug = initiative.slug
    page = _sign(client, slug, part_a(email="zoe@exmaple.org"))
    assert "zo…@exmaple.org" in page  # the page shows where the mail went
    assert "Wrong address?" in page and f'href="/i/{slug}/sign"' in page
    _sign(client, slug, part_a(email="zoe@example.org"))
    _deliver()
    [right] = smtp.to("zoe@example.org")
    assert client.post(path_of(confirm_link(right))).status_code == 200
    assert _confirmed(db, initiative.id) == 1
    # the link that went to the wrong address counts nothing more, and shows the same as any confirmed one
    [wrong] = smtp.to("zoe@exmaple.org")
    assert client.post(path_of(confirm_link(wrong))).status_code == 200
    assert _confirmed(db, initiative.id) == 1
    typo = db.session.scalar(sa.select(Statement).where(Statement.status == "lapsed"))
    assert typo is not None and typo.sealed_data == b""  # the lapsed statement holds no personal data


def test_no_email_gets_a_new_link_that_really_goes(mail_app, client, smtp, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    slug = initiative.slug
    page = _sign(client, slug, part_b())
    assert 'action="/i/stop-scanning/new-link"' in page
    _deliver()
    smtp.clear()
    response = client.post(f"/i/{slug}/new-link", data={"email": "agnieszka@example.org"})
    assert response.status_code == 303
    assert _deliver() == 1
    [message] = smtp.to("agnieszka@example.org")
    assert client.post(path_of(confirm_link(message))).status_code == 200
    assert _confirmed(db, initiative.id) == 1
    # an address without a statement gets nothing, and the page reads the same (bar the address it echoes, and the
    # token that carries it in the language switch's links)
    nobody = client.post(f"/i/{slug}/new-link", data={"email": "nobody@example.org"})
    assert nobody.status_code == 303
    assert _deliver() == 0
    same = client.post(f"/i/{slug}/new-link", data={"email": "agnieszka@example.org"})

    def page(location: str, typed: str) -> str:
        return re.sub(r"to=[\w.-]+", "to=X", client.get(location).text.replace(f"{typed}…@", "X…@"))

    assert page(nobody.headers["Location"], "no") == page(same.headers["Location"], "ag")
    # and a malformed address is told so, with what was typed kept
    bad = client.post(f"/i/{slug}/new-link", data={"email": "not an address"})
    assert bad.status_code == 422
    assert 'value="not an address"' in bad.text and 'id="email-error"' in bad.text


def test_fifteen_identities_on_one_address_give_at_most_ten_emails(mail_app, client, smtp, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    for n in range(15):
        _sign(client, initiative.slug, part_a(first_names=f"Person {n}", email="flooded@example.org"))
    assert _deliver() == 10
    assert len(smtp.to("flooded@example.org")) == 10
    # the cap is kept by the address's fingerprint: no address is stored for it
    assert "flooded" not in str(db.session.execute(sa.text("SELECT * FROM mail_allowance")).all())
    # every submission was answered with the same page, and nothing beyond the ten waits in the outbox
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) == 10


def test_the_daily_cap_counts_every_kind_of_email(mail_app, client, smtp, db):  # type: ignore[no-untyped-def]
    """Links, "already recorded" notes and "new link" requests all come out of the same ten a day."""
    initiative, _ = make_initiative()
    slug = initiative.slug
    for _ in range(4):
        _sign(client, slug, part_b())  # one statement: a link, then three more (5 per statement at most)
    for _ in range(8):
        client.post(f"/i/{slug}/new-link", data={"email": "agnieszka@example.org"})
    assert _deliver() == 5  # the statement's own five
    _sign(client, slug, part_a(email="agnieszka@example.org"))  # a second person of the household
    for _ in range(8):
        client.post(f"/i/{slug}/new-link", data={"email": "agnieszka@example.org"})
    assert _deliver() == 5  # ten in all today
    assert len(smtp.to("agnieszka@example.org")) == 10
