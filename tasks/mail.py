"""Deliver the outbox over SMTP: a task with retries for passing trouble, row by row so nothing goes twice.

The task takes a case reference (or "alle") and reads the mails from the case database: addresses and texts
never pass through Prefect, and its logs give counts, not addresses.
"""

from __future__ import annotations

from prefect import get_run_logger, task
from prefect.tasks import exponential_backoff

from notifications.smtp import SmtpServer
from tasks.actions import retry_only_transient
from weerthuis.bootstrap import app
from weerthuis.outbox import deliver

ALL = "alle"


def mail_server(block_name: str) -> SmtpServer | None:
    try:
        block = SmtpServer.load(block_name, _sync=True)  # type: ignore[call-arg]
    except ValueError:  # no block of that name
        return None
    assert isinstance(block, SmtpServer)  # loaded synchronously
    return block


@task(
    task_run_name="deliver_mail {scope}",
    retries=5,
    retry_delay_seconds=exponential_backoff(backoff_factor=2),
    retry_jitter_factor=0.5,
    retry_condition_fn=retry_only_transient,
)
def deliver_mail(scope: str = ALL) -> int:
    """Send what waits in the outbox for one case (or for all); returns how many went out."""
    logger = get_run_logger()
    application = app()
    reference = None if scope == ALL else scope
    if not application.outbox.waiting(reference):
        return 0
    block_name = application.settings.mail.server_block
    server = mail_server(block_name)
    if server is None:
        logger.warning("Geen mailserver ingesteld (block '%s'); de mail blijft in de outbox.", block_name)
        return 0
    done = deliver(application.outbox, server, reference, application.casework.now)
    if done.refused:
        logger.error("%d mail(s) geweigerd door de mailserver; zie de outbox (status failed).", done.refused)
    logger.info("%d mail(s) verstuurd.", done.sent)
    return done.sent
