"""The case summary above every form: pseudonymous, in Dutch, with what the case waits on and its history."""

from datetime import date, datetime

from config.regions import load_regions
from config.settings import REGIONS_DIR
from flows.summary import case_history, case_summary
from weerthuis.domain.procedure import Step
from weerthuis.domain.stages import Stage
from weerthuis.service.views import CaseView, HistoryLine


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
    assert "**Zaak WT-2026-0042 — bemiddeling en aanbod** (poging 2, sinds 02-03-2026)" in text
    assert "- Wacht op: woning aanbieden, uiterlijk 13-04-2026" in text
    assert "- Corporatie: Domesta (domesta)" in text
    assert "- Zorgaanbieder" not in text and "zorgaanbieder Leger des Heils Noord (leger-des-heils)" in text
    assert "- Weigeringen: 1 van 2" in text
    # Short: the last step only; the whole history is on the case page.
    assert "- Laatste stap: voordracht geaccepteerd (02-03-2026, EMM-DOM-01)" in text
    assert "aanbod geweigerd" not in text and len(text.splitlines()) <= 12
    history = case_history(case)
    assert "| wanneer (Nederlandse tijd) | wat | door |" in history
    assert "| 02-03-2026 09:30 | aanbod geweigerd (huur te hoog) | EMM-TB-01 |" in history
    assert "| 02-03-2026 09:30 | voordracht geaccepteerd → bemiddeling en aanbod | EMM-DOM-01 |" in history
