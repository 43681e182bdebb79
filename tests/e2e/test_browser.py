"""A coordinator's approvals in the real Prefect UI, in headless Chromium (Debian's, driven by Playwright).

Screenshots go to test-output/screenshots/. Without Chromium or Playwright the test skips with the reason;
`.ci/run` installs Chromium and makes it mandatory.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_outflow_case import register
from weerthuis.bootstrap import App
from weerthuis.devstack import REPO, LocalStack
from weerthuis.domain.stages import Stage
from weerthuis.domain.zrm import ZrmDomain
from weerthuis.runs import start_case, wait_for_form

pytestmark = pytest.mark.stack

CHROMIUM = os.environ.get("WEERTHUIS_CHROMIUM", "/usr/bin/chromium")
SHOTS = REPO / "test-output" / "screenshots"
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture(scope="module")
def page() -> Iterator[Any]:
    problem = None
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        problem = f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        problem = f"Playwright is not installed: {exc}"
    if problem:
        if os.environ.get("WEERTHUIS_REQUIRE_BROWSER") == "1":
            pytest.fail(f"the browser test is required here but {problem}")
        pytest.skip(problem)
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            yield browser.new_page(viewport={"width": 1400, "height": 1000})
        finally:
            browser.close()


class ResumeDialog:
    """The Prefect UI's Resume dialog of one run, operated as a person does."""

    def __init__(self, page: Any, run_url: str) -> None:
        self.page = page
        self.run_url = run_url

    def open(self, expect_text: str) -> None:
        from playwright.sync_api import expect

        self.page.goto(self.run_url)
        self.page.get_by_role("button", name=re.compile("Resume")).click()
        self.card = self.page.locator(".p-modal__card")
        expect(self.card.get_by_text(expect_text, exact=True).first).to_be_attached(timeout=30_000)

    def field(self, title: str) -> Any:
        label = self.page.locator(".schema-form-property__label", has_text=re.compile(f"^{re.escape(title)}$"))
        return self.card.locator(".schema-form-property").filter(has=label).first

    def type(self, title: str, value: str) -> None:
        box = self.field(title).locator("input")
        box.fill(value)
        box.press("Tab")  # leaving the field commits the value to the form (a number field takes it on change)

    def choose(self, title: str, value: str) -> None:
        button = self.field(title).locator("button.p-select-button__control")
        button.focus()
        button.press("ArrowDown")  # the select opens from the keyboard; a click only focuses it
        option = self.page.locator(".p-select-option__text", has_text=re.compile(rf"^\s*{re.escape(value)}\s*$"))
        option.first.click()

    def submit(self) -> None:
        self.card.get_by_role("button", name="Submit").click()

    def shot(self, name: str) -> None:
        self.page.screenshot(path=str(SHOTS / f"{name}.png"))


def test_a_coordinator_approves_readiness_in_the_prefect_ui(page: Any, app: App, stack: LocalStack) -> None:
    from playwright.sync_api import expect

    reference = register(app)
    run = start_case(reference, "emmen")
    wait_for_form(run.id)
    dialog = ResumeDialog(page, f"{stack.ui_url}/runs/flow-run/{run.id}")

    # The case manager scores the ZRM, mistyping one score as 7: the dialog refuses it and says why.
    dialog.open("Financiën")
    for domain in ZrmDomain:
        dialog.type(domain.label, "4")
    dialog.type("Financiën", "7")
    for question in (
        "Indicatie ambulante begeleiding?",
        "Kan zelfstandig wonen met begeleiding?",
        "Binding met de regio?",
    ):
        dialog.choose(question, "ja")
    dialog.choose("Wie beslist?", "EMM-TB-01")
    dialog.submit()
    # Depending on what else is filled in, the UI refuses it itself or shows the server's refusal as a notice.
    expect(page.get_by_text(re.compile("7 is greater than the maximum of 5")).first).to_be_visible()
    dialog.shot("1-zrm-score-7-refused")
    assert app.casework.view(reference).history[-1].event == "AssessmentStarted"

    dialog.type("Financiën", "3")
    dialog.submit()
    expect(dialog.card).to_be_hidden(timeout=30_000)
    wait_for_form(run.id, after_key="readiness-1-assessment")

    # The coordinator reads the case summary above the decision form and approves.
    dialog.open("Besluit")
    expect(dialog.card.get_by_text(f"Zaak {reference} — woonvaardigheid")).to_be_visible()
    expect(dialog.card.get_by_text("ZRM-meting vastgelegd")).to_be_visible()
    dialog.shot("2-readiness-decision")
    dialog.choose("Besluit", "klaar voor uitstroom")
    dialog.choose("Wie beslist?", "EMM-TP-01")
    dialog.submit()
    expect(dialog.card).to_be_hidden(timeout=15_000)
    wait_for_form(run.id, after_key="readiness-1-decision")

    # The run now reads as a case in nomination, and its next form asks for a corporation.
    page.goto(dialog.run_url)
    expect(page.get_by_text(f"{reference} · voordracht").first).to_be_visible(timeout=30_000)
    assert app.casework.view(reference).stage is Stage.NOMINATION
    dialog.open("Corporatie")
    expect(dialog.card.get_by_text(f"Zaak {reference} — voordracht")).to_be_visible()
    dialog.shot("3-moved-to-nomination")

    # Submitting the nomination without a choice is refused in the dialog, and the case stays put.
    dialog.submit()
    expect(page.get_by_text(re.compile("'corporation' is a required property")).first).to_be_visible()
    dialog.shot("4-empty-nomination-refused")
    case = app.casework.view(reference)
    assert case.stage is Stage.NOMINATION and case.history[-1].event == "ReadinessApproved"
