"""The case page and the worklist, rendered from case views: right rows, urgent first, nothing personal."""

from datetime import date, datetime

import pytest

from config.regions import RegionCode, load_regions
from config.settings import REGIONS_DIR
from flows.pages import case_page, case_page_key, worklist
from tasks.pages import run_name, run_tags
from weerthuis.domain.procedure import Step
from weerthuis.domain.stages import Stage
from weerthuis.service.views import CaseView, HistoryLine

REGIONS = load_regions(REGIONS_DIR)
AT = datetime(2026, 3, 2, 9, 30)


def view(
    reference: str, step: Step | None, due: date | None, *, corporation: str | None = None, stage: Stage | None = None
) -> CaseView:
    return CaseView(
        reference=reference,
        region="emmen",
        institution_type="MO",
        care_provider="leger-des-heils",
        stage=stage or Stage.NOMINATION,
        attempt=1,
        stage_since=AT,
        waiting_for=step,
        waiting_on=None,
        due_on=due,
        refusals=0,
        corporation=corporation,
        reviews_held=0,
        next_review_on=None,
        flow_run_id="abc-123",
        history=(
            HistoryLine(AT, "AssessmentStarted", Stage.REGISTERED, Stage.READINESS, "systeem", ""),
            HistoryLine(
                datetime(2026, 3, 5, 14, 0), "ReadinessApproved", Stage.READINESS, Stage.NOMINATION, "EMM-TP-01", ""
            ),
        ),
    )


def test_region_codes_match_the_region_files() -> None:
    assert {code.value for code in RegionCode} == set(REGIONS)


def test_worklist_lists_waiting_cases_most_urgent_first_with_overdue_marked() -> None:
    rows = worklist(
        [
            view("WT-2026-0003", Step.NOMINATION_RESPONSE, date(2026, 3, 20), corporation="lefier"),
            view("WT-2026-0001", None, None, stage=Stage.CLOSED),
            view("WT-2026-0002", Step.NOMINATION_PROPOSAL, date(2026, 3, 9)),
        ],
        REGIONS,
        ui_url="http://127.0.0.1:4200",
        today=date(2026, 3, 10),
    )
    assert [row["zaak"] for row in rows] == ["WT-2026-0002", "WT-2026-0003"]
    assert rows[0] == {
        "zaak": "WT-2026-0002",
        "regio": "Zuidoost-Drenthe (Emmen)",
        "fase": "voordracht",
        "wacht op": "coördinator (Zuidoost-Drenthe (Emmen))",
        "stap": "voordracht aan een corporatie",
        "sinds": "05-03-2026",
        "uiterlijk": "09-03-2026",
        "te laat": "ja",
        "probleem": "",
        "formulier": "http://127.0.0.1:4200/runs/flow-run/abc-123",
    }
    assert rows[1]["wacht op"] == "woonconsulent (Lefier)" and rows[1]["te laat"] == "nee"


def test_case_page_says_what_the_case_waits_on_until_when_and_links_to_its_run() -> None:
    page = case_page(
        view("WT-2026-0002", Step.NOMINATION_PROPOSAL, date(2026, 3, 9)),
        REGIONS["emmen"],
        ui_url="http://127.0.0.1:4200/",
        today=date(2026, 3, 10),
    )
    assert page.startswith("# Zaak WT-2026-0002")
    assert (
        "**Wacht op** coördinator (Zuidoost-Drenthe (Emmen)): voordracht aan een corporatie, "
        "uiterlijk 09-03-2026 — **te laat**."
    ) in page
    assert "(http://127.0.0.1:4200/runs/flow-run/abc-123)" in page
    assert "| fase | begonnen (Nederlandse tijd) | door |" in page
    assert "| woonvaardigheid | 02-03-2026 09:30 | systeem |" in page
    assert "| voordracht | 05-03-2026 14:00 | EMM-TP-01 |" in page
    assert "| wanneer (Nederlandse tijd) | wat | door |" in page
    # Every table has a header that says what its columns are, and no literal Markdown is left in link texts.
    assert "| | |" not in page and "*Resume*" not in page


def test_case_page_key_is_of_the_shape_prefect_accepts() -> None:
    assert case_page_key("WT-2026-0042") == "case-wt-2026-0042"


@pytest.mark.parametrize(
    ("corporation", "expected"),
    [(None, ["weer-thuis", "regio:emmen"]), ("lefier", ["weer-thuis", "regio:emmen", "corporatie:lefier"])],
)
def test_runs_are_named_by_reference_and_stage_and_tagged_by_region_and_corporation(
    corporation: str | None, expected: list[str]
) -> None:
    case = view("WT-2026-0002", Step.OFFER, None, corporation=corporation, stage=Stage.OFFER)
    assert run_name(case) == "WT-2026-0002 · bemiddeling en aanbod"
    assert run_tags(case, ["weer-thuis", "regio:emmen", "corporatie:domesta"]) == expected


def test_a_refused_action_shows_on_the_case_page_and_in_the_worklist() -> None:
    from dataclasses import replace

    stuck = replace(
        view("WT-2026-0002", Step.NOMINATION_PROPOSAL, date(2026, 3, 9)),
        problem="zaaksysteem: POST zaken geweigerd (400): zaaktype: Het zaaktype is niet bekend",
    )
    page = case_page(stuck, REGIONS["emmen"], ui_url="http://127.0.0.1:4200", today=date(2026, 3, 6))
    assert "**Probleem met een koppeling** (wacht op de coördinator): zaaksysteem: POST zaken geweigerd (400)" in page
    (row,) = worklist([stuck], REGIONS, ui_url="http://127.0.0.1:4200", today=date(2026, 3, 6))
    assert row["probleem"].startswith("zaaksysteem: POST zaken geweigerd (400): zaaktype")
