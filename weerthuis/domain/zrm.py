"""The Zelfredzaamheid-Matrix: 13 domains, each scored 1 (acuut probleem) to 5 (volledig zelfredzaam)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum


class ZrmDomain(StrEnum):
    FINANCES = "financien"
    WORK_AND_EDUCATION = "werk_opleiding"
    TIME_USE = "tijdsbesteding"
    HOUSING = "huisvesting"
    DOMESTIC_RELATIONS = "huiselijke_relaties"
    MENTAL_HEALTH = "geestelijke_gezondheid"
    PHYSICAL_HEALTH = "lichamelijke_gezondheid"
    SUBSTANCE_USE = "middelengebruik"
    BASIC_ADL = "basale_adl"
    INSTRUMENTAL_ADL = "instrumentele_adl"
    SOCIAL_NETWORK = "sociaal_netwerk"
    SOCIAL_PARTICIPATION = "maatschappelijke_participatie"
    JUSTICE = "justitie"

    @property
    def label(self) -> str:
        return ZRM_LABELS[self]


ZRM_LABELS: dict[ZrmDomain, str] = {
    ZrmDomain.FINANCES: "Financiën",
    ZrmDomain.WORK_AND_EDUCATION: "Werk & opleiding",
    ZrmDomain.TIME_USE: "Tijdsbesteding",
    ZrmDomain.HOUSING: "Huisvesting",
    ZrmDomain.DOMESTIC_RELATIONS: "Huiselijke relaties",
    ZrmDomain.MENTAL_HEALTH: "Geestelijke gezondheid",
    ZrmDomain.PHYSICAL_HEALTH: "Lichamelijke gezondheid",
    ZrmDomain.SUBSTANCE_USE: "Middelengebruik",
    ZrmDomain.BASIC_ADL: "Basale ADL",
    ZrmDomain.INSTRUMENTAL_ADL: "Instrumentele ADL",
    ZrmDomain.SOCIAL_NETWORK: "Sociaal netwerk",
    ZrmDomain.SOCIAL_PARTICIPATION: "Maatschappelijke participatie",
    ZrmDomain.JUSTICE: "Justitie",
}

MIN_SCORE = 1
MAX_SCORE = 5


class InvalidAssessment(ValueError):
    """A ZRM assessment that is incomplete or out of range."""


@dataclass(frozen=True)
class ZrmAssessment:
    """One scored ZRM, kept whole: every assessment stays in the case history, not only the verdict."""

    assessed_on: date
    assessor: str
    scores: dict[ZrmDomain, int]
    ambulant_support_indication: bool
    can_live_alone_with_support: bool
    region_tie: bool

    def __post_init__(self) -> None:
        missing = [d.value for d in ZrmDomain if d not in self.scores]
        if missing:
            raise InvalidAssessment(f"ZRM mist domeinen: {', '.join(missing)}")
        for domain, score in self.scores.items():
            if isinstance(score, bool) or not isinstance(score, int) or not MIN_SCORE <= score <= MAX_SCORE:
                raise InvalidAssessment(
                    f"ZRM-score voor {domain.label} moet een geheel getal van {MIN_SCORE} tot {MAX_SCORE} zijn, "
                    f"niet {score!r}"
                )

    @property
    def domains_in_crisis(self) -> list[ZrmDomain]:
        """Domains scored 1 or 2 (acuut of niet zelfredzaam): what a coordinator looks at first."""
        return [d for d in ZrmDomain if self.scores[d] <= 2]
