"""A refused form says in Dutch what is wrong, naming each field by the title the form shows."""

from __future__ import annotations

from typing import Any

import pytest
from prefect.input.run_input import create_v2_schema
from prefect.utilities.schema_tools.validation import validate

from flows import forms
from tests.e2e.test_outflow_case import zrm
from weerthuis.server.refusals import field_messages, refusal

SCHEMA = create_v2_schema("ZRM", model_base=forms.zrm_assessment_form(["EMM-TB-01", "EMM-TB-02"]))


def refused(answer: dict[str, Any]) -> str:
    return refusal(validate(answer, SCHEMA), SCHEMA)


@pytest.mark.parametrize(
    ("answer", "said"),
    [
        ({**zrm(), "financien": 7}, "'Financiën': 7 kan niet; vul 1 tot en met 5 in."),
        (zrm(assessor="EMM-XX-99"), "'Wie beslist?': 'EMM-XX-99' is hier geen keuze; kies uit EMM-TB-01, EMM-TB-02."),
        ({**zrm(), "region_tie": "misschien"}, "'Binding met de regio?': 'misschien' is hier geen keuze"),
        ({**zrm(), "hobby": "vissen"}, "Dit formulier kent 'hobby' niet."),
        ({k: v for k, v in zrm().items() if k != "justitie"}, "'Justitie': niet ingevuld."),
        ({**zrm(), "assessed_on": "gisteren"}, "'Datum van de meting': 'gisteren' is geen datum (jjjj-mm-dd)."),
        ({**zrm(), "financien": "veel"}, "'Financiën': 'veel' is geen heel getal."),
    ],
    ids=["above-maximum", "unknown-person", "unknown-choice", "extra-field", "missing", "not-a-date", "not-a-number"],
)
def test_each_refusal_names_the_field_as_the_form_shows_it(answer: dict[str, Any], said: str) -> None:
    reason = refused(answer)
    assert reason.startswith("Niet opgeslagen. ")
    assert said in reason
    assert "Validation failed" not in reason and "financien" not in reason


def test_every_failing_field_is_named_in_the_order_of_the_form() -> None:
    reason = refused({**zrm(), "justitie": 0, "financien": 9, "assessed_on": "morgen"})
    assert reason.index("Datum van de meting") < reason.index("Financiën") < reason.index("Justitie")


def test_under_each_field_the_ui_shows_what_is_wrong_in_dutch() -> None:
    answer = {**zrm(), "financien": 7, "assessor": "EMM-XX-99"}
    del answer["justitie"]
    assert field_messages(validate(answer, SCHEMA), SCHEMA) == {
        "financien": ["7 kan niet; vul 1 tot en met 5 in."],
        "assessor": ["'EMM-XX-99' is hier geen keuze; kies uit EMM-TB-01, EMM-TB-02."],
        "justitie": ["Niet ingevuld."],
    }
