"""Every morning: remind whoever a case waits on before and after the due date, escalate what stays stuck.

Runs on a daily schedule (prefect.yaml, Europe/Amsterdam). Every reminder has its own key in the outbox, so a
second run on the same day, or a replay, sends nothing new.
"""

from __future__ import annotations

from datetime import date

from prefect import flow, get_run_logger

from tasks.mail import ALL, deliver_mail
from tasks.pages import refresh_worklist
from weerthuis.bootstrap import app


@flow(name="reminders", flow_run_name="herinneringen {peildatum}", persist_result=False)
def reminders(peildatum: date | None = None) -> int:
    """Stuur herinneringen en escalaties voor alle zaken die op iemand wachten, en ververs de werkvoorraad.

    Args:
        peildatum: De dag waarvoor herinneringen worden bepaald; leeg is vandaag. Een latere datum laat zien wat
            er dan verstuurd zou worden (en verstuurt het).
    """
    casework = app().casework
    today = peildatum or casework.today()
    queued = casework.send_reminders(today)
    get_run_logger().info(
        "%d herinnering(en) of escalatie(s) klaargezet voor %d zaak/zaken.", sum(queued.values()), len(queued)
    )
    refresh_worklist(today)
    deliver_mail(ALL)
    return sum(queued.values())


@flow(name="mail-outbox", flow_run_name="outbox", persist_result=False)
def mail_outbox() -> int:
    """Bezorg wat nog in de outbox staat, bijvoorbeeld omdat de mailserver eerder niet bereikbaar was."""
    return int(deliver_mail(ALL))
