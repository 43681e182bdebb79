"""Closed choices of the procedure. Values are the Dutch words the forms show and the database keeps."""

from enum import StrEnum


class Role(StrEnum):
    COORDINATOR = "coordinator"
    CASE_MANAGER = "trajectbegeleider"
    CORPORATION_CONSULTANT = "woonconsulent"
    WMO_CONSULTANT = "wmo-consultant"

    @property
    def label(self) -> str:
        return {
            Role.COORDINATOR: "coördinator (Transferpunt of gemeente)",
            Role.CASE_MANAGER: "trajectbegeleider (zorgaanbieder)",
            Role.CORPORATION_CONSULTANT: "woonconsulent (corporatie)",
            Role.WMO_CONSULTANT: "Wmo-consulent (gemeente)",
        }[self]

    @property
    def noun(self) -> str:
        """The Dutch word for the role, as people read it beside a name: `coördinator`."""
        return {
            Role.COORDINATOR: "coördinator",
            Role.CASE_MANAGER: "trajectbegeleider",
            Role.CORPORATION_CONSULTANT: "woonconsulent",
            Role.WMO_CONSULTANT: "Wmo-consulent",
        }[self]


class InstitutionType(StrEnum):
    SOCIAL_SHELTER = "MO"  # maatschappelijke opvang
    SHELTERED_HOUSING = "BW"  # beschermd wonen


class ReadinessVerdict(StrEnum):
    READY = "klaar voor uitstroom"
    NOT_YET = "nog niet klaar"
    WITHDRAWN = "teruggetrokken"


class NominationAnswer(StrEnum):
    ACCEPTED = "geaccepteerd"
    DECLINED = "afgewezen"


class DeclineReason(StrEnum):
    NO_SUITABLE_DWELLING = "geen passende woning beschikbaar"
    NEIGHBOURHOOD_CAPACITY = "draagkracht wijk bereikt"
    RENT_HISTORY = "eerdere huurschuld of overlast"
    INCOMPLETE = "voordracht onvolledig"
    OTHER = "andere reden"


class OfferAnswer(StrEnum):
    ACCEPTED = "geaccepteerd"
    REFUSED = "geweigerd"


class RefusalReason(StrEnum):
    LOCATION = "locatie past niet (netwerk, werk, school)"
    SIZE_OR_LAYOUT = "grootte of indeling past niet"
    RENT_TOO_HIGH = "huur te hoog"
    NEIGHBOURHOOD = "wijk of buren niet passend"
    HEALTH = "niet geschikt voor gezondheid"
    OTHER = "andere reden"


class ContractForm(StrEnum):
    REGULAR = "regulier op naam van de cliënt"
    THREE_PARTY = "driepartijenovereenkomst"
    INTERMEDIARY = "intermediaire verhuur"


class SigningResult(StrEnum):
    """How the signing of a drawn-up lease ended (by the e-signature service, or on paper)."""

    SIGNED = "ondertekend"
    DECLINED = "geweigerd"
    EXPIRED = "verlopen"


class WmoDecision(StrEnum):
    GRANTED = "toegekend"
    APPLIED = "aangevraagd, nog geen beschikking"
    NOT_NEEDED = "niet nodig (andere financiering)"


class LivingSituation(StrEnum):
    GOOD = "gaat goed"
    CONCERNS = "zorgen"
    SERIOUS = "ernstige problemen"


class ReviewOutcome(StrEnum):
    CONTINUE = "nazorg loopt door"
    CLOSE_HOUSED = "afsluiten: gehuisvest"
    RELAPSE = "teruggevallen naar zorg"
    EVICTED = "ontruimd"
    MOVED = "verhuisd naar andere regio"


class Card(StrEnum):
    """How worried follow-up is: a yellow card warns, a red card (eviction risk) escalates to the coordinator."""

    YELLOW = "geel"
    RED = "rood"


class EscalationDecision(StrEnum):
    """The coordinator's decision on a red card."""

    CONTINUE = "extra inzet, nazorg loopt door"
    RELAPSE = "teruggevallen naar zorg"
    EVICTED = "ontruimd"
    MOVED = "verhuisd naar andere regio"


class OmklapDecision(StrEnum):
    """At the end of the guided period: the lease in the client's own name, more guidance, or the end."""

    TRANSFER = "omklap: huurcontract op eigen naam"
    EXTEND = "begeleiding verlengen"
    END = "beëindigen"


class CaseOutcome(StrEnum):
    """How a case ends, for the monitor (an omklap that is not a transfer still ends in one of these)."""

    HOUSED = "gehuisvest"
    RELAPSE = "teruggevallen naar zorg"
    EVICTED = "ontruimd"
    MOVED = "verhuisd naar andere regio"
    WITHDRAWN = "teruggetrokken"


class ProblemDecision(StrEnum):
    """What a coordinator does with an action another system refused."""

    RETRY = "opnieuw proberen"
    DONE_BY_HAND = "handmatig afgehandeld"
