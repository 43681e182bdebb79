"""The case database's commands and queries for one set of regions, composed from the service modules.

Each command opens a unit of work, checks the table of moves (weerthuis.domain) and who may decide, records,
commits. Every command names the stage and attempt it answers for; called again for a decision already taken (a
replayed flow), it changes nothing: that is what makes the re-entrant flow safe. Side effects owed to other
systems are written as `actions` rows in the same transaction as the event that causes them (service.effects).
"""

from __future__ import annotations

from weerthuis.service.actions import Bookkeeping
from weerthuis.service.follow_up import FollowUpCommands
from weerthuis.service.nomination import NominationCommands
from weerthuis.service.offer import OfferCommands
from weerthuis.service.privacy import PrivacyCommands
from weerthuis.service.queries import Queries
from weerthuis.service.readiness import ReadinessCommands
from weerthuis.service.registration import Registration
from weerthuis.service.runs import RunBookkeeping
from weerthuis.service.support import SupportCommands
from weerthuis.service.tenancy import TenancyCommands


class Casework(
    Registration,
    ReadinessCommands,
    NominationCommands,
    OfferCommands,
    TenancyCommands,
    SupportCommands,
    FollowUpCommands,
    Queries,
    Bookkeeping,
    RunBookkeeping,
    PrivacyCommands,
):
    """The case database's commands (one module per stage) and queries."""
