"""Messages rendered once for many recipients (`compose(same_for=..., slots=...)`, app/template_slots.py): each
filled message is the one a whole render makes, and an edit of the initiative shows in the next one."""

from __future__ import annotations

import pytest

from app.initiative_texts import save_text
from app.initiatives import InitiativeChanges, revision, update_initiative
from app.languages import LANGUAGES
from app.mail.outbox import compose
from app.models import utctoday

from ..support.factories import make_initiative


def _confirmation(initiative, locale: str, url: str, unsubscribe: str | None, cached: bool):  # type: ignore[no-untyped-def]
    slots = {"url": url, **({"unsubscribe_url": unsubscribe} if unsubscribe else {})}
    options = (
        {"same_for": (revision(initiative), "DE", 7, unsubscribe is not None), "slots": slots} if cached else slots
    )
    return compose(
        "confirm",
        "someone@example.org",
        lambda: f"subject in {locale}",
        "confirm",
        locale=locale,
        initiative_id=initiative.id,
        initiative=initiative,
        country="DE",
        max_age_days=7,
        **options,
        **({} if unsubscribe or not cached else {"unsubscribe_url": None}),
    )


@pytest.mark.parametrize("locale", ["en", "de", "fr"])
@pytest.mark.parametrize("unsubscribe", [None, "https://quorum.example/i/x/unsubscribe/a&b<c>"])
def test_a_message_filled_from_the_cache_is_the_whole_render(app, db, locale, unsubscribe):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative(details={"organizers": "Anna <Nowak>\nZoë & Co", "contact_email": "a@b.eu"})
    save_text(initiative, "de", {"title": "Scannen <stoppen> & mehr"}, LANGUAGES)
    db.session.commit()
    with app.test_request_context("/"):
        for n in range(3):  # rendered, then twice from the cache
            url = f"https://quorum.example/i/x/confirm/token{n}&x=<{n}>"
            whole = _confirmation(initiative, locale, url, unsubscribe, cached=False)
            filled = _confirmation(initiative, locale, url, unsubscribe, cached=True)
            assert filled.body_text == whole.body_text
            assert filled.body_html == whole.body_html
            assert filled.subject == whole.subject
            assert url in (filled.body_text or "")
            assert "slot-" not in (filled.body_text or "") + (filled.body_html or "")


def test_an_edit_shows_in_the_next_confirmation_email(app, client, db):  # type: ignore[no-untyped-def]
    from app.models import OutboxMessage

    from ..support.factories import part_b

    initiative, _ = make_initiative()
    client.post(f"/i/{initiative.slug}/sign", data=part_b(email="first@example.org"))
    update_initiative(initiative, InitiativeChanges(title="Renamed"), utctoday())
    db.session.commit()
    client.post(f"/i/{initiative.slug}/sign", data=part_b(email="second@example.org", family_names="Nowak"))
    bodies = {m.to_address: m.body_text or "" for m in db.session.query(OutboxMessage)}
    assert "Renamed" not in bodies["first@example.org"]
    assert "Renamed" in bodies["second@example.org"]
