"""The case summary above every form: pseudonymous, in Dutch, with what the case waits on and its history."""

from datetime import date, datetime

from config.regions import load_regions
from config.settings import REGIONS_DIR
from flows.summary import case_summary
from weerthuis.casework import CaseView, HistoryLine
from weerthuis.domain.stages import Stage
from weerthuis.domain.steps import Step


def test_summary_shows_stage_waiting_party_due_date_and_a_dutch_history() -> None:
    at = datetime(2026, 3, 2, 9, 30)
    case = CaseView(
        reference="WT-2026-0042",
        region="emmen",
        institution_type="MO",
        care_provider="leger-des-heils",
        stage=Stage.OFFER,
        attempt=2,
        stage_since=at,
        waiting_for=Step.OFFER,
        waiting_on="domesta",
        due_on=date(2026, 4, 13),
        refusals=1,
        corporation="domesta",
        reviews_held=0,
        next_review_on=None,
        history=(
            HistoryLine(at, "OfferRefused", Stage.OFFER, Stage.OFFER, "EMM-TB-01", "huur te hoog"),
            HistoryLine(at, "NominationAccepted", Stage.NOMINATION, Stage.OFFER, "EMM-DOM-01", ""),
        ),
    )
    text = case_summary(case, load_regions(REGIONS_DIR)["emmen"], rejected="Het contingent is op.")
    assert text.startswith("> **Vorige invoer is afgewezen:** Het contingent is op.")
    assert "### Zaak WT-2026-0042 — bemiddeling en aanbod" in text
    assert "| Wacht op | domesta: woning aanbieden |" in text
    assert "| Uiterlijk | 13-04-2026 |" in text
    assert "| Weigeringen | 1 van 2 |" in text
    assert "| 02-03-2026 | aanbod geweigerd (huur te hoog) | EMM-TB-01 |" in text
    assert "| 02-03-2026 | voordracht geaccepteerd → bemiddeling en aanbod | EMM-DOM-01 |" in text
