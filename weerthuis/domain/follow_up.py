"""Follow-up after the keys: the signals of a review and the card they earn.

A signal is what the corporation or the care provider reported since the last review, as `kind:severity`
(`huurachterstand:geel`, `overlast:rood`, `begeleiding:geel` when support no longer reaches the client). The card
weighs them with what the case manager saw: a red card (risk of eviction) escalates to the coordinator, a yellow
card warns the coordinator and the corporation and brings the next review closer.
"""

from __future__ import annotations

from weerthuis.domain.vocabulary import Card, LivingSituation

SIGNAL_KINDS = {"huurachterstand": "huurachterstand", "overlast": "overlast", "begeleiding": "begeleiding bereikt niet"}


def signal(kind: str, severity: Card) -> str:
    if kind not in SIGNAL_KINDS:
        raise ValueError(f"onbekend signaal {kind!r}")
    return f"{kind}:{severity.value}"


def card_for(
    signals: tuple[str, ...],
    *,
    living_situation: LivingSituation,
    rent_arrears: bool,
    nuisance: bool,
    support_reached: bool,
) -> Card | None:
    """Red: a red signal, serious problems, or arrears and nuisance together. Yellow: any other signal or worry."""
    severities = {s.rsplit(":", 1)[1] for s in signals}
    if Card.RED.value in severities or living_situation is LivingSituation.SERIOUS or (rent_arrears and nuisance):
        return Card.RED
    worried = rent_arrears or nuisance or not support_reached or living_situation is LivingSituation.CONCERNS
    return Card.YELLOW if signals or worried else None


def in_words(signals: str) -> str:
    """`huurachterstand:geel,overlast:rood` → `huurachterstand (geel), overlast (rood)`; empty: `geen`."""
    parts = [s.rsplit(":", 1) for s in signals.split(",") if s]
    return ", ".join(f"{SIGNAL_KINDS.get(kind, kind)} ({severity})" for kind, severity in parts) or "geen"
