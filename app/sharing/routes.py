"""`/i/<slug>/card.png` (the preview image) and `/i/<slug>/share/mastodon` (the signer names their server); the
`share_for(initiative)` template global that the initiative and thank-you pages build their links and tags from."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from flask import Blueprint, Response, abort, current_app, render_template, request
from flask.blueprints import BlueprintSetupState
from flask.typing import ResponseReturnValue
from flask_babel import format_decimal, ngettext
from flask_babel import gettext as _

from ..initiative_texts import shown_text
from ..initiatives import Progress, find_initiative, progress
from ..languages import current_language
from ..links import links
from ..models import Initiative, PublicStatus, utctoday
from ..statements.rules import is_public
from .card import HEIGHT, WIDTH, CardCache, CardContent
from .share_links import ShareLink, mastodon_instance, mastodon_share_url, plain_text, share_links

blueprint = Blueprint("sharing", __name__)

CARD_CACHE_KEY = "quorum.cards"
CARD_MAX_AGE = 300  # seconds: a crawler that comes back within five minutes may keep the card it has
CARD_CACHE_BYTES = 8 * 1024 * 1024  # about 150 cards of ~50 KB, per app process


@blueprint.record_once
def _make_cache(state: BlueprintSetupState) -> None:
    state.app.extensions[CARD_CACHE_KEY] = CardCache(CARD_CACHE_BYTES)


def card_cache() -> CardCache:
    return current_app.extensions[CARD_CACHE_KEY]  # type: ignore[no-any-return]


def _public_or_404(slug: str) -> Initiative:
    initiative = find_initiative(slug)
    if not is_public(initiative):
        abort(404)
    assert initiative is not None
    return initiative


@dataclass(frozen=True)
class Share:
    """What the page's preview tags and share links need, with absolute URLs under BASE_URL. The preview's parts
    that carry the count are made when a template reads them: the thank-you page's links need no count."""

    initiative: Initiative
    url: str
    title: str
    text: str  # the words a share link carries before the address
    links: list[ShareLink]
    given_counts: Progress | None = None
    card_width: int = WIDTH
    card_height: int = HEIGHT

    @cached_property
    def counts(self) -> Progress:
        return self.given_counts or progress(self.initiative)

    @cached_property
    def description(self) -> str:
        return plain_text(shown_text(self.initiative, current_language()).summary) or _(
            "A European citizens' initiative: %(count)s %(label)s so far.",
            count=format_decimal(self.counts.confirmed),
            label=_count_label(self.counts),
        )

    @cached_property
    def card_url(self) -> str:
        """The card's URL carries the count, so a new count is a new image."""
        return links().external("sharing.card", slug=self.initiative.slug, v=self.counts.confirmed)

    @cached_property
    def card_alt(self) -> str:
        return _(
            "“%(title)s”: %(count)s %(label)s, goal %(goal)s",
            title=self.title,
            count=format_decimal(self.counts.confirmed),
            label=_count_label(self.counts),
            goal=format_decimal(self.initiative.goal),
        )


def _title(initiative: Initiative) -> str:
    """The initiative's title in the page's language (its default language's where it has none)."""
    return shown_text(initiative, current_language()).title


def _share_text(initiative: Initiative) -> str:
    if initiative.public_status(utctoday()) == PublicStatus.COLLECTING:
        return _("Support “%(title)s” with your signature:", title=_title(initiative))
    return _("“%(title)s”:", title=_title(initiative))


def _count_label(counts: Progress) -> str:
    return ngettext("confirmed statement of support", "confirmed statements of support", counts.confirmed)


@blueprint.app_template_global()
def share_for(initiative: Initiative, counts: Progress | None = None) -> Share:
    """Links and preview of one initiative (its counts read when the preview is shown, unless given)."""
    url = links().external("signing.initiative_page", slug=initiative.slug)
    text = _share_text(initiative)
    title = _title(initiative)
    return Share(initiative, url, title, text, share_links(url, text, title), counts)


def card_content(initiative: Initiative, counts: Progress) -> CardContent:
    page = links().external("signing.initiative_page", slug=initiative.slug)
    return CardContent(
        site=page.split("://", 1)[-1],
        title=_title(initiative),
        count=format_decimal(counts.confirmed),
        count_label=_count_label(counts),
        goal_line=_(
            "Goal: %(goal)s · %(reached)d of %(min)d member states at their threshold",
            goal=format_decimal(initiative.goal),
            reached=counts.countries_reached,
            min=initiative.min_countries,
        ),
        share=counts.confirmed / initiative.goal if initiative.goal > 0 else 0.0,
    )


@blueprint.get("/i/<slug>/card.png")
def card(slug: str) -> Response:
    """The preview image, drawn from the counters; `?v=` in the page's link only makes a new count a new URL."""
    initiative = _public_or_404(slug)
    content = card_content(initiative, progress(initiative))
    etag = content.key()[:32]
    if request.if_none_match.contains(etag):  # the crawler has this card: nothing drawn, nothing sent
        response = Response(status=304)
    else:
        png, _key = card_cache().card(content)
        response = Response(png, mimetype="image/png")
    response.headers["Cache-Control"] = f"public, max-age={CARD_MAX_AGE}"
    response.set_etag(etag)
    return response


@blueprint.get("/i/<slug>/share/mastodon")
def mastodon(slug: str) -> ResponseReturnValue:
    """Mastodon has no one site to link to: the signer names their server, the page links to its share page.
    A link, not a redirect: the page's form-action policy keeps forms on this origin (docs/decisions/007)."""
    initiative = _public_or_404(slug)
    share = share_for(initiative)
    typed = request.args.get("instance")
    if typed is None:
        return render_template("sharing/mastodon.html", initiative=initiative, share=share, typed="")
    instance = mastodon_instance(typed)
    if instance is None:
        error = _("Enter the name of your Mastodon server, like mastodon.social")
        page = render_template(
            "sharing/mastodon.html", initiative=initiative, share=share, typed=typed[:300], error=error
        )
        return page, 422
    target = mastodon_share_url(instance, share.url, share.text)
    return render_template(
        "sharing/mastodon.html", initiative=initiative, share=share, typed=instance, instance=instance, target=target
    )
