"""Personal data (outside Prefect: only the command line opens it, and every opening is logged)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from weerthuis.casedb.models import (
    Case,
    Client,
    PersonalDataAccess,
)
from weerthuis.domain.stages import Stage
from weerthuis.domain.vocabulary import (
    Role,
)
from weerthuis.service.base import CaseworkBase
from weerthuis.service.errors import CaseStillOpen, InvalidAnswer, UnknownDecider
from weerthuis.service.views import local

# What an erased name and free text of the registration read afterwards (their columns are NOT NULL or shown).
ERASED = "[gewist]"


class PersonalDataUse(StrEnum):
    """What was done with a client's personal data, as the access log records it."""

    SHOW = "show"
    EXPORT = "export"  # no export exists yet; the log's vocabulary has room for one
    ERASE = "erase"

    @property
    def label(self) -> str:
        """The Dutch word the access log prints."""
        return USE_LABELS[self]


USE_LABELS = {PersonalDataUse.SHOW: "inzage", PersonalDataUse.EXPORT: "export", PersonalDataUse.ERASE: "gewist"}


@dataclass(frozen=True)
class PersonalData:
    """A client's personal data as registered (BSN still encrypted), for the one person who opened it."""

    reference: str
    full_name: str | None
    bsn_encrypted: bytes | None
    date_of_birth: date | None
    phone: str | None
    email: str | None
    origin_municipality: str
    registration_reason: str
    housing_wishes: str
    consent_on: date | None
    erased_at: datetime | None


@dataclass(frozen=True)
class AccessLine:
    """One entry of the personal data access log; `at` in UTC."""

    at: datetime
    reference: str
    what: PersonalDataUse
    accessed_by: str
    os_user: str | None
    purpose: str


def utc(moment: datetime) -> datetime:
    """A moment of the access log in UTC (SQLite gives it back without a zone; it was written in UTC)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


class PrivacyCommands(CaseworkBase):
    def open_personal_data(
        self, reference: str, *, requested_by: str, purpose: str, os_user: str | None = None
    ) -> PersonalData:
        """The client's personal data for a case manager or coordinator of the case's region, who says what for;
        logged in the same transaction. Nothing is logged once the data is erased (nothing personal is left)."""
        purpose = purpose.strip()
        if not purpose:
            raise InvalidAnswer("Geef op waarvoor u de persoonsgegevens inziet (--purpose).")
        with self._uow() as uow:
            case = uow.case(reference)
            self._check_staff(case, requested_by, (Role.CASE_MANAGER, Role.COORDINATOR))
            client = uow.session.get_one(Client, case.client_id)
            data = PersonalData(
                reference=case.reference,
                full_name=client.full_name,
                bsn_encrypted=client.bsn_encrypted,
                date_of_birth=client.date_of_birth,
                phone=client.phone,
                email=client.email,
                origin_municipality=case.origin_municipality,
                registration_reason=case.registration_reason,
                housing_wishes=case.housing_wishes,
                consent_on=client.consent_on,
                erased_at=local(client.erased_at) if client.erased_at else None,
            )
            if client.erased_at is None:
                self._log_access(uow.session, case, PersonalDataUse.SHOW, requested_by, purpose, os_user)
                uow.commit()
            return data

    def erase_client(
        self, reference: str, *, decided_by: str, reason: str, force: bool = False, os_user: str | None = None
    ) -> bool:
        """Erase the client's personal data and keep the case, its history and all the monitor counts.

        Erased: name (to ERASED), BSN ciphertext and digest, birth date, phone, e-mail, and the registration's free
        text (origin, reason, wishes; to ERASED). Kept: every code, date and count, the history, the milestones, the
        outbox (its mails carry no personal data, see weerthuis.mailing). Only a coordinator of the case's region
        erases, only once the case has ended unless `force` (CaseStillOpen). The erasure is logged with who, when
        and why. Returns False, changing and logging nothing, if the data was erased already.
        """
        reason = reason.strip()
        if not reason:
            raise InvalidAnswer("Geef de reden op waarom de persoonsgegevens worden gewist.")
        with self._uow() as uow:
            case = uow.case(reference, lock=True)
            self._check_staff(case, decided_by, (Role.COORDINATOR,))
            client = uow.session.get_one(Client, case.client_id)
            if client.erased_at is not None:
                return False
            stage = Stage(case.stage)
            if not stage.is_final and not force:
                raise CaseStillOpen(case.reference, stage)
            client.full_name, client.bsn_encrypted, client.bsn_digest = ERASED, None, None
            client.date_of_birth, client.phone, client.email = None, None, None
            client.erased_at = self.now()
            case.origin_municipality = case.registration_reason = case.housing_wishes = ERASED
            why = reason if stage.is_final else f"{reason} (zaak nog open: {stage.label})"
            self._log_access(uow.session, case, PersonalDataUse.ERASE, decided_by, why, os_user)
            uow.commit()
            return True

    def access_log(self, reference: str | None = None) -> list[AccessLine]:
        """Who opened or erased personal data, when and for what, oldest first: of one case, or of every case."""
        with self._uow() as uow:
            query = (
                select(PersonalDataAccess, Case.reference)
                .join(Case, PersonalDataAccess.case_id == Case.id)
                .order_by(PersonalDataAccess.at, PersonalDataAccess.id)
            )
            if reference is not None:
                query = query.where(PersonalDataAccess.case_id == uow.case(reference).id)
            return [
                AccessLine(utc(row.at), ref, PersonalDataUse(row.what), row.accessed_by, row.os_user, row.purpose)
                for row, ref in uow.session.execute(query).tuples()
            ]

    def _log_access(
        self, session: Session, case: Case, what: PersonalDataUse, by: str, purpose: str, os_user: str | None
    ) -> None:
        session.add(
            PersonalDataAccess(
                case_id=case.id,
                at=self.now().astimezone(UTC),
                accessed_by=by,
                os_user=os_user[:64] if os_user else None,
                what=what.value,
                purpose=purpose[:400],
            )
        )

    def _check_staff(self, case: Case, code: str, roles: tuple[Role, ...]) -> None:
        """The person must have one of these roles in the case's region."""
        region = self.regions[case.region]
        person = region.person(code)
        if person is None or person.role not in roles:
            raise UnknownDecider(f"'{code}' is geen {' of '.join(r.label for r in roles)} in regio {region.name}.")
