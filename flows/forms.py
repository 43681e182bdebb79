"""The forms people fill in the Prefect UI: one RunInput model per human decision, in Dutch.

Choices that depend on the region (who may decide, which corporations have places left) are closed lists built
per case, so the server itself rejects an unknown person or an unknown choice when the form is submitted.
Prefect only ever sees codes: staff codes, corporation codes, dwelling references — never a client's data.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from copy import copy
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Annotated, Any, Literal, cast

from prefect.input import RunInput
from pydantic import AfterValidator, BeforeValidator, Field, PlainSerializer, TypeAdapter, WithJsonSchema, create_model
from pydantic.fields import FieldInfo
from pydantic_core import to_jsonable_python

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


def _ja_nee(value: Any) -> Any:
    """What the form shows as `ja`/`nee` (a choice the UI renders as a list) is a bool to the code."""
    if value in ("ja", "nee"):
        return value == "ja"
    if isinstance(value, bool):
        return value
    raise ValueError("kies ja of nee")


# A yes/no question: `ja` or `nee` in the form and in the stored answer, True or False in Python.
YesNo = Annotated[
    bool,
    BeforeValidator(_ja_nee),
    PlainSerializer(lambda value: "ja" if value else "nee", return_type=str),
    WithJsonSchema({"type": "string", "enum": ["ja", "nee"]}),
]
SCORE_HELP = (
    "1 = acuut probleem, 2 = niet zelfredzaam, 3 = beperkt zelfredzaam, 4 = voldoende, 5 = volledig zelfredzaam"
)
YEARS_BACK, YEARS_AHEAD = 3, 2


def plausible(day: date) -> date:
    """A date of this procedure: not years before today, nor years after (a typo such as 9999 is asked again)."""
    today = date.today()
    if not today - timedelta(days=366 * YEARS_BACK) <= day <= today + timedelta(days=366 * YEARS_AHEAD):
        raise ValueError(
            f"{day:%d-%m-%Y} ligt te ver van vandaag; een datum tot {YEARS_BACK} jaar terug of {YEARS_AHEAD} jaar "
            "vooruit"
        )
    return day


# A date in a form: checked in Python after the resume (the server only checks the JSON Schema, not dates).
Day = Annotated[date, AfterValidator(plausible)]
# Choices: codes, or codes with the name people know them by (`domesta` → `Domesta`).
Choices = Sequence[str] | Mapping[str, str]


def prefilled(form: type[RunInput], description: str, **defaults: Any) -> type[RunInput]:
    """The form with a Markdown description and pre-filled values, keeping each field's Dutch title and limits.

    A required field stays required: its value is only shown filled in (the schema's `default`), so the UI does
    not mark it "(Optional)" and an answer without it is refused. (RunInput.with_initial_data re-declares the
    fields it pre-fills as optional and drops their titles.)
    """
    fields: dict[str, Any] = {}
    for name, value in defaults.items():
        info = copy(form.model_fields[name])
        shown = _as_shown(info, value)
        if info.is_required():
            info.json_schema_extra = _shown_filled_in(info.json_schema_extra, shown)
        else:
            info.default = value
        fields[name] = (form.model_fields[name].annotation, info)
    model = create_model(form.__name__, __base__=form, **fields)
    model._description = description
    return model


def _as_shown(info: FieldInfo, value: Any) -> Any:
    """A value as the form shows it (a yes/no question's True as `ja`); as given if the field refuses it."""
    typed = Annotated[info.annotation, *info.metadata] if info.metadata else info.annotation
    adapter: TypeAdapter[Any] = TypeAdapter(cast(Any, typed))
    try:
        return adapter.dump_python(adapter.validate_python(value), mode="json")
    except ValueError:
        return to_jsonable_python(value)


def _shown_filled_in(extra: Any, value: Any) -> Any:
    def rewrite(generated: dict[str, Any]) -> None:
        if callable(extra):
            extra(generated)
        elif extra:
            generated.update(extra)
        generated["default"] = value

    return rewrite


@dataclass(frozen=True)
class OneOf:
    """A closed list checked in Python too (the server checks the schema's `enum` on resume)."""

    values: tuple[str, ...]

    def __call__(self, value: str) -> str:
        if value not in self.values:
            raise ValueError(f"'{value}' is hier geen keuze; mogelijk: {', '.join(self.values)}")
        return value


def _is_one_of(metadata: Any) -> bool:
    return isinstance(metadata, AfterValidator) and isinstance(metadata.func, OneOf)


def lenient(form: type[RunInput]) -> type[RunInput]:
    """The form with its closed lists opened to any text, for reading back an answer given earlier.

    An answer was checked against the choices shown when it was given; by the time the run replays, a contingent
    may be full or a person gone from the region file. The case commands check every choice again and refuse
    with a reason, so an answer that is no longer possible is asked again instead of crashing the run.
    """
    fields: dict[str, Any] = {}
    for name, info in form.model_fields.items():
        if not any(_is_one_of(m) for m in info.metadata):
            continue
        opened = copy(info)
        opened.metadata = [m for m in info.metadata if not _is_one_of(m)]
        opened.json_schema_extra = None
        fields[name] = (str if info.is_required() else str | None, opened)
    return create_model(form.__name__, __base__=form, **fields)


def _legend(choices: Mapping[str, str]) -> str:
    named = [f"{code} = {name}" for code, name in choices.items() if name and name != code]
    return "; ".join(named)


def _closed(choices: Choices, *, title: str, description: str = "", optional: bool = False) -> tuple[Any, Any]:
    """A closed list of codes: an `enum` in the schema, never a `const` (the Prefect UI shows a one-value const
    as a dead, empty field), the only choice pre-filled, and the names beside the codes in the description."""
    named = dict(choices) if isinstance(choices, Mapping) else {code: code for code in choices}
    values = tuple(named)
    legend = _legend(named)
    description = " ".join(part for part in (description, legend and f"({legend})") if part)
    extra: dict[str, Any] = {"enum": list(values)}
    checked = Annotated[str, AfterValidator(OneOf(values))]
    if optional:
        return checked | None, Field(
            default=None, title=title, description=description or None, json_schema_extra=_plain(extra)
        )
    if len(values) == 1:
        extra["default"] = values[0]  # shown filled in; still required, so nobody decides by leaving it out
    return checked, Field(title=title, description=description or None, json_schema_extra=extra)


def _plain(schema: dict[str, Any]) -> Any:
    """An optional field as a plain field that may stay empty: no `anyOf` with null, which the Prefect UI shows as
    a type toggle reading `Property is type "None"`."""

    def rewrite(generated: dict[str, Any]) -> None:
        generated.pop("anyOf", None)
        if generated.get("default", "") is None:
            del generated["default"]  # a pre-filled value stays
        generated.update(schema)

    return rewrite


def _values(enum: Any) -> Any:
    return Literal[tuple(member.value for member in enum)]


def _optional_values(enum: Any, *, title: str, description: str) -> tuple[Any, Any]:
    values = [member.value for member in enum]
    return _values(enum) | None, Field(
        default=None,
        title=title,
        description=description,
        json_schema_extra=_plain({"type": "string", "enum": values}),
    )


def _decided_by(people: Choices, what: str) -> tuple[Any, Any]:
    """Who decides: the people of the region who may take this step (never a system's `api:` code; systems answer
    through flows/answers.py). Pre-filled when only one person may."""
    return _closed(
        people, title="Wie beslist?", description=f"Uw medewerkerscode ({what}). Dit komt in de zaakhistorie."
    )


def zrm_assessment_form(assessors: Choices) -> type[RunInput]:
    scores: dict[str, Any] = {
        domain.value: (int, Field(ge=MIN_SCORE, le=MAX_SCORE, title=domain.label, description=SCORE_HELP))
        for domain in ZrmDomain
    }
    return create_model(
        "ZrmMeting",
        __base__=RunInput,
        assessed_on=(Day, Field(title="Datum van de meting")),
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


def readiness_decision_form(coordinators: Choices) -> type[RunInput]:
    return create_model(
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


def nomination_proposal_form(corporations: Choices, coordinators: Choices) -> type[RunInput]:
    return create_model(
        "Voordracht",
        __base__=RunInput,
        corporation=_closed(
            corporations, title="Corporatie", description="Aan welke corporatie wordt de cliënt voorgedragen?"
        ),
        decided_by=_decided_by(coordinators, "coördinator"),
    )


def nomination_response_form(consultants: Choices) -> type[RunInput]:
    return create_model(
        "ReactieVoordracht",
        __base__=RunInput,
        answer=(_values(NominationAnswer), Field(title="Reactie van de corporatie")),
        decline_reason=_optional_values(
            DeclineReason, title="Reden van afwijzing", description="Alleen invullen bij afwijzing."
        ),
        decided_by=_decided_by(consultants, "woonconsulent"),
    )


def offer_form(neighbourhoods: Choices, consultants: Choices) -> type[RunInput]:
    return create_model(
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
        # At least a cent: the rent is kept in whole cents, so 0.004 would be stored as € 0,00.
        rent=(float, Field(ge=0.01, le=1500, title="Kale huur per maand (€)")),
        viewing_on=(Day, Field(title="Datum bezichtiging")),
        decided_by=_decided_by(consultants, "woonconsulent"),
    )


def offer_response_form(case_managers: Choices) -> type[RunInput]:
    return create_model(
        "ReactieAanbod",
        __base__=RunInput,
        answer=(_values(OfferAnswer), Field(title="Reactie van de cliënt")),
        refusal_reason=_optional_values(
            RefusalReason, title="Reden van weigering", description="Alleen invullen bij weigering."
        ),
        decided_by=_decided_by(case_managers, "trajectbegeleider"),
    )


def lease_form(consultants: Choices) -> type[RunInput]:
    return create_model(
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


def signing_form(deciders: Choices) -> type[RunInput]:
    """Filled by the e-signature service's answer (api:e-ondertekening), or by the consultant for a paper lease."""
    return create_model(
        "Ondertekening",
        __base__=RunInput,
        result=(_values(SigningResult), Field(title="Ondertekening")),
        signed_on=(
            Day | None,
            Field(
                default=None,
                title="Datum ondertekening",
                description="De dag waarop de laatste ondertekende (niet nodig bij geweigerd of verlopen).",
                json_schema_extra=_plain({"type": "string", "format": "date"}),
            ),
        ),
        decided_by=_decided_by(deciders, "woonconsulent"),
    )


def support_form(providers: Choices, deciders: Choices) -> type[RunInput]:
    return create_model(
        "BegeleidingAanHuis",
        __base__=RunInput,
        wmo_decision=(_values(WmoDecision), Field(title="Wmo-beschikking")),
        provider=_closed(providers, title="Zorgaanbieder die begeleidt"),
        starts_on=(Day, Field(title="Startdatum begeleiding")),
        plan_agreed=(YesNo, Field(title="Persoonlijk plan afgesproken?")),
        decided_by=_decided_by(deciders, "trajectbegeleider of Wmo-consulent"),
    )


def review_form(case_managers: Choices) -> type[RunInput]:
    return create_model(
        "Nazorgmoment",
        __base__=RunInput,
        held_on=(Day, Field(title="Datum nazorgmoment")),
        living_situation=(_values(LivingSituation), Field(title="Hoe gaat het wonen?")),
        rent_arrears=(YesNo, Field(title="Huurachterstand?")),
        nuisance=(YesNo, Field(title="Overlast gemeld?")),
        support_reached=(YesNo, Field(title="Wordt de begeleiding bereikt?")),
        outcome=(_values(ReviewOutcome), Field(title="Uitkomst")),
        decided_by=_decided_by(case_managers, "trajectbegeleider"),
    )


def escalation_form(coordinators: Choices) -> type[RunInput]:
    """A red card: the coordinator decides, with the corporation and the care provider, what happens now."""
    return create_model(
        "Escalatie",
        __base__=RunInput,
        decision=(_values(EscalationDecision), Field(title="Besluit")),
        decided_by=_decided_by(coordinators, "coördinator"),
    )


def omklap_form(coordinators: Choices) -> type[RunInput]:
    """The end of the guided period: the lease in the client's own name, more guidance, or the end."""
    return create_model(
        "Omklap",
        __base__=RunInput,
        decision=(_values(OmklapDecision), Field(title="Besluit")),
        outcome=_optional_values(
            CaseOutcome, title="Uitkomst", description="Alleen bij beëindigen: hoe de zaak eindigt."
        ),
        decided_by=_decided_by(coordinators, "coördinator"),
    )


def problem_form(coordinators: Choices) -> type[RunInput]:
    """A refused action: the coordinator fixes the cause (data, configuration) and has it tried again."""
    return create_model(
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
