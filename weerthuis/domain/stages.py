"""The stages of one outflow case, in procedure order, and its end states."""

from enum import StrEnum


class Stage(StrEnum):
    REGISTERED = "registered"
    READINESS = "readiness"
    NOMINATION = "nomination"
    OFFER = "offer"
    TENANCY = "tenancy"
    SUPPORT = "support"
    FOLLOW_UP = "follow_up"
    # End states.
    CLOSED = "closed"
    WITHDRAWN = "withdrawn"
    RELAPSED = "relapsed"
    EVICTED = "evicted"
    MOVED = "moved"

    @property
    def label(self) -> str:
        """The Dutch name coordinators use."""
        return STAGE_LABELS[self]

    @property
    def is_final(self) -> bool:
        return self in END_STAGES


STAGE_LABELS: dict[Stage, str] = {
    Stage.REGISTERED: "aanmelding",
    Stage.READINESS: "woonvaardigheid",
    Stage.NOMINATION: "voordracht",
    Stage.OFFER: "bemiddeling en aanbod",
    Stage.TENANCY: "huurovereenkomst",
    Stage.SUPPORT: "begeleiding aan huis",
    Stage.FOLLOW_UP: "nazorg",
    Stage.CLOSED: "afgesloten (gehuisvest)",
    Stage.WITHDRAWN: "teruggetrokken",
    Stage.RELAPSED: "teruggevallen",
    Stage.EVICTED: "ontruimd",
    Stage.MOVED: "verhuisd naar andere regio",
}

END_STAGES = frozenset({Stage.CLOSED, Stage.WITHDRAWN, Stage.RELAPSED, Stage.EVICTED, Stage.MOVED})
ACTIVE_STAGES = frozenset(Stage) - END_STAGES
# Once a home is in sight a case can fall back to care; before that it is simply withdrawn.
HOUSING_STAGES = frozenset({Stage.NOMINATION, Stage.OFFER, Stage.TENANCY, Stage.SUPPORT, Stage.FOLLOW_UP})
