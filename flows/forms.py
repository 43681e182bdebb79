"""The forms people fill in the Prefect UI: one RunInput model per human decision, in Dutch.

Choices that depend on the region (who may decide, which corporations have places left) are closed lists built
per case, so the server itself rejects an unknown person or an unknown choice when the form is submitted.
Prefect only ever sees codes: staff codes, corporation codes, dwelling references — never a client's data.
"""

from __future__ import annotations

from copy import copy
from datetime import date
from typing import Any, Literal, get_args, get_origin

from prefect.input import RunInput
from pydantic import Field, create_model

from weerthuis.domain.vocabulary import (
    CaseOutcome,
    ContractForm,
    DeclineReason,
    EscalationDecision,
    LivingSituation,
    NominationAnswer,
    OfferAnswer,
    OmklapDecision,
    ProblemDecision,
    ReadinessVerdict,
    RefusalReason,
    ReviewOutcome,
    SigningResult,
    WmoDecision,
)
from weerthuis.domain.zrm import MAX_SCORE, MIN_SCORE, ZrmDomain

YesNo = Literal["ja", "nee"]
SCORE_HELP = (
    "1 = acuut probleem, 2 = niet zelfredzaam, 3 = beperkt zelfredzaam, 4 = voldoende, 5 = volledig zelfredzaam"
)


def prefilled(form: type[RunInput], description: str, **defaults: Any) -> type[RunInput]:
    """The form with a Markdown description and pre-filled values, keeping each field's Dutch title and limits.

    (RunInput.with_initial_data re-declares the fields it pre-fills and so drops their titles.)
    """
    fields: dict[str, Any] = {}
    for name, value in defaults.items():
        info = copy(form.model_fields[name])
        info.default = value
        fields[name] = (form.model_fields[name].annotation, info)
    model = create_model(form.__name__, __base__=form, **fields)  # type: ignore[call-overload]
    model._description = description
    return model  # type: ignore[no-any-return]


def lenient(form: type[RunInput]) -> type[RunInput]:
    """The form with its closed lists opened to any text, for reading back an answer given earlier.

    An answer was checked against the choices shown when it was given; by the time the run replays, a contingent
    may be full or a person gone from the region file. The case commands check every choice again and refuse
    with a reason, so an answer that is no longer possible is asked again instead of crashing the run.
    """
    fields: dict[str, Any] = {}
    for name, info in form.model_fields.items():
        annotation = info.annotation
        if get_origin(annotation) is Literal:
            annotation = str
        elif any(get_origin(arg) is Literal for arg in get_args(annotation)):
            annotation = str | None
        else:
            continue
        opened = copy(info)
        opened.json_schema_extra = None
        fields[name] = (annotation, opened)
    return create_model(form.__name__, __base__=form, **fields)  # type: ignore[call-overload,no-any-return]


def _choice(values: list[str]) -> Any:
    return Literal[tuple(values)]  # type: ignore[valid-type]


def _closed(values: list[str], **field: Any) -> tuple[Any, Any]:
    """A closed list; always an `enum` in the schema (a one-value Literal would otherwise become `const`)."""
    return _choice(values), Field(json_schema_extra={"enum": list(values)}, **field)


def _values(enum: Any) -> Any:
    return _choice([member.value for member in enum])


def _decided_by(codes: list[str], what: str) -> tuple[Any, Any]:
    description = f"Uw medewerkerscode ({what}). Dit komt in de zaakhistorie."
    if any(code.startswith("api:") for code in codes):
        description += " api:… is het antwoord dat via de koppeling binnenkwam."
    return _closed(codes, title="Wie beslist?", description=description)


def zrm_assessment_form(assessors: list[str]) -> type[RunInput]:
    scores: dict[str, Any] = {
        domain.value: (int, Field(ge=MIN_SCORE, le=MAX_SCORE, title=domain.label, description=SCORE_HELP))
        for domain in ZrmDomain
    }
    return create_model(  # type: ignore[call-overload,no-any-return]
        "ZrmMeting",
        __base__=RunInput,
        assessed_on=(date, Field(title="Datum van de meting")),
        **scores,
        ambulant_support_indication=(
            YesNo,
            Field(
                title="Indicatie ambulante begeleiding?",
                description="Is er een indicatie voor begeleiding aan huis?",
            ),
        ),
        can_live_alone_with_support=(
            YesNo,
            Field(title="Kan zelfstandig wonen met begeleiding?"),
        ),
        region_tie=(YesNo, Field(title="Binding met de regio?")),
        assessor=_decided_by(assessors, "trajectbegeleider die de ZRM afnam"),
    )


def readiness_decision_form(coordinators: list[str]) -> type[RunInput]:
    return create_model(  # type: ignore[call-overload,no-any-return]
        "BesluitWoonvaardigheid",
        __base__=RunInput,
        verdict=(
            _values(ReadinessVerdict),
            Field(
                title="Besluit",
                description="Klaar voor uitstroom, nog niet (herbeoordeling), of teruggetrokken.",
            ),
        ),
        decided_by=_decided_by(coordinators, "coördinator"),
    )


def nomination_proposal_form(corporations: list[str], coordinators: list[str]) -> type[RunInput]:
    return create_model(  # type: ignore[call-overload,no-any-return]
        "Voordracht",
        __base__=RunInput,
        corporation=_closed(
            corporations, title="Corporatie", description="Aan welke corporatie wordt de cliënt voorgedragen?"
        ),
        decided_by=_decided_by(coordinators, "coördinator"),
    )


def nomination_response_form(consultants: list[str]) -> type[RunInput]:
    return create_model(  # type: ignore[call-overload,no-any-return]
        "ReactieVoordracht",
        __base__=RunInput,
        answer=(_values(NominationAnswer), Field(title="Reactie van de corporatie")),
        decline_reason=(
            _values(DeclineReason) | None,
            Field(default=None, title="Reden van afwijzing", description="Alleen invullen bij afwijzing."),
        ),
        decided_by=_decided_by(consultants, "woonconsulent"),
    )


def offer_form(neighbourhoods: list[str], consultants: list[str]) -> type[RunInput]:
    return create_model(  # type: ignore[call-overload,no-any-return]
        "Woningaanbod",
        __base__=RunInput,
        dwelling_reference=(
            str,
            Field(
                title="Woningnummer (VHE)",
                pattern=r"^[A-Za-z0-9][A-Za-z0-9-]{1,29}$",
                description="Het verhuureenheidnummer van de corporatie, geen adres.",
            ),
        ),
        neighbourhood=_closed(neighbourhoods, title="Wijk"),
        rent=(float, Field(gt=0, le=1500, title="Kale huur per maand (€)")),
        viewing_on=(date, Field(title="Datum bezichtiging")),
        decided_by=_decided_by(consultants, "woonconsulent"),
    )


def offer_response_form(case_managers: list[str]) -> type[RunInput]:
    return create_model(  # type: ignore[call-overload,no-any-return]
        "ReactieAanbod",
        __base__=RunInput,
        answer=(_values(OfferAnswer), Field(title="Reactie van de cliënt")),
        refusal_reason=(
            _values(RefusalReason) | None,
            Field(default=None, title="Reden van weigering", description="Alleen invullen bij weigering."),
        ),
        decided_by=_decided_by(case_managers, "trajectbegeleider"),
    )


def lease_form(consultants: list[str]) -> type[RunInput]:
    return create_model(  # type: ignore[call-overload,no-any-return]
        "Huurovereenkomst",
        __base__=RunInput,
        contract_form=(_values(ContractForm), Field(title="Contractvorm")),
        temporary=(
            YesNo,
            Field(
                title="Tijdelijk contract (max. 2 jaar)?",
                description="Alleen voor wie uit de maatschappelijke opvang komt.",
            ),
        ),
        decided_by=_decided_by(consultants, "woonconsulent"),
    )


def signing_form(deciders: list[str]) -> type[RunInput]:
    """Filled by the e-signature service's answer (api:e-ondertekening), or by the consultant for a paper lease."""
    return create_model(  # type: ignore[call-overload,no-any-return]
        "Ondertekening",
        __base__=RunInput,
        result=(_values(SigningResult), Field(title="Ondertekening")),
        signed_on=(
            date | None,
            Field(default=None, title="Datum ondertekening", description="De dag waarop de laatste ondertekende."),
        ),
        decided_by=_decided_by(deciders, "woonconsulent"),
    )


def support_form(providers: list[str], deciders: list[str]) -> type[RunInput]:
    return create_model(  # type: ignore[call-overload,no-any-return]
        "BegeleidingAanHuis",
        __base__=RunInput,
        wmo_decision=(_values(WmoDecision), Field(title="Wmo-beschikking")),
        provider=_closed(providers, title="Zorgaanbieder die begeleidt"),
        starts_on=(date, Field(title="Startdatum begeleiding")),
        plan_agreed=(YesNo, Field(title="Persoonlijk plan afgesproken?")),
        decided_by=_decided_by(deciders, "trajectbegeleider of Wmo-consulent"),
    )


def review_form(case_managers: list[str]) -> type[RunInput]:
    return create_model(  # type: ignore[call-overload,no-any-return]
        "Nazorgmoment",
        __base__=RunInput,
        held_on=(date, Field(title="Datum nazorgmoment")),
        living_situation=(_values(LivingSituation), Field(title="Hoe gaat het wonen?")),
        rent_arrears=(YesNo, Field(title="Huurachterstand?")),
        nuisance=(YesNo, Field(title="Overlast gemeld?")),
        support_reached=(YesNo, Field(title="Wordt de begeleiding bereikt?")),
        outcome=(_values(ReviewOutcome), Field(title="Uitkomst")),
        decided_by=_decided_by(case_managers, "trajectbegeleider"),
    )


def escalation_form(coordinators: list[str]) -> type[RunInput]:
    """A red card: the coordinator decides, with the corporation and the care provider, what happens now."""
    return create_model(  # type: ignore[call-overload,no-any-return]
        "Escalatie",
        __base__=RunInput,
        decision=(_values(EscalationDecision), Field(title="Besluit")),
        decided_by=_decided_by(coordinators, "coördinator"),
    )


def omklap_form(coordinators: list[str]) -> type[RunInput]:
    """The end of the guided period: the lease in the client's own name, more guidance, or the end."""
    return create_model(  # type: ignore[call-overload,no-any-return]
        "Omklap",
        __base__=RunInput,
        decision=(_values(OmklapDecision), Field(title="Besluit")),
        outcome=(
            _values(CaseOutcome) | None,
            Field(default=None, title="Uitkomst", description="Alleen bij beëindigen: hoe de zaak eindigt."),
        ),
        decided_by=_decided_by(coordinators, "coördinator"),
    )


def problem_form(coordinators: list[str]) -> type[RunInput]:
    """A refused action: the coordinator fixes the cause (data, configuration) and has it tried again."""
    return create_model(  # type: ignore[call-overload,no-any-return]
        "ProbleemMetKoppeling",
        __base__=RunInput,
        decision=(
            _values(ProblemDecision),
            Field(
                title="Wat nu?",
                description="Opnieuw proberen nadat de oorzaak is verholpen, of: is het buiten Weer Thuis geregeld.",
            ),
        ),
        decided_by=_decided_by(coordinators, "coördinator"),
    )
