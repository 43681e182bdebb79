"""Contingents and neighbourhood caps, enforced in the transaction that claims a place.

The quota row is locked (SELECT … FOR UPDATE on PostgreSQL; SQLite's units of work hold the write lock from
BEGIN IMMEDIATE), then places in use are counted and the claim is written before the lock is released: two
concurrent claims for the last place can never both succeed.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from config.regions import Region
from weerthuis.casedb.models import Contingent, NeighbourhoodQuota, Nomination, Offer

# Nominations in these states hold a contingent place; declined and released ones gave it back.
HOLDING = ("proposed", "accepted")


class Refused(Exception):
    """A decision the procedure cannot take as given; the person is asked again with this message."""


class ContingentExhausted(Refused):
    pass


class NeighbourhoodFull(Refused):
    pass


def sync_quotas(session: Session, region: Region, year: int) -> None:
    """Make the year's contingent and cap rows match the region file (sizes may change during a year)."""
    for corporation in region.corporations:
        row = session.execute(
            select(Contingent).filter_by(region=region.code, corporation=corporation.code, year=year)
        ).scalar_one_or_none()
        if row is None:
            session.add(
                Contingent(region=region.code, corporation=corporation.code, year=year, size=corporation.contingent)
            )
        else:
            row.size = corporation.contingent
    for neighbourhood in region.neighbourhoods:
        quota = session.execute(
            select(NeighbourhoodQuota).filter_by(region=region.code, neighbourhood=neighbourhood.code, year=year)
        ).scalar_one_or_none()
        if quota is None:
            session.add(
                NeighbourhoodQuota(
                    region=region.code,
                    neighbourhood=neighbourhood.code,
                    year=year,
                    cap=neighbourhood.yearly_cap,
                )
            )
        else:
            quota.cap = neighbourhood.yearly_cap


def places_used(session: Session, region: str, corporation: str, year: int) -> int:
    return session.execute(
        select(func.count())
        .select_from(Nomination)
        .where(
            Nomination.region == region,
            Nomination.corporation == corporation,
            Nomination.year == year,
            Nomination.status.in_(HOLDING),
        )
    ).scalar_one()


def places_left(session: Session, region: Region, year: int) -> dict[str, int]:
    """Contingent places left per corporation this year, in the region file's order."""
    rows = session.execute(select(Contingent.corporation, Contingent.size).filter_by(region=region.code, year=year))
    sizes: dict[str, int] = {corporation: size for corporation, size in rows}
    return {c.code: sizes.get(c.code, 0) - places_used(session, region.code, c.code, year) for c in region.corporations}


def claim_contingent_place(session: Session, region: Region, corporation: str, year: int) -> None:
    """Lock the corporation's contingent for the year and check a place is left; the caller writes the claim."""
    name = region.corporation(corporation).name
    row = session.execute(
        select(Contingent).filter_by(region=region.code, corporation=corporation, year=year).with_for_update()
    ).scalar_one_or_none()
    if row is None:
        raise ContingentExhausted(f"{name} heeft voor {year} geen contingent in regio {region.name}.")
    used = places_used(session, region.code, corporation, year)
    if used >= row.size:
        raise ContingentExhausted(
            f"Het contingent van {name} voor {year} is op ({used} van {row.size} woningen gebruikt). "
            "Kies een andere corporatie."
        )


def claim_neighbourhood_place(session: Session, region: Region, neighbourhood: str, year: int) -> None:
    """Lock the neighbourhood's cap for the year and check it can carry one more placement."""
    name = next(n.name for n in region.neighbourhoods if n.code == neighbourhood)
    quota = session.execute(
        select(NeighbourhoodQuota)
        .filter_by(region=region.code, neighbourhood=neighbourhood, year=year)
        .with_for_update()
    ).scalar_one_or_none()
    if quota is None:
        raise NeighbourhoodFull(f"Voor {name} is voor {year} geen plafond vastgesteld.")
    placed = session.execute(
        select(func.count())
        .select_from(Offer)
        .where(
            Offer.region == region.code,
            Offer.neighbourhood == neighbourhood,
            Offer.year == year,
            # A refused offer gave its place back; an open or accepted one holds it.
            (Offer.answer.is_(None)) | (Offer.answer == "accepted"),
        )
    ).scalar_one()
    if placed >= quota.cap:
        raise NeighbourhoodFull(
            f"{name} heeft het plafond voor {year} bereikt ({placed} van {quota.cap} plaatsingen). "
            "Kies een woning in een andere wijk."
        )
