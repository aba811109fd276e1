"""The public page stays within a budget of work whatever staff typed (issue 7, point 5): the caps refuse longer
texts, the worst texts within them cost a bounded number of markdown-it lines on the first view, and none on the
next ones, in each language (rendered once per revision). Counted, not timed: bench/markdown.py has the times."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from app.initiative_texts import save_text
from app.initiatives import TEXT_LIMITS, InitiativeChanges, update_initiative
from app.languages import LANGUAGES
from app.models import utctoday
from app.sharing.share_links import plain_text
from app.template_helpers import rendered_markdown

from ..support.factories import make_initiative, make_staff, sign_in_as
from ..support.markdown_work import markdown_work
from ..unit.test_markdown_budget import LINES_PER_CHARACTER, PATHOLOGICAL

CAP = TEXT_LIMITS["summary"]
PAGE_BUDGET = 3 * LINES_PER_CHARACTER * CAP
"""The summary rendered, the objectives rendered, the summary read once more for the preview card's description."""


def _fresh() -> None:
    rendered_markdown.clear()
    plain_text.cache_clear()


def test_the_worst_page_within_the_caps_is_rendered_once_per_revision(client: FlaskClient, db: Any) -> None:
    assert TEXT_LIMITS["objectives"] == CAP
    # the worst summary within the cap (tests/unit/test_markdown_budget.py), read twice on a first view: rendered,
    # and parsed for the preview card's description; the other texts differ, so nothing is shared between them
    summary, objectives = PATHOLOGICAL["image openers"](CAP), PATHOLOGICAL["images in links"](1_000)
    initiative, _ = make_initiative("worst", summary=summary, details={"objectives": objectives})
    german = {"title": "Schlimmster Fall", "summary": PATHOLOGICAL["link openers"](1_000), "objectives": "[x][" * 250}
    save_text(initiative, "de", german, LANGUAGES)
    db.session.commit()
    _fresh()

    with markdown_work() as first:
        assert client.get("/i/worst").status_code == 200
    assert 2 * LINES_PER_CHARACTER * CAP * 0.8 < first.lines <= PAGE_BUDGET  # near the worst, within the budget
    with markdown_work() as again:
        assert client.get("/i/worst").status_code == 200
        assert client.get("/").status_code == 200
    assert again.lines == 0  # nothing rendered again

    with markdown_work() as german:
        page = client.get("/i/worst?lang=de")
    assert page.status_code == 200 and "Schlimmster Fall" in page.text
    assert 0 < german.lines <= PAGE_BUDGET  # the German texts, rendered for the first time
    with markdown_work() as german_again:
        client.get("/i/worst?lang=de")
    assert german_again.lines == 0


def test_an_edit_is_rendered_anew(client: FlaskClient, db: Any) -> None:
    initiative, _ = make_initiative("edited", summary="Clean *air*")
    _fresh()
    assert "Clean <em>air</em>" in client.get("/i/edited").text
    update_initiative(initiative, InitiativeChanges(summary="Clean **water**"), utctoday())
    db.session.commit()
    assert "Clean <strong>water</strong>" in client.get("/i/edited").text


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("summary", "a" * (CAP + 1), f"at most {CAP} characters"),
        ("objectives", "a" * (TEXT_LIMITS["objectives"] + 1), "at most"),
        ("title", "T" * 201, "too long"),
        ("summary", "a\x07b", "control characters"),
        ("objectives", "a\x0bb", "control characters"),
        ("title", "a\x1bb", "control characters"),
    ],
)
def test_the_forms_refuse_texts_past_the_caps(
    client: FlaskClient, db: Any, field: str, value: str, message: str
) -> None:  # noqa: E501
    initiative, _ = make_initiative("capped")
    sign_in_as(client, make_staff(db, "ada@example.org", "admin"))
    form = {
        "title": initiative.title,
        "summary": "",
        "objectives": "",
        "collection_start": initiative.collection_start.isoformat(),
        "collection_end": initiative.collection_end.isoformat(),
        field: value,
    }
    edit = client.post("/admin/initiatives/capped/edit", data=form)
    assert edit.status_code == 422 and message in edit.text
    text = client.post(
        "/admin/initiatives/capped/texts/de", data={"title": "Titel", "summary": "", "objectives": "", field: value}
    )
    assert text.status_code == 422 and message in text.text
    new = client.post(
        "/admin/initiatives/new",
        data={**form, "slug": "another", "goal": "1000000", "min_countries": "7"},
    )
    assert new.status_code == 422 and message in new.text


def test_a_text_at_its_cap_is_accepted_with_browser_line_breaks(client: FlaskClient, db: Any) -> None:
    """A textarea's maxlength counts a line break once; the browser sends it as CR LF."""
    initiative, _ = make_initiative("full")
    sign_in_as(client, make_staff(db, "ada@example.org", "admin"))
    summary = ("a" * 99 + "\r\n") * (CAP // 100)
    assert len(summary.replace("\r\n", "\n")) == CAP < len(summary)
    form = {
        "title": initiative.title,
        "summary": summary,
        "collection_start": initiative.collection_start.isoformat(),
        "collection_end": initiative.collection_end.isoformat(),
    }
    assert client.post("/admin/initiatives/full/edit", data=form).status_code == 302
