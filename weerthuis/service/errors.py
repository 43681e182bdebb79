"""Why a command refuses: in Dutch, for the person whose answer it was."""

from __future__ import annotations

from weerthuis.casedb.quota import Refused
from weerthuis.domain.stages import Stage


class UnknownDecider(Refused):
    pass


class InvalidAnswer(Refused):
    pass


class SameBsn(Refused):
    """A registration whose BSN an earlier case already has; registered only when asked again explicitly."""

    def __init__(self, cases: list[tuple[str, Stage]]) -> None:
        self.cases = cases
        self.listed = ", ".join(
            f"{ref} ({'afgesloten' if stage.is_final else 'open'}, {stage.label})" for ref, stage in cases
        )
        super().__init__(f"Dit BSN staat al bij zaak {self.listed}; niet opnieuw aangemeld.")


class StaleAnswer(RuntimeError):
    """An answer for a stage or attempt the case has already left: a bug in the caller, never silently applied."""


class CaseStillOpen(Refused):
    """Erasing the personal data of a case that has not ended; done only when forced."""

    def __init__(self, reference: str, stage: Stage) -> None:
        self.reference, self.stage = reference, stage
        super().__init__(
            f"Zaak {reference} is nog open ({stage.label}); persoonsgegevens worden pas gewist als de zaak is "
            "beëindigd."
        )
