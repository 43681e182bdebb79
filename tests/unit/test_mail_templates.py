"""Every mail renders in Dutch, as text and HTML, from its facts alone; the preview writes them all."""

from __future__ import annotations

from email import message_from_bytes, policy
from pathlib import Path

import pytest
from jinja2 import UndefinedError

from notifications.events import MailEvent
from notifications.examples import EXAMPLES
from notifications.preview import write_previews
from notifications.render import TEMPLATES, bedrag, render

DUTCH_OPENINGS = {
    MailEvent.DECISION_NEEDED: "Actie nodig",
    MailEvent.NOMINATION: "Voordracht",
    MailEvent.OFFER: "Woningaanbod",
    MailEvent.LEASE_SIGNED: "Huurovereenkomst getekend",
    MailEvent.SUPPORT_ARRANGED: "Begeleiding aan huis geregeld",
    MailEvent.FOLLOW_UP_DUE: "Nazorgmoment",
    MailEvent.WARNING_RAISED: "Signaal",
    MailEvent.REMINDER: "Herinnering",
    MailEvent.ESCALATION: "Escalatie",
    MailEvent.CASE_STUCK: "Vastgelopen",
}


def test_every_event_has_its_three_templates_and_nothing_else_lies_around() -> None:
    expected = {f"{e.value}.{part}" for e in MailEvent for part in ("subject.txt", "txt", "html")}
    found = {p.name for p in TEMPLATES.iterdir() if not p.name.startswith("_")}
    assert found == expected


@pytest.mark.parametrize("event", list(MailEvent))
def test_each_mail_renders_in_dutch_with_the_case_reference(event: MailEvent) -> None:
    mail = render(event, EXAMPLES[event])
    assert mail.subject.startswith(DUTCH_OPENINGS[event])
    assert "WT-2026-0042" in mail.subject
    assert "\n" not in mail.subject
    assert mail.text.startswith("Beste ")
    assert "Persoonsgegevens staan niet in deze mail" in mail.text
    assert '<html lang="nl">' in mail.html
    assert "WT-2026-0042" in mail.html
    assert "{{" not in mail.text + mail.html


def test_a_missing_fact_is_an_error_not_a_blank() -> None:
    facts = dict(EXAMPLES[MailEvent.OFFER])
    del facts["dwelling_reference"]
    with pytest.raises(UndefinedError, match="dwelling_reference"):
        render(MailEvent.OFFER, facts)


def test_html_escapes_what_people_typed_and_text_keeps_it() -> None:
    facts = {**EXAMPLES[MailEvent.WARNING_RAISED], "signal": "overlast <script>alert(1)</script> & geluid"}
    mail = render(MailEvent.WARNING_RAISED, facts)
    assert "<script>" not in mail.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; geluid" in mail.html
    assert "overlast <script>alert(1)</script> & geluid" in mail.text


def test_reminder_says_whether_the_due_date_has_passed() -> None:
    before = render(MailEvent.REMINDER, {**EXAMPLES[MailEvent.REMINDER], "overdue": False})
    after = render(MailEvent.REMINDER, {**EXAMPLES[MailEvent.REMINDER], "overdue": True})
    assert before.subject.startswith("Herinnering:")
    assert "uiterlijk 04-12-2026" in before.text
    assert after.subject.startswith("Termijn verstreken:")
    assert "verstreken op 04-12-2026" in after.text


def test_money_and_dates_are_written_the_dutch_way() -> None:
    assert bedrag(612.5) == "€ 612,50"
    assert bedrag(1234.5) == "€ 1.234,50"
    mail = render(MailEvent.OFFER, EXAMPLES[MailEvent.OFFER])
    assert "Kale huur: € 612,50 per maand" in mail.text
    assert "Bezichtiging: 01-12-2026" in mail.text


def test_mail_to_a_corporation_carries_only_what_it_needs() -> None:
    mail = render(MailEvent.NOMINATION, EXAMPLES[MailEvent.NOMINATION])
    assert "Huishouden: 1 persoon" in mail.text
    for detail in ("ZRM", "score", "diagnose", "verslaving"):
        assert detail not in mail.text


def test_preview_writes_text_html_and_a_multipart_eml_per_mail(tmp_path: Path) -> None:
    written = write_previews(tmp_path)
    assert len(written) == 3 * len(MailEvent)
    for event in MailEvent:
        message = message_from_bytes((tmp_path / f"{event.value}.eml").read_bytes(), policy=policy.default)
        assert message.get_content_type() == "multipart/alternative"
        assert [part.get_content_type() for part in message.iter_parts()] == ["text/plain", "text/html"]  # type: ignore[attr-defined]
        assert str(message["Subject"]).strip() == render(event, EXAMPLES[event]).subject
        assert (tmp_path / f"{event.value}.txt").read_text(encoding="utf-8").startswith("Onderwerp: ")
