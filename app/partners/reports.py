"""What each partner brought in: counted statements per partner and member state, read from the counters that
`app.statements` keeps in the confirming transaction (never a GROUP BY over statements), and its addresses."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from ..extensions import db
from ..models import Initiative, Partner, PartnerCountry, PartnerHandover
from . import optins
from .organisations import partners_of


@dataclass(frozen=True)
class PartnerRow:
    partner: Partner
    confirmed: int
    countries: list[tuple[str, int]]  # (member state, counted statements), non-zero ones in the protocol order
    addresses: optins.OptInCounts
    handed_over: int  # addresses handed over in all its hand-overs

    def in_country(self, code: str) -> int:
        return dict(self.countries).get(code, 0)


def _rows(initiative: Initiative, partners: list[Partner]) -> list[PartnerRow]:
    ids = [p.id for p in partners]
    kept: dict[int, dict[str, int]] = {}
    handed: dict[int, int] = {}
    if ids:
        for partner_id, code, confirmed in db.session.execute(
            sa.select(PartnerCountry.partner_id, PartnerCountry.country_code, PartnerCountry.confirmed).where(
                PartnerCountry.partner_id.in_(ids), PartnerCountry.confirmed != 0
            )
        ):
            kept.setdefault(int(partner_id), {})[code] = int(confirmed)
        handed = {
            int(partner_id): int(total or 0)
            for partner_id, total in db.session.execute(
                sa.select(PartnerHandover.partner_id, sa.func.sum(PartnerHandover.addresses))
                .where(PartnerHandover.partner_id.in_(ids))
                .group_by(PartnerHandover.partner_id)
            )
        }
    order = [c.country_code for c in initiative.countries]
    addresses = optins.counts(ids)
    rows = []
    for partner in partners:
        per_country = kept.get(partner.id, {})
        countries = sorted(per_country.items(), key=lambda item: order.index(item[0]) if item[0] in order else 99)
        rows.append(
            PartnerRow(
                partner=partner,
                confirmed=sum(per_country.values()),
                countries=countries,
                addresses=addresses[partner.id],
                handed_over=handed.get(partner.id, 0),
            )
        )
    return rows


def partner_rows(initiative: Initiative) -> list[PartnerRow]:
    """Every partner of the initiative, by name."""
    return _rows(initiative, partners_of(initiative))


def partner_report(initiative: Initiative, partner: Partner) -> PartnerRow:
    return _rows(initiative, [partner])[0]
