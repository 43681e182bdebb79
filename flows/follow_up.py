"""One follow-up review of a housed client: a scheduled run per review (tasks/reviews.py plans them).

The run gathers what the corporation (rent arrears, nuisance) and the care provider (support still reaching the
client) reported since the last review, and asks the case manager for the review form, with those signals shown
and pre-filled. The review and the signals earn a card: yellow mails the coordinators and the corporation and
brings the next review closer (its scheduled run moves); red opens an escalation that waits on the coordinator's
decision in this same run. After the last review of the guided period the coordinator decides the omklap. When
the case ends, its remaining scheduled reviews are cancelled.
"""

from __future__ import annotations

from typing import Annotated

from prefect import flow, get_run_logger, runtime
from pydantic import Field

from config.regions import RegionCode
from flows.outflow import CaseReference, case_in, walk
from tasks.reviews import plan_reviews
from weerthuis.bootstrap import app
from weerthuis.domain.procedure import Step
from weerthuis.domain.stages import Stage
from weerthuis.runs import check_case_database
from weerthuis.service.views import CaseView

ReviewNumber = Annotated[int, Field(ge=1, le=20)]


@flow(name="follow-up", flow_run_name="{zaakreferentie} · nazorg {nazorgmoment}", persist_result=False)
def follow_up(zaakreferentie: CaseReference, regio: RegionCode, nazorgmoment: ReviewNumber) -> str:
    """Houd één nazorgmoment: signalen van corporatie en zorgaanbieder ophalen, het formulier van de
    trajectbegeleider, en bij een rode kaart het besluit van de coördinator.

    Args:
        zaakreferentie: De zaakreferentie, bijvoorbeeld WT-2026-0042.
        regio: De regio van de zaak.
        nazorgmoment: Het hoeveelste nazorgmoment dit is (1 = het eerste na de start van de begeleiding).
    """
    application, logger = app(), get_run_logger()
    check_case_database(runtime.flow_run.tags, application.casework)
    case = case_in(application, zaakreferentie, regio)
    if case.stage is not Stage.FOLLOW_UP:
        plan_reviews(zaakreferentie)  # ended: whatever is still scheduled goes
        logger.info("Zaak %s is niet (meer) in nazorg: %s.", zaakreferentie, case.stage.label)
        return case.stage.value
    if case.reviews_held + 1 < nazorgmoment:
        logger.warning(
            "Zaak %s: nazorgmoment %d is nog niet gehouden; dit moment (%d) wacht daarop.",
            zaakreferentie,
            case.reviews_held + 1,
            nazorgmoment,
        )
        return case.stage.value
    if case.reviews_held >= nazorgmoment and case.waiting_for is Step.REVIEW:
        plan_reviews(zaakreferentie)
        logger.info("Zaak %s: nazorgmoment %d is al gehouden.", zaakreferentie, nazorgmoment)
        return case.stage.value

    def done(now: CaseView) -> bool:
        # This review is held and nothing of it waits (no escalation, no omklap): the next review is its own run.
        return now.waiting_for is Step.REVIEW and now.reviews_held >= nazorgmoment

    return walk(application, zaakreferentie, done).stage.value
