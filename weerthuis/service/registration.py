"""Registration (outside Prefect: personal data enters here)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from weerthuis.casedb.models import (
    Case,
    Client,
    Transition,
)
from weerthuis.domain.moves import Event
from weerthuis.domain.stages import Stage
from weerthuis.domain.vocabulary import (
    InstitutionType,
    Role,
)
from weerthuis.service.base import CaseworkBase
from weerthuis.service.errors import InvalidAnswer, SameBsn, UnknownDecider


def cases_with_bsn(session: Session, digest: str) -> list[tuple[str, Stage]]:
    """The cases (reference, stage) of clients with this BSN digest, not erased, oldest first."""
    rows = session.execute(
        select(Case.reference, Case.stage)
        .join(Client, Case.client_id == Client.id)
        .where(Client.bsn_digest == digest, Client.erased_at.is_(None))
        .order_by(Case.id)
    )
    return [(reference, Stage(stage)) for reference, stage in rows]


class Registration(CaseworkBase):
    def register(
        self,
        *,
        region: str,
        institution_type: InstitutionType,
        care_provider: str,
        origin_municipality: str,
        registration_reason: str,
        region_tie: bool,
        household_size: int,
        housing_wishes: str,
        registered_by: str,
        client: Client,
        allow_same_bsn: bool = False,
    ) -> str:
        """Register a client and open their case in stage `registered`; returns the new case reference.

        A client whose BSN (by `bsn_digest`) an earlier case already has, open or closed, is refused with SameBsn
        unless `allow_same_bsn`: the same person is registered twice only on purpose.
        """
        config = self.regions.get(region)
        if config is None:
            raise InvalidAnswer(f"Onbekende regio '{region}'; bekend: {', '.join(sorted(self.regions))}.")
        if care_provider not in {p.code for p in config.care_providers}:
            raise InvalidAnswer(f"Zorgaanbieder '{care_provider}' werkt niet in regio {config.name}.")
        person = config.person(registered_by)
        if person is None or person.role not in (Role.CASE_MANAGER, Role.COORDINATOR):
            raise UnknownDecider(f"'{registered_by}' is geen trajectbegeleider of coördinator in {config.name}.")
        if not 1 <= household_size <= 12:
            raise InvalidAnswer("Huishoudgrootte moet tussen 1 en 12 liggen.")
        now = self.now()
        with self._uow() as uow:
            if client.bsn_digest and not allow_same_bsn:
                same = cases_with_bsn(uow.session, client.bsn_digest)
                if same:
                    raise SameBsn(same)
            year = now.year
            count = uow.session.execute(
                select(func.count()).select_from(Case).where(Case.reference.like(f"WT-{year}-%"))
            ).scalar_one()
            reference = f"WT-{year}-{count + 1:04d}"
            uow.session.add(client)
            uow.session.flush()
            case = Case(
                reference=reference,
                region=region,
                client_id=client.id,
                institution_type=institution_type.value,
                care_provider=care_provider,
                origin_municipality=origin_municipality,
                registration_reason=registration_reason,
                region_tie=region_tie,
                household_size=household_size,
                housing_wishes=housing_wishes,
                registered_by=registered_by,
                registered_at=now,
                stage=Stage.REGISTERED.value,
                stage_attempt=1,
                stage_since=now,
            )
            uow.session.add(case)
            uow.session.flush()
            uow.session.add(
                Transition(
                    case_id=case.id,
                    seq=1,
                    move="register",
                    event=Event.CASE_REGISTERED.value,
                    from_stage=Stage.REGISTERED.value,
                    from_attempt=1,
                    to_stage=Stage.REGISTERED.value,
                    attempt=1,
                    decided_by=registered_by,
                    at=now,
                    reason="",
                )
            )
            uow.commit()
            return reference
