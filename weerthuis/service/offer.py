"""Offer commands: the corporation offers a dwelling (within the neighbourhood's cap), the client answers."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from weerthuis.casedb import quota
from weerthuis.casedb.models import (
    Offer,
)
from weerthuis.domain.moves import Move, after_refusal
from weerthuis.domain.procedure import Step
from weerthuis.domain.vocabulary import (
    OfferAnswer,
    RefusalReason,
)
from weerthuis.service.base import SYSTEM, CaseworkBase, corporation_of
from weerthuis.service.effects import (
    current_row,
)
from weerthuis.service.errors import InvalidAnswer


class OfferCommands(CaseworkBase):
    def make_offer(
        self,
        reference: str,
        attempt: int,
        *,
        dwelling_reference: str,
        neighbourhood: str,
        rent: Decimal,
        viewing_on: date,
        decided_by: str,
    ) -> None:
        """A consultant offers a dwelling; the neighbourhood's yearly cap is claimed in the same transaction."""
        with self._uow() as uow:
            case = self._answering(uow, reference, attempt, Step.OFFER, decided_by)
            if case is None:
                return
            corporation = corporation_of(uow.session, case)
            region = self.regions[case.region]
            if neighbourhood not in {n.code for n in region.neighbourhoods}:
                raise InvalidAnswer(f"Wijk '{neighbourhood}' hoort niet bij regio {region.name}.")
            if viewing_on < self.today():
                raise InvalidAnswer("De bezichtigingsdatum ligt in het verleden.")
            year = self.today().year
            quota.claim_neighbourhood_place(uow.session, region, neighbourhood, year)
            uow.session.add(
                Offer(
                    case_id=case.id,
                    attempt=attempt,
                    region=region.code,
                    corporation=corporation,
                    dwelling_reference=dwelling_reference,
                    neighbourhood=neighbourhood,
                    year=year,
                    rent=rent,
                    viewing_on=viewing_on,
                    offered_by=decided_by,
                    offered_at=self.now(),
                )
            )
            uow.session.flush()
            self._apply(
                uow,
                case,
                Move.MAKE_OFFER,
                decided_by=decided_by,
                waiting_for=Step.OFFER_RESPONSE,
                reason=f"woning {dwelling_reference} in {neighbourhood}",
            )
            uow.commit()

    def answer_offer(
        self,
        reference: str,
        attempt: int,
        answer: OfferAnswer,
        decided_by: str,
        reason: RefusalReason | None = None,
    ) -> None:
        with self._uow() as uow:
            case = self._answering(uow, reference, attempt, Step.OFFER_RESPONSE, decided_by)
            if case is None:
                return
            offer = current_row(uow.session, Offer, case)
            offer.answered_by, offer.answered_at = decided_by, self.now()
            if answer is OfferAnswer.ACCEPTED:
                offer.answer = "accepted"
                self._apply(uow, case, Move.ACCEPT_OFFER, decided_by=decided_by, waiting_for=Step.LEASE)
                uow.commit()
                return
            if reason is None:
                raise InvalidAnswer("Geef bij een weigering de reden op.")
            offer.answer, offer.refusal_reason = "refused", reason.value
            region = self.regions[case.region]
            lapses = after_refusal(case.refusals, region.refusal_limit) is Move.LAPSE_PRIORITY
            case.refusals += 1
            if lapses:
                self._apply(uow, case, Move.REFUSE_OFFER, decided_by=decided_by, reason=reason.value)
                self._release_places(uow.session, case)
                reason_lapsed = f"voorrang vervallen na {case.refusals} weigeringen"
                self._apply(uow, case, Move.LAPSE_PRIORITY, decided_by=SYSTEM, reason=reason_lapsed)
            else:
                self._apply(
                    uow, case, Move.REFUSE_OFFER, decided_by=decided_by, reason=reason.value, waiting_for=Step.OFFER
                )
            uow.commit()
