"""The forms' JSON Schema is what the server validates a resume against: closed choices, limits, Dutch titles."""

import re
from datetime import date

import jsonschema
import pytest
from prefect.input.run_input import create_v2_schema

from flows import forms


def schema(form: type) -> dict:
    return create_v2_schema(form.__name__, model_base=form)


def test_zrm_form_limits_each_domain_to_one_to_five_and_titles_it_in_dutch() -> None:
    properties = schema(forms.zrm_assessment_form(["EMM-TB-01"]))["properties"]
    assert properties["financien"]["minimum"] == 1 and properties["financien"]["maximum"] == 5
    assert properties["middelengebruik"]["title"] == "Middelengebruik"
    assert properties["assessor"]["enum"] == ["EMM-TB-01"]


def test_who_decides_is_a_closed_list_of_staff_codes() -> None:
    form = forms.readiness_decision_form(["EMM-TP-01", "EMM-TP-02"])
    properties = schema(form)["properties"]
    assert properties["decided_by"]["enum"] == ["EMM-TP-01", "EMM-TP-02"]
    assert properties["decided_by"]["title"] == "Wie beslist?"
    assert properties["verdict"]["enum"] == ["klaar voor uitstroom", "nog niet klaar", "teruggetrokken"]


def test_prefilled_form_keeps_titles_and_limits_and_carries_the_summary() -> None:
    form = forms.prefilled(forms.signing_form(["EMM-DOM-01"]), "### Zaak WT-2026-0001", signed_on="2026-03-02")
    properties = schema(form)["properties"]
    assert properties["signed_on"]["title"] == "Datum ondertekening"
    assert properties["signed_on"]["default"] == "2026-03-02"
    assert form._description == "### Zaak WT-2026-0001"


def test_a_prefilled_date_stays_required_so_the_ui_does_not_call_it_optional() -> None:
    support = forms.support_form(["leger-des-heils", "cosis"], ["EMM-TB-01"])
    form = forms.prefilled(support, "", starts_on=date(2026, 3, 2), provider="cosis")
    generated = schema(form)
    assert generated["properties"]["starts_on"]["default"] == "2026-03-02"
    assert generated["properties"]["starts_on"]["format"] == "date"
    assert generated["properties"]["provider"]["enum"] == ["leger-des-heils", "cosis"]
    assert generated["properties"]["provider"]["default"] == "cosis"
    assert {"starts_on", "provider"} <= set(generated["required"])
    answer = {"wmo_decision": "toegekend", "plan_agreed": "ja", "decided_by": "EMM-TB-01"}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(answer, generated)
    with pytest.raises(ValueError):
        form.model_validate(answer)


@pytest.mark.parametrize(
    "answer",
    [
        {"verdict": "misschien", "decided_by": "EMM-TP-01"},
        {"verdict": "klaar voor uitstroom", "decided_by": "EMM-XX-99"},
        {"verdict": "klaar voor uitstroom", "decided_by": "EMM-TP-01", "extra": 1},
        {"verdict": "klaar voor uitstroom"},
    ],
    ids=["unknown-choice", "unknown-person", "extra-field", "missing-decider"],
)
def test_schema_refuses_what_the_server_must_refuse(answer: dict) -> None:
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(answer, schema(forms.readiness_decision_form(["EMM-TP-01"])))


def test_an_answer_given_earlier_reads_back_even_if_its_choice_is_gone_now() -> None:
    today = forms.nomination_proposal_form(["domesta", "lefier"], ["EMM-TP-01"])
    given = {"corporation": "woonservice", "decided_by": "EMM-TP-02"}
    with pytest.raises(ValueError):
        today.model_validate(given)
    answer = forms.lenient(today).model_validate(given)
    assert (answer.corporation, answer.decided_by) == ("woonservice", "EMM-TP-02")


def test_reading_back_keeps_types_and_limits() -> None:
    form = forms.lenient(forms.nomination_response_form(["EMM-DOM-01"]))
    answer = form.model_validate({"answer": "afgewezen", "decline_reason": None, "decided_by": "EMM-DOM-01"})
    assert answer.decline_reason is None
    zrm = forms.lenient(forms.zrm_assessment_form(["EMM-TB-01"]))
    scores = {
        name: 3
        for name in zrm.model_fields
        if name
        not in {"assessed_on", "ambulant_support_indication", "can_live_alone_with_support", "region_tie", "assessor"}
    }
    read = zrm.model_validate(
        {
            "assessed_on": "2026-03-01",
            **scores,
            "ambulant_support_indication": "ja",
            "can_live_alone_with_support": "ja",
            "region_tie": "nee",
            "assessor": "X",
        }
    )
    assert read.assessed_on == date(2026, 3, 1)
    with pytest.raises(ValueError):
        zrm.model_validate({"assessed_on": "2026-03-01", **scores, "financien": 7})


def test_a_single_choice_is_filled_in_and_still_required_never_a_dead_constant() -> None:
    properties = schema(forms.lease_form({"EMM-DOM-01": "woonconsulent, Domesta"}))
    decided_by = properties["properties"]["decided_by"]
    assert "const" not in decided_by and decided_by["enum"] == ["EMM-DOM-01"]
    assert decided_by["default"] == "EMM-DOM-01" and "decided_by" in properties["required"]
    assert "EMM-DOM-01 = woonconsulent, Domesta" in decided_by["description"]


def test_choices_show_names_beside_codes() -> None:
    form = forms.nomination_proposal_form({"domesta": "Domesta", "lefier": "Lefier"}, ["EMM-TP-01", "EMM-TP-02"])
    corporation = schema(form)["properties"]["corporation"]
    assert corporation["enum"] == ["domesta", "lefier"]
    assert "domesta = Domesta; lefier = Lefier" in corporation["description"]


def test_optional_fields_are_plain_fields_without_a_none_toggle() -> None:
    properties = schema(forms.nomination_response_form(["EMM-DOM-01"]))["properties"]
    assert "anyOf" not in properties["decline_reason"] and properties["decline_reason"]["type"] == "string"
    signed_on = schema(forms.signing_form(["EMM-DOM-01"]))["properties"]["signed_on"]
    assert signed_on == {**signed_on, "type": "string", "format": "date"} and "anyOf" not in signed_on
    # Left empty, the answer is valid for the server and reads as "no reason".
    answer = {"answer": "geaccepteerd", "decided_by": "EMM-DOM-01"}
    jsonschema.validate(answer, schema(forms.nomination_response_form(["EMM-DOM-01"])))
    assert forms.nomination_response_form(["EMM-DOM-01"]).model_validate(answer).decline_reason is None


PERSONAL_TEXT = ["Marieke van der Testpersoon", "marieke@voorbeeld.nl", "Dorpsstraat 1, Emmen", "belt 06-12345678"]


def every_form() -> list[type]:
    """Each decision form the procedure asks, with a choice or two where it takes choices."""
    two = ["EMM-TP-01", "EMM-TP-02"]
    places = {"domesta": "Domesta", "lefier": "Lefier"}
    return [
        forms.zrm_assessment_form(two),
        forms.readiness_decision_form(two),
        forms.nomination_proposal_form(places, two),
        forms.nomination_response_form(two),
        forms.offer_form({"angelslo": "Angelslo"}, two),
        forms.offer_response_form(two),
        forms.lease_form(two),
        forms.signing_form(two),
        forms.support_form(["leger-des-heils", "cosis"], two),
        forms.review_form(two),
        forms.escalation_form(two),
        forms.omklap_form(two),
        forms.problem_form(two),
    ]


def test_no_form_has_a_field_for_free_text() -> None:
    """What a person types into a form is stored by Prefect as the run's input, so no form may take free text:
    every field is a closed choice, a number, a date, or a short code whose pattern allows no spaces."""
    factories = [name for name in dir(forms) if name.endswith("_form")]
    assert len(every_form()) == len(factories), f"a new form? add it here: {factories}"
    for form in every_form():
        for name, field in schema(form)["properties"].items():
            kinds = [field, *field.get("anyOf", [])]
            closed = any("enum" in k or k.get("type") in ("integer", "number", "boolean", "null") for k in kinds)
            dated = any(k.get("format") == "date" for k in kinds)
            pattern = field.get("pattern")
            coded = pattern is not None and not any(re.search(pattern, text) for text in PERSONAL_TEXT)
            assert closed or dated or coded, f"{form.__name__}.{name} takes free text: {field}"
