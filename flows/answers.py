"""Every few minutes: take the answers other systems gave for the steps cases wait on, and resume those runs.

A corporation answers a nomination and offers a dwelling through its API, the e-signature service reports a signed
lease, a care provider confirms when support starts. This flow asks each connected system for the cases that wait
on it (weerthuis.answers) and gives the answer to the waiting run's form, checked against the form's schema as
the server checks a person's answer, with the system's own code (`api:domesta`) as the one who decided — a code
that people cannot choose in the form. The run applies it through the same checks and history. Only the form's
first round is answered this way; once an answer was refused (say, the neighbourhood is full), a person takes
over. A system that is away is asked again on the next round; nothing is lost, because nothing changes until a run
takes the answer.
"""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

from prefect import flow, get_client, get_run_logger
from prefect.client.schemas.responses import OrchestrationResult, SetStateStatus
from prefect.states import Scheduled
from prefect.utilities.schema_tools import ValidationError, validate

from flows.outflow import gate_key
from integrations.http import MalformedResponse
from integrations.ports import CounterpartRefused, TransientFailure
from weerthuis.answers import counterpart_answer
from weerthuis.bootstrap import app
from weerthuis.runs import ResumeResult, RunEnded, WaitingForm, waiting_form


@flow(name="counterpart-answers", flow_run_name="antwoorden van koppelingen", persist_result=False)
def counterpart_answers() -> int:
    """Haal bij corporaties, e-ondertekening en zorgaanbieders de antwoorden op waar zaken op wachten, en geef ze
    aan de wachtende runs. Geeft het aantal zaken dat verder kon."""
    application, logger = app(), get_run_logger()
    resumed = 0
    for case in application.casework.waiting_cases():
        if case.flow_run_id is None:
            continue
        try:
            answer = counterpart_answer(application, case)
        except (TransientFailure, CounterpartRefused, MalformedResponse) as exc:
            logger.warning("Zaak %s: antwoord van de koppeling niet gelezen: %s", case.reference, exc)
            continue
        if answer is None:
            continue
        run_id = UUID(case.flow_run_id)
        try:
            form = waiting_form(run_id)
        except RunEnded:
            continue
        if form is None or form.key != gate_key(case):
            continue  # not suspended yet (next round), or a person is asked again after a refused answer
        result = answer_as_system(form, answer)
        if result.accepted:
            resumed += 1
            logger.info("Zaak %s: %s beantwoord door %s", case.reference, form.key, answer["decided_by"])
        else:
            logger.warning(
                "Zaak %s: antwoord van %s niet aangenomen: %s", case.reference, answer["decided_by"], result.reason
            )
    logger.info("%d zaak/zaken verder met een antwoord van een koppeling.", resumed)
    return resumed


def answer_as_system(form: WaitingForm, answer: dict[str, Any]) -> ResumeResult:
    """Give a system's answer to the form a run waits on, and resume the run, as the server's resume does.

    The answer is checked against the stored schema with the system's code as the only one who may decide, stored
    as the form's response, and the run is rescheduled; if the run cannot resume now, the answer is taken back.
    """
    answer = {name: value for name, value in answer.items() if value is not None}  # empty = left empty in the form
    schema = json.loads(json.dumps(form.schema))
    schema["properties"]["decided_by"] = {"type": "string", "enum": [answer.get("decided_by")]}
    try:
        validate(answer, schema, raise_on_error=True)
    except ValidationError as exc:
        return ResumeResult(False, str(exc))
    with get_client(sync_client=True) as client:
        state = client.read_flow_run(form.flow_run_id).state
        keys = state.state_details.run_input_keyset if state is not None and state.is_paused() else None
        if not keys or state is None or state.state_details.pause_key != form.key:
            return ResumeResult(False, "De run wacht niet meer op dit formulier.")
        client.create_flow_run_input(form.flow_run_id, keys["response"], json.dumps(answer), sender="koppeling")
        result: OrchestrationResult[Any] = client.set_flow_run_state(form.flow_run_id, Scheduled(name="Resuming"))
        if result.status != SetStateStatus.ACCEPT:
            client.delete_flow_run_input(form.flow_run_id, keys["response"])
            return ResumeResult(False, getattr(result.details, "reason", None) or result.status.value)
    return ResumeResult(True, "")
