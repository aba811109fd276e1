"""The same person twice, and households: the form answers alike every time; only the email tells the difference."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from app.mail.delivery import deliver_due
from app.models import InitiativeCountry, OutboxMessage, Statement

from ..support.factories import confirm_link, make_initiative, part_a, part_b, path_of, text_of


def _deliver() -> int:
    return deliver_due(echo=lambda _line: None).sent


def _sign(client, slug: str, data: dict[str, str]) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    """Submit; return the redirect's body and the thanks page with the echoed address blanked out."""
    response = client.post(f"/i/{slug}/sign", data=data)
    assert response.status_code == 303, response.get_data(as_text=True)
    assert response.headers["Location"].split("?")[0].endswith(f"/i/{slug}/thanks")
    thanks = client.get(response.headers["Location"])
    assert thanks.status_code == 200
    page = thanks.get_data(as_text=True)
    local, domain = data["email"].split("@")
    # the page may echo what the submitter typed: here, enough of it to spot a typo ("ag…@example.org")
    echoed = re.compile(re.escape(f"{local[:2]}…@{domain}"), re.IGNORECASE)
    assert echoed.search(page)
    return response.get_data(as_text=True), echoed.sub("ADDRESS", page)


def _statements(db) -> list[Statement]:  # type: ignore[no-untyped-def]
    return list(db.session.scalars(sa.select(Statement)))


def _confirmed(db, slug_id: int) -> int:  # type: ignore[no-untyped-def]
    return int(
        db.session.scalar(
            sa.select(sa.func.sum(InitiativeCountry.confirmed_count)).where(InitiativeCountry.initiative_id == slug_id)
        )
    )


def test_new_pending_and_confirmed_look_the_same(mail_app, client, smtp, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    slug = initiative.slug
    new = _sign(client, slug, part_a())
    assert _deliver() == 1
    [first] = smtp.to("zoe@example.org")
    first_link = confirm_link(first)

    pending = _sign(client, slug, part_a())
    assert _deliver() == 1
    second = smtp.to("zoe@example.org")[1]
    second_link = confirm_link(second)
    assert len(_statements(db)) == 1

    # the fresh link of the pending duplicate works
    assert client.post(path_of(second_link)).status_code == 200
    assert _confirmed(db, initiative.id) == 1

    confirmed = _sign(client, slug, part_a())
    assert _deliver() == 1
    third = smtp.to("zoe@example.org")[2]
    assert "/confirm/" not in text_of(third)
    assert "already recorded" in text_of(third)
    assert "already recorded" in str(third["Subject"])

    assert new == pending == confirmed
    assert len(_statements(db)) == 1
    assert _confirmed(db, initiative.id) == 1
    # the earlier link still counts once at most
    assert client.post(path_of(first_link)).status_code == 200
    assert _confirmed(db, initiative.id) == 1


def test_pending_duplicate_link_confirms_the_one_statement(mail_app, client, smtp, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    _sign(client, initiative.slug, part_b())
    _sign(client, initiative.slug, part_b())
    assert _deliver() == 2
    links = [confirm_link(m) for m in smtp.to("agnieszka@example.org")]
    [statement] = _statements(db)
    assert all(f"/i/{initiative.slug}/confirm/" in link for link in links)
    assert client.post(path_of(links[1])).status_code == 200
    db.session.refresh(statement)
    assert statement.status == "confirmed"
    assert _confirmed(db, initiative.id) == 1


VARIANTS = [
    (part_a(), part_a(first_names="ZOE ANNA", family_names="MULLER LUDENSCHEIDT")),
    (part_a(first_names="Jean-Luc"), part_a(first_names="Jean Luc")),
    (part_a(postal_code="10115"), part_a(postal_code=" 101 15 ")),
    (part_b(), part_b(id_number="440 514 013 59")),
    (part_b(), part_b(id_number="44051401359", first_names="Agnes")),
]
VARIANT_IDS = ["zoe-ZOE", "jean-luc", "postal-code-spaces", "pesel-spaces", "part-b-ignores-names"]


@pytest.mark.parametrize(("first", "second"), VARIANTS, ids=VARIANT_IDS)
def test_variant_spelling_is_the_same_person(mail_app, client, smtp, db, first, second):  # type: ignore[no-untyped-def]
    """From the same address: the support is on record, and the email says so."""
    initiative, _ = make_initiative()
    _sign(client, initiative.slug, first)
    _deliver()
    assert client.post(path_of(confirm_link(smtp.to(first["email"])[0]))).status_code == 200
    _sign(client, initiative.slug, second)
    _deliver()
    assert len(_statements(db)) == 1
    note = smtp.to(second["email"])[1]
    assert "already recorded" in text_of(note)
    assert "/confirm/" not in text_of(note)


@pytest.mark.parametrize(("first", "second"), VARIANTS, ids=VARIANT_IDS)
def test_variant_spelling_from_another_address_counts_once(mail_app, client, smtp, db, first, second):  # type: ignore[no-untyped-def]
    """From another address: the email a new signer gets, and a link that counts nothing (CONTRACT.md)."""
    initiative, _ = make_initiative()
    _sign(client, initiative.slug, first)
    _deliver()
    assert client.post(path_of(confirm_link(smtp.to(first["email"])[0]))).status_code == 200
    _sign(client, initiative.slug, {**second, "email": "other@example.org"})
    _deliver()
    [message] = smtp.to("other@example.org")
    assert client.post(path_of(confirm_link(message))).status_code == 200
    assert _confirmed(db, initiative.id) == 1
    assert sorted(s.status for s in _statements(db)) == ["confirmed", "lapsed"]


def test_different_people_are_not_duplicates(mail_app, client, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    _sign(client, initiative.slug, part_a())
    _sign(client, initiative.slug, part_a(date_of_birth="1980-03-01", email="twin@example.org"))
    _sign(client, initiative.slug, part_a(country="FR", residence_country="FR", email="fr@example.org"))
    assert len(_statements(db)) == 3


def test_at_most_five_emails_per_statement(mail_app, client, smtp, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    pages = {_sign(client, initiative.slug, part_b()) for _ in range(6)}
    assert len(pages) == 1  # the sixth answers exactly like the others
    assert _deliver() == 5
    assert len(smtp.to("agnieszka@example.org")) == 5
    [statement] = _statements(db)
    assert statement.emails_sent == 5
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) == 5

    # still nothing once confirmed: the "already recorded" note counts against the same five
    assert client.post(path_of(confirm_link(smtp.to("agnieszka@example.org")[-1]))).status_code == 200
    _sign(client, initiative.slug, part_b())
    assert _deliver() == 0


def test_household_two_count_third_is_refused(mail_app, client, smtp, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    shared = "family@example.org"
    first = _sign(client, initiative.slug, part_a(email=shared))
    second = _sign(client, initiative.slug, part_a(first_names="Jonas", email="Family@EXAMPLE.org"))
    third = _sign(client, initiative.slug, part_a(first_names="Lena", email="FAMILY@example.org"))
    assert first[0] == second[0] == third[0]
    assert first[1] == second[1] == third[1]
    assert _deliver() == 3

    statements = _statements(db)
    assert len(statements) == 2
    assert {s.email_slot for s in statements} == {1, 2}

    messages = smtp.messages
    links = [confirm_link(m) for m in messages if "/confirm/" in text_of(m)]
    assert len(links) == 2
    [refusal] = [m for m in messages if "/confirm/" not in text_of(m)]
    assert refusal["To"] == "FAMILY@example.org"
    assert "could not record" in text_of(refusal)
    assert "could not record" in str(refusal["Subject"])

    for link in links:
        assert client.post(path_of(link)).status_code == 200
    assert _confirmed(db, initiative.id) == 2
    assert {s.status for s in _statements(db)} == {"confirmed"}


def test_household_member_signing_again_is_a_duplicate_not_a_third(mail_app, client, smtp, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    _sign(client, initiative.slug, part_a(email="family@example.org"))
    _sign(client, initiative.slug, part_a(first_names="Jonas", email="family@example.org"))
    _sign(client, initiative.slug, part_a(first_names="Jonas", email="family@example.org"))
    _deliver()
    assert len(_statements(db)) == 2
    texts = [text_of(m) for m in smtp.to("family@example.org")]
    assert len(texts) == 3
    assert all("/confirm/" in t for t in texts)  # Jonas's second try gets a fresh link, no refusal
