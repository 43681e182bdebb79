"""Every few minutes: take the answers other systems gave for the steps cases wait on, and resume those runs.

A corporation answers a nomination and offers a dwelling through its API, the e-signature service reports a signed
lease, a care provider confirms when support starts. This flow asks each connected system for the cases that wait
on it (weerthuis.answers) and submits the answer to the waiting run's form, exactly as a person would in the UI:
the run applies it through the same checks and history. Only the form's first round is answered this way; once an
answer was refused (say, the neighbourhood is full), a person takes over. A system that is away is asked again on
the next round; nothing is lost, because nothing changes until a run takes the answer.
"""

from __future__ import annotations

from uuid import UUID

from prefect import flow, get_run_logger

from flows.outflow import gate_key
from integrations.http import MalformedResponse
from integrations.ports import CounterpartRefused, TransientFailure
from weerthuis.answers import counterpart_answer
from weerthuis.bootstrap import app
from weerthuis.runs import RunEnded, answer_form, waiting_form


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
        result = answer_form(run_id, answer)
        if result.accepted:
            resumed += 1
            logger.info("Zaak %s: %s beantwoord door %s", case.reference, form.key, answer["decided_by"])
        else:
            logger.warning(
                "Zaak %s: antwoord van %s niet aangenomen: %s", case.reference, answer["decided_by"], result.reason
            )
    logger.info("%d zaak/zaken verder met een antwoord van een koppeling.", resumed)
    return resumed
