"""The unit of work: one transaction that rolls back unless the command commits it."""

from __future__ import annotations

from types import TracebackType

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from weerthuis.casedb.models import Case


class UnknownCase(LookupError):
    def __init__(self, reference: str) -> None:
        super().__init__(f"Zaak {reference} bestaat niet in de zaakdatabase.")
        self.reference = reference


class UnitOfWork:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def __enter__(self) -> UnitOfWork:
        self.session = self._sessions()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.session.rollback()
        self.session.close()

    def commit(self) -> None:
        self.session.commit()

    def case(self, reference: str, *, lock: bool = False) -> Case:
        """The case row; with `lock`, held until commit so two deciders on one case take turns."""
        query = select(Case).where(Case.reference == reference)
        if lock:
            query = query.with_for_update()
        case = self.session.execute(query).scalar_one_or_none()
        if case is None:
            raise UnknownCase(reference)
        return case
