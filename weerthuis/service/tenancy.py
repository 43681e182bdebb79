"""Tenancy commands: the lease is drawn up and signed (or not, and drawn up again)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from weerthuis.casedb.models import (
    Lease,
)
from weerthuis.domain.calendar import add_months
from weerthuis.domain.moves import Move
from weerthuis.domain.procedure import Step
from weerthuis.domain.vocabulary import (
    ContractForm,
    InstitutionType,
    SigningResult,
)
from weerthuis.service.base import CaseworkBase, corporation_of
from weerthuis.service.errors import InvalidAnswer


class TenancyCommands(CaseworkBase):
    def draw_up_lease(
        self,
        reference: str,
        attempt: int,
        *,
        contract_form: ContractForm,
        temporary: bool,
        decided_by: str,
    ) -> None:
        """The corporation drew up the lease; it goes out for signing (by the e-signature service, or on paper)."""
        with self._uow() as uow:
            case = self._answering(uow, reference, attempt, Step.LEASE, decided_by)
            if case is None:
                return
            corporation = corporation_of(uow.session, case)
            if temporary and case.institution_type != InstitutionType.SOCIAL_SHELTER.value:
                raise InvalidAnswer(
                    "Een tijdelijk huurcontract mag alleen voor wie uit de maatschappelijke opvang komt."
                )
            lease = uow.session.execute(select(Lease).filter_by(case_id=case.id)).scalar_one_or_none()
            if lease is None:  # drawn up again after a declined signing: the same lease row, redrawn
                lease = Lease(case_id=case.id)
                uow.session.add(lease)
            lease.corporation, lease.contract_form, lease.temporary = corporation, contract_form.value, temporary
            lease.signed_on, lease.ends_on, lease.recorded_by = None, None, decided_by
            uow.session.flush()
            self._apply(
                uow,
                case,
                Move.DRAW_UP_LEASE,
                decided_by=decided_by,
                waiting_for=Step.SIGNING,
                reason=contract_form.value,
            )
            uow.commit()

    def record_signing(
        self,
        reference: str,
        attempt: int,
        *,
        result: SigningResult,
        signed_on: date | None,
        decided_by: str,
    ) -> None:
        """The lease was signed by everyone (the case goes on to support at home), or it was not: declined or
        expired, and the lease is drawn up again."""
        with self._uow() as uow:
            case = self._answering(uow, reference, attempt, Step.SIGNING, decided_by)
            if case is None:
                return
            lease = uow.session.execute(select(Lease).filter_by(case_id=case.id)).scalar_one()
            if result is SigningResult.SIGNED:
                if signed_on is None:
                    raise InvalidAnswer("Geef de datum van ondertekening op.")
                if signed_on > self.today():
                    raise InvalidAnswer("De ondertekeningsdatum ligt in de toekomst.")
                lease.signed_on = signed_on
                # A temporary lease for someone from MO runs at most two years (since 1 July 2024).
                lease.ends_on = add_months(signed_on, 24) if lease.temporary else None
                uow.session.flush()
                self._apply(
                    uow,
                    case,
                    Move.SIGN_LEASE,
                    decided_by=decided_by,
                    waiting_for=Step.SUPPORT,
                    reason=lease.contract_form,
                )
            else:
                self._apply(
                    uow, case, Move.DECLINE_SIGNING, decided_by=decided_by, waiting_for=Step.LEASE, reason=result.value
                )
            uow.commit()
