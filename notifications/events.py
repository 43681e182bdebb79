"""The mails the procedure sends, one per event; each has a template trio named after it."""

from enum import StrEnum


class MailEvent(StrEnum):
    DECISION_NEEDED = "decision_needed"
    NOMINATION = "nomination"
    OFFER = "offer"
    LEASE_SIGNED = "lease_signed"
    SUPPORT_ARRANGED = "support_arranged"
    FOLLOW_UP_DUE = "follow_up_due"
    WARNING_RAISED = "warning_raised"
    REMINDER = "reminder"
    ESCALATION = "escalation"
    CASE_STUCK = "case_stuck"
