"""The progress map and the preview card: how long they take to draw, and how big they are.

    python -m bench.reach [--rounds 50]

Times, each the median of `rounds`: the map's SVG (all 27 member states), the card's PNG drawn afresh, the card
route on a cache miss and on a hit, and the initiative page (map, country list, share links and tags) over the test
client, on SQLite. Prints the sizes too (the SVG as sent and gzipped, the PNG), and a JSON line.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

os.environ.setdefault("QUORUM_INSTANCE", tempfile.mkdtemp(prefix="quorum-bench-"))
os.environ["QUORUM_ENV"] = "testing"

from app import create_app  # noqa: E402
from app.extensions import db  # noqa: E402
from bench.machine import describe  # noqa: E402
from config import TestingConfig  # noqa: E402


def _median_ms(action: Callable[[], object], rounds: int) -> float:
    action()  # warm: fonts loaded, outlines read, templates compiled
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        action()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def run(rounds: int) -> dict[str, Any]:
    from flask_migrate import upgrade

    from app.initiatives import create_initiative, progress
    from app.models import Initiative, utctoday
    from app.progress_map import progress_map
    from app.sealing import generate_key_pair
    from app.sharing.card import render_card
    from app.sharing.routes import card_cache, card_content

    path = os.path.join(os.environ["QUORUM_INSTANCE"], "bench-reach.db")
    app = create_app(TestingConfig(), SQLALCHEMY_DATABASE_URI=f"sqlite:///{path}", RATELIMIT_ENABLED=False)
    with app.app_context():
        upgrade()
        initiative = create_initiative(
            slug="bench-reach",
            title="Reclaim Your Face: ban biometric mass surveillance in public spaces",
            start=utctoday(),
            end=utctoday() + timedelta(days=300),
            summary="Every person has the right to move in public **without being tracked**.",
        )
        initiative.auditor_public_key = generate_key_pair()[1]
        for index, country in enumerate(initiative.countries):  # every step of the scale somewhere
            country.confirmed_count = country.threshold * (index % 6) // 4
        db.session.commit()
        slug = initiative.slug

    client = app.test_client()
    with app.test_request_context("/"):
        initiative = db.session.scalar(db.select(Initiative).where(Initiative.slug == slug))
        counts = progress(initiative)
        svg = str(progress_map(counts.countries).svg)
        map_ms = _median_ms(lambda: progress_map(counts.countries), rounds)
        content = card_content(initiative, counts)
        png = render_card(content)
        card_ms = _median_ms(lambda: render_card(content), max(5, rounds // 5))

    def miss() -> None:
        card_cache()._cards.clear()  # noqa: SLF001 (a cold cache, as after a new count)
        card_cache()._size = 0  # noqa: SLF001
        assert client.get(f"/i/{slug}/card.png").status_code == 200

    with app.app_context():
        route_miss_ms = _median_ms(miss, max(5, rounds // 5))
        route_hit_ms = _median_ms(lambda: client.get(f"/i/{slug}/card.png"), rounds)
        page = client.get(f"/i/{slug}")
        assert page.status_code == 200
        page_ms = _median_ms(lambda: client.get(f"/i/{slug}"), rounds)
    return {
        "map_svg_ms": round(map_ms, 2),
        "map_svg_bytes": len(svg.encode()),
        "map_svg_gzip_bytes": len(gzip.compress(svg.encode())),
        "card_png_ms": round(card_ms, 2),
        "card_png_bytes": len(png),
        "card_route_miss_ms": round(route_miss_ms, 2),
        "card_route_hit_ms": round(route_hit_ms, 2),
        "initiative_page_ms": round(page_ms, 2),
        "initiative_page_bytes": len(page.data),
        "initiative_page_gzip_bytes": len(gzip.compress(page.data)),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Time the progress map and the preview card.")
    parser.add_argument("--rounds", type=int, default=50)
    args = parser.parse_args(argv)
    result = run(args.rounds)
    print(f"bench.reach ({describe()})")
    r = result
    print(f"  map SVG:          {r['map_svg_ms']:7.2f} ms median, {r['map_svg_bytes']:,} bytes")
    print(f"                    ({r['map_svg_gzip_bytes']:,} gzipped)")
    print(f"  card PNG drawn:   {result['card_png_ms']:7.2f} ms median, {result['card_png_bytes']:,} bytes")
    print(f"  card route, miss: {result['card_route_miss_ms']:7.2f} ms median")
    print(f"  card route, hit:  {result['card_route_hit_ms']:7.2f} ms median")
    print(f"  initiative page:  {r['initiative_page_ms']:7.2f} ms median, {r['initiative_page_bytes']:,} bytes")
    print(f"                    ({r['initiative_page_gzip_bytes']:,} gzipped)")
    print(json.dumps({"bench": "reach", **result}))


if __name__ == "__main__":
    main()
