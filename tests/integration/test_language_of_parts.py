"""Language of parts (WCAG 3.1.2): where the initiative's title is quoted inside a sentence of the page's language
but has no text of its own in that language, the quote carries the default language's `lang`, so a screen reader
speaks it with the right voice. With a text of its own in the page's language, no mark."""

from __future__ import annotations

import re

from ..support.factories import confirmation_url, make_initiative, part_b, path_of, submit

TITLE = "Stop <scanning> & tracking"
ESCAPED = "Stop &lt;scanning&gt; &amp; tracking"


def _pages(client, initiative) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Every public page that quotes the title in a sentence, in German."""
    outcome = submit(initiative, part_b())
    from app.extensions import db

    db.session.commit()
    slug = initiative.slug
    confirm_path = path_of(confirmation_url(initiative, outcome.statement_id))
    pages = {
        "sign": client.get(f"/i/{slug}/sign?lang=de"),
        "privacy": client.get(f"/i/{slug}/privacy?lang=de"),
        "check inbox": client.get(f"/i/{slug}/thanks?lang=de"),
        "confirm": client.get(f"{confirm_path}?lang=de"),
        "confirmed": client.post(f"{confirm_path}?lang=de"),
        "mastodon": client.get(f"/i/{slug}/share/mastodon?lang=de"),
    }
    assert {name: page.status_code for name, page in pages.items()} == dict.fromkeys(pages, 200)
    return {name: page.text for name, page in pages.items()}


def _quotes(page: str) -> list[str]:
    """The paragraphs and headings of <main> that quote the title."""
    main = page.split("<main", 1)[1].split("</main>", 1)[0]
    return [block for block in re.findall(r"<(?:h1|p)\b.*?</(?:h1|p)>", main, re.S) if "Stop &lt;scanning" in block]


def test_a_title_in_the_default_language_is_marked_with_it(client, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative(title=TITLE)
    for name, page in _pages(client, initiative).items():
        assert '<html lang="de">' in page, name
        quotes = _quotes(page)
        assert quotes, name
        for quote in quotes:  # a quote in a German sentence is marked; a paragraph of the title alone is, itself
            assert f'<span lang="en">{ESCAPED}</span>' in quote or quote.startswith('<p class="lead" lang="en">'), quote
        assert "<scanning>" not in page, name  # still escaped inside the mark
    assert (
        len(_quotes(_pages(client, make_initiative("other", title=TITLE)[0])["confirmed"])) == 2
    )  # and the invitation


def test_a_title_written_in_the_pages_language_is_not_marked(client, db):  # type: ignore[no-untyped-def]
    from app.initiative_texts import save_text
    from app.languages import LANGUAGES

    initiative, _ = make_initiative(title=TITLE)
    save_text(initiative, "de", {"title": "Scannen & Verfolgen stoppen"}, LANGUAGES)
    db.session.commit()
    for name, page in _pages(client, initiative).items():
        assert "Scannen &amp; Verfolgen stoppen" in page, name
        assert 'lang="en"' not in page.split("<main", 1)[1].split("</main>", 1)[0], name
