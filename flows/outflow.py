"""The outflow of one client, from registration to the first follow-up review: one top-level run per case.

The flow is re-entrant. It reads the case from the case database, delivers what the case still owes other
systems, and asks the person the case waits on for their decision (suspending the run without holding a
process). After a resume Prefect runs this body again from the top: the case database sends it straight back
to the step that waited, and every command ignores an answer it already took.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from itertools import count
from typing import Annotated, Any
from uuid import UUID

from prefect import flow, get_run_logger, runtime
from prefect.context import FlowRunContext
from prefect.flow_runs import suspend_flow_run
from prefect.input import RunInput, read_flow_run_input
from prefect.input.run_input import keyset_from_base_key
from pydantic import Field, ValidationError

from config.regions import Region, RegionCode
from flows import forms
from flows.pages import case_page_key
from flows.summary import case_summary, name_of, zrm_scores
from tasks.actions import deliver_pending_actions
from tasks.mail import deliver_mail
from tasks.pages import show_progress, ui_url
from tasks.reviews import gather_signals, plan_reviews
from weerthuis.bootstrap import App, app
from weerthuis.casedb.quota import Refused
from weerthuis.domain.follow_up import in_words
from weerthuis.domain.procedure import Step
from weerthuis.domain.stages import Stage
from weerthuis.domain.vocabulary import (
    CaseOutcome,
    ContractForm,
    DeclineReason,
    EscalationDecision,
    NominationAnswer,
    OfferAnswer,
    OmklapDecision,
    ProblemDecision,
    ReadinessVerdict,
    RefusalReason,
    ReviewOutcome,
    Role,
    SigningResult,
    WmoDecision,
)
from weerthuis.domain.zrm import ZrmAssessment, ZrmDomain
from weerthuis.runs import check_case_database
from weerthuis.service.views import CaseView, Problem, gate_key  # gate_key: where the flows and the server both read it


def ask(
    application: App,
    case: CaseView,
    form: type[RunInput] | Callable[[], type[RunInput]],
    apply: Callable[[Any], None],
    note: str = "",
    **defaults: Any,
) -> None:
    """Suspend for the form, then apply the answer; an answer the procedure refuses is asked again, with why.
    `form`: the form, or how to build it when its choices can change between rounds (built anew each round);
    `note`: a line of Markdown above the case summary; `defaults`: the form's pre-filled values.

    Refused answers are kept in the case database, so a replay skips them instead of applying them again.
    """
    casework, region = application.casework, application.regions[case.region]
    key, rejected, build = gate_key(case), None, form
    for round_ in count(1):
        round_key = key if round_ == 1 else f"{key}-{round_}"
        form = build if isinstance(build, type) else build()
        earlier = casework.rejection(case.reference, round_key)
        if earlier is not None:
            rejected = earlier
            continue
        try:
            answer = given_answer(form, round_key)
        except ValueError as exc:  # stored, but not an answer to this form (the server does not check every rule)
            rejected = f"Het antwoord kon niet worden gelezen ({unreadable(exc, form)}); vul het formulier opnieuw in."
            casework.reject_answer(case.reference, round_key, rejected)
            continue
        if answer is None and asked_before(round_key):
            # The run suspended on this form before but holds no answer to it: it was stopped in between (a
            # killed process, then restarted). Prefect would hand back an empty answer; ask again instead.
            rejected = "Het formulier is opnieuw gesteld: de run werd onderbroken voordat er een antwoord was."
            casework.reject_answer(case.reference, round_key, rejected)
            continue
        answer = answer or suspend_flow_run(
            wait_for_input=forms.prefilled(form, above_the_form(case, region, note, rejected), **defaults),
            key=round_key,
            timeout=None,
        )
        try:
            apply(answer)
            return
        except (Refused, ValueError, ArithmeticError) as exc:
            rejected = str(exc) if isinstance(exc, Refused) else unreadable(exc, form)
            casework.reject_answer(case.reference, round_key, rejected)
            # The reason, not the exception: pydantic's text carries the typed value (Prefect keeps logs).
            get_run_logger().warning("Zaak %s: invoer voor %s afgewezen: %s", case.reference, round_key, rejected)


def above_the_form(case: CaseView, region: Region, note: str = "", rejected: str | None = None) -> str:
    """The short summary above a form (with a link to the case page and its whole history), after the step's note."""
    page = f"{ui_url().rstrip('/')}/artifacts/key/{case_page_key(case.reference)}"
    summary = case_summary(case, region, rejected=rejected, case_page_url=page)
    return f"{summary}\n\n{note}" if note else summary


def people(application: App, case: CaseView, step: Step) -> dict[str, str]:
    """The people who may take this step, by code, with their role and organisation beside it. Never a system's
    `api:` code: a counterpart's system answers through the counterpart-answers flow, not as a choice in a form."""
    region = application.regions[case.region]
    chosen = {}
    for code in application.casework.deciders(case, step):
        person = region.person(code)
        if person is not None:
            organisation = name_of(region, person.organisation)
            chosen[code] = f"{person.role.noun}, {organisation}" if organisation else person.role.noun
    return chosen


def named(items: Any, codes: Any = None) -> dict[str, str]:
    """Codes with the names people know them by (corporations, neighbourhoods, care providers)."""
    wanted = None if codes is None else set(codes)
    return {item.code: item.name for item in items if wanted is None or item.code in wanted}


def asked_before(key: str) -> bool:
    """Whether this run suspended on the form with this key in an earlier execution."""
    context = FlowRunContext.get()
    run = context.flow_run if context is not None else None
    return run is not None and key in (run.empirical_policy.pause_keys or set())


def unreadable(exc: Exception, form: type[RunInput] | None = None) -> str:
    """What was wrong with an answer, in one line, naming each field by its title in the form when it can."""
    if not isinstance(exc, ValidationError):
        return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    fields = form.model_fields if form is not None else {}

    def title(loc: tuple[Any, ...]) -> str:
        name = str(loc[0]) if loc else ""
        info = fields.get(name)
        return (info.title if info is not None and info.title else name) or "formulier"

    return "; ".join(f"'{title(e['loc'])}': {in_dutch(e)}" for e in exc.errors())


# Pydantic's words for what it refused, by error type, as the person who filled in the form reads them.
DUTCH_ERRORS = {
    "missing": "niet ingevuld.",
    "float_parsing": "vul een getal in.",
    "float_type": "vul een getal in.",
    "finite_number": "vul een getal in.",
    "int_parsing": "vul een heel getal in.",
    "int_type": "vul een heel getal in.",
    "int_from_float": "vul een heel getal in.",
    "date_parsing": "geen bestaande datum; vul de datum in als jjjj-mm-dd.",
    "date_from_datetime_parsing": "geen bestaande datum; vul de datum in als jjjj-mm-dd.",
    "date_from_datetime_inexact": "alleen een datum, zonder tijd.",
    "date_type": "vul een datum in.",
    "string_type": "vul tekst in.",
    "string_pattern_mismatch": "heeft niet de juiste vorm.",
    "string_too_long": "te lang.",
    "greater_than": "te laag.",
    "greater_than_equal": "te laag.",
    "less_than": "te hoog.",
    "less_than_equal": "te hoog.",
    "enum": "is hier geen keuze.",
    "literal_error": "is hier geen keuze.",
}


def in_dutch(error: Any) -> str:
    """One pydantic error in Dutch; a rule of ours (a ValueError in a validator) already speaks Dutch."""
    return DUTCH_ERRORS.get(error["type"]) or str(error["msg"]).removeprefix("Value error, ")


def given_answer(form: type[RunInput], key: str) -> Any | None:
    """The answer already given to this form (a replay), read against the form's shape but today's choices."""
    stored = read_flow_run_input(keyset_from_base_key(f"suspended-{key}")["response"])
    return None if stored is None else forms.lenient(form).model_validate(stored)


def await_assessment(application: App, case: CaseView) -> None:
    casework = application.casework

    def apply(answer: Any) -> None:
        zrm = ZrmAssessment(
            assessed_on=answer.assessed_on,
            assessor=answer.assessor,
            scores={domain: getattr(answer, domain.value) for domain in ZrmDomain},
            ambulant_support_indication=answer.ambulant_support_indication,
            can_live_alone_with_support=answer.can_live_alone_with_support,
            region_tie=answer.region_tie,
        )
        casework.record_assessment(case.reference, case.attempt, zrm)

    form = forms.zrm_assessment_form(people(application, case, Step.ASSESSMENT))
    ask(application, case, form, apply, assessed_on=casework.today())


def await_readiness_decision(application: App, case: CaseView) -> None:
    casework = application.casework

    def apply(answer: Any) -> None:
        casework.decide_readiness(case.reference, case.attempt, ReadinessVerdict(answer.verdict), answer.decided_by)

    zrm = casework.latest_assessment(case.reference)
    note = (
        zrm_scores(zrm.scores, assessed_on=f"{zrm.assessed_on:%d-%m-%Y}", assessor=zrm.assessor)
        if zrm is not None
        else ""
    )
    ask(
        application,
        case,
        forms.readiness_decision_form(people(application, case, Step.READINESS_DECISION)),
        apply,
        note=note,
    )


def nomination_proposal_form(application: App, case: CaseView) -> type[RunInput]:
    """The nomination form as it stands now: only corporations with places left (counted anew for each round:
    while the form was open, other cases may have taken the last places). If none has any, all are shown and the
    refusal explains why."""
    region = application.regions[case.region]
    places = application.casework.corporations_with_places(case.region)
    corporations = named(region.corporations, places) or named(region.corporations)
    return forms.nomination_proposal_form(corporations, people(application, case, Step.NOMINATION_PROPOSAL))


def await_nomination_proposal(application: App, case: CaseView) -> None:
    casework = application.casework

    def apply(answer: Any) -> None:
        casework.propose_nomination(case.reference, case.attempt, answer.corporation, answer.decided_by)

    ask(application, case, lambda: nomination_proposal_form(application, case), apply)


def await_nomination_response(application: App, case: CaseView) -> None:
    casework = application.casework

    def apply(answer: Any) -> None:
        reason = DeclineReason(answer.decline_reason) if answer.decline_reason else None
        casework.answer_nomination(
            case.reference, case.attempt, NominationAnswer(answer.answer), answer.decided_by, reason
        )

    ask(
        application,
        case,
        forms.nomination_response_form(people(application, case, Step.NOMINATION_RESPONSE)),
        apply,
    )


def await_offer(application: App, case: CaseView) -> None:
    casework = application.casework
    region = application.regions[case.region]

    def apply(answer: Any) -> None:
        casework.make_offer(
            case.reference,
            case.attempt,
            dwelling_reference=answer.dwelling_reference,
            neighbourhood=answer.neighbourhood,
            rent=Decimal(str(answer.rent)).quantize(Decimal("0.01")),
            viewing_on=answer.viewing_on,
            decided_by=answer.decided_by,
        )

    form = forms.offer_form(named(region.neighbourhoods), people(application, case, Step.OFFER))
    ask(application, case, form, apply, viewing_on=casework.today() + timedelta(days=7))


def await_offer_response(application: App, case: CaseView) -> None:
    casework = application.casework

    def apply(answer: Any) -> None:
        reason = RefusalReason(answer.refusal_reason) if answer.refusal_reason else None
        casework.answer_offer(case.reference, case.attempt, OfferAnswer(answer.answer), answer.decided_by, reason)

    ask(application, case, forms.offer_response_form(people(application, case, Step.OFFER_RESPONSE)), apply)


def await_lease(application: App, case: CaseView) -> None:
    casework = application.casework

    def apply(answer: Any) -> None:
        casework.draw_up_lease(
            case.reference,
            case.attempt,
            contract_form=ContractForm(answer.contract_form),
            temporary=answer.temporary,
            decided_by=answer.decided_by,
        )

    ask(application, case, forms.lease_form(people(application, case, Step.LEASE)), apply)


def await_signing(application: App, case: CaseView) -> None:
    casework = application.casework

    def apply(answer: Any) -> None:
        casework.record_signing(
            case.reference,
            case.attempt,
            result=SigningResult(answer.result),
            signed_on=answer.signed_on,
            decided_by=answer.decided_by,
        )

    form = forms.signing_form(people(application, case, Step.SIGNING))
    ask(application, case, form, apply, signed_on=casework.today())


def await_support(application: App, case: CaseView) -> None:
    casework = application.casework
    providers = named(application.regions[case.region].care_providers)

    def apply(answer: Any) -> None:
        casework.arrange_support(
            case.reference,
            case.attempt,
            wmo_decision=WmoDecision(answer.wmo_decision),
            provider=answer.provider,
            starts_on=answer.starts_on,
            plan_agreed=answer.plan_agreed,
            decided_by=answer.decided_by,
        )

    form = forms.support_form(providers, people(application, case, Step.SUPPORT))
    ask(application, case, form, apply, provider=case.care_provider, starts_on=casework.today())


def await_review(application: App, case: CaseView) -> None:
    casework = application.casework

    # What the corporation and the care provider reported, gathered once per review and kept in the case database:
    # shown in the form and weighed with the answer, the same on every replay.
    def gather() -> tuple[str, ...] | None:
        state = gather_signals(case.reference, return_state=True)
        return None if state.is_failed() else tuple(state.result())

    signals, read = casework.review_signals(case.reference, case.reviews_held + 1, gather)
    reported, reported_codes = {s.split(":", 1)[0] for s in signals}, ",".join(signals)
    if read:
        note = (
            f"**Signalen** van corporatie en zorgaanbieder sinds het vorige nazorgmoment: {in_words(reported_codes)}."
        )
    else:
        note = "**Signalen** konden niet bij corporatie of zorgaanbieder worden opgehaald: vul in wat u weet."

    def apply(answer: Any) -> None:
        casework.hold_review(
            case.reference,
            case.attempt,
            case.reviews_held + 1,
            held_on=answer.held_on,
            living_situation=answer.living_situation,
            rent_arrears=answer.rent_arrears,
            nuisance=answer.nuisance,
            support_reached=answer.support_reached,
            outcome=ReviewOutcome(answer.outcome),
            decided_by=answer.decided_by,
            signals=signals,
        )

    ask(
        application,
        case,
        forms.review_form(people(application, case, Step.REVIEW)),
        apply,
        held_on=casework.today(),
        rent_arrears="huurachterstand" in reported,
        nuisance="overlast" in reported,
        support_reached="begeleiding" not in reported,
        note=note,
    )


def await_escalation(application: App, case: CaseView) -> None:
    casework = application.casework

    def apply(answer: Any) -> None:
        decision = EscalationDecision(answer.decision)
        casework.decide_escalation(case.reference, case.attempt, decision, answer.decided_by)

    ask(application, case, forms.escalation_form(people(application, case, Step.ESCALATION)), apply)


def await_omklap(application: App, case: CaseView) -> None:
    casework = application.casework

    def apply(answer: Any) -> None:
        outcome = CaseOutcome(answer.outcome) if answer.outcome else None
        casework.decide_omklap(
            case.reference, case.attempt, OmklapDecision(answer.decision), answer.decided_by, outcome
        )

    ask(application, case, forms.omklap_form(people(application, case, Step.OMKLAP)), apply)


GATES: dict[Step, Callable[[App, CaseView], None]] = {
    Step.ASSESSMENT: await_assessment,
    Step.READINESS_DECISION: await_readiness_decision,
    Step.NOMINATION_PROPOSAL: await_nomination_proposal,
    Step.NOMINATION_RESPONSE: await_nomination_response,
    Step.OFFER: await_offer,
    Step.OFFER_RESPONSE: await_offer_response,
    Step.LEASE: await_lease,
    Step.SIGNING: await_signing,
    Step.SUPPORT: await_support,
    Step.REVIEW: await_review,
    Step.ESCALATION: await_escalation,
    Step.OMKLAP: await_omklap,
}


def await_problem(application: App, case: CaseView, problem: Problem) -> None:
    """Another system refused an action: the coordinator sees why, fixes the cause, and has it tried again.

    One form per refusal (`probleem-<action>-<tries>`), so a second refusal after a retry asks again.
    """
    casework, region = application.casework, application.regions[case.region]
    key = f"probleem-{problem.id}-{problem.tries}"
    coordinators = {p.code: Role.COORDINATOR.noun for p in region.people_with(Role.COORDINATOR)}
    form = forms.problem_form(coordinators)
    answer: Any = given_answer(form, key)
    if answer is None:
        get_run_logger().warning("Zaak %s: %s", case.reference, case.problem)
        explanation = (
            f"**Probleem:** {case.problem}\n\nLos de oorzaak op (gegevens van de zaak, de regio-instellingen of "
            "het block van de koppeling) en kies *opnieuw proberen*; of kies *handmatig afgehandeld* als het "
            "buiten Weer Thuis is geregeld."
        )
        answer = suspend_flow_run(
            wait_for_input=forms.prefilled(form, above_the_form(case, region, explanation)),
            key=key,
            timeout=None,
        )
    casework.settle_problem(problem.key, ProblemDecision(answer.decision), answer.decided_by)


def deliver_case_mail(case_reference: str) -> None:
    """Send the case's mail now; if the mail server stays away, the mail waits in the outbox for the next round."""
    state = deliver_mail(case_reference, return_state=True)
    if state.is_failed():
        get_run_logger().warning("Zaak %s: mail blijft in de outbox: %s", case_reference, state.message)


class WrongRegion(ValueError):
    pass


# Prefect titles a parameter by its name and describes it from the docstring: the form a coordinator fills in
# with "Run → Custom run" is Dutch because these names and the docstring are.
CaseReference = Annotated[str, Field(pattern=r"^WT-\d{4}-\d{4}$")]


def walk(application: App, case_reference: str, done: Callable[[CaseView], bool]) -> CaseView:
    """The procedure loop both flows share: settle refused actions, deliver what is owed, mail, show progress,
    and ask whoever the case waits on — until `done` says this run's part is over (or the case has ended)."""
    casework = application.casework
    flow_run_id = UUID(runtime.flow_run.id)
    casework.attach_run(case_reference, str(flow_run_id))
    while True:
        for problem in casework.refused_actions(case_reference):
            await_problem(application, casework.view(case_reference), problem)
        if not deliver_pending_actions(case_reference):
            continue  # a system refused: the coordinator is asked first
        case = casework.view(case_reference)
        finished = case.waiting_for is None or done(case)
        if finished:
            # Schedule, move or cancel the follow-up runs (once each, also on replay); the next review's run then
            # carries the case, so the page and the review's mail link to it.
            plan_reviews(case_reference)
            case = casework.view(case_reference)
        deliver_case_mail(case_reference)
        show_progress(case, flow_run_id)
        if finished:
            get_run_logger().info("Zaak %s: %s", case_reference, case.stage.label)
            return case
        assert case.waiting_for is not None  # not finished: it waits on someone
        GATES[case.waiting_for](application, case)


def case_in(application: App, case_reference: str, region: str) -> CaseView:
    case = application.casework.view(case_reference)
    if case.region != region:
        raise WrongRegion(f"Zaak {case_reference} hoort bij regio {case.region}, niet bij {region}.")
    return case


@flow(name="outflow-case", flow_run_name="{zaakreferentie}", persist_result=False)
def outflow_case(zaakreferentie: CaseReference, regio: RegionCode) -> str:
    """Take one case through readiness, nomination, offer, tenancy and support, up to follow-up.

    Args:
        zaakreferentie: De zaakreferentie uit de aanmelding, bijvoorbeeld WT-2026-0042. Persoonsgegevens horen
            hier niet: die staan in de zaakdatabase.
        regio: De regio waar de zaak is aangemeld.
    """
    application = app()
    check_case_database(runtime.flow_run.tags, application.casework)  # never a run made for another case database
    case_in(application, zaakreferentie, regio)
    application.casework.attach_run(zaakreferentie, str(runtime.flow_run.id))  # the first mail links to this run
    application.casework.start_assessment(zaakreferentie)
    # In follow-up the reviews are runs of their own (flows/follow_up.py), scheduled when this run ends.
    return walk(application, zaakreferentie, lambda case: case.stage is Stage.FOLLOW_UP).stage.value
