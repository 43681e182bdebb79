"""Regions as data: corporations and contingents, people, due dates, intervals, caps; errors name file and line."""

from __future__ import annotations

import re
from datetime import timedelta
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Annotated, Any, NoReturn

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from weerthuis.domain.vocabulary import Role


class RegionCode(StrEnum):
    """Regio's van deze installatie."""

    # One region file per member; a test keeps the two in step. Its docstring is what the start form shows.

    EMMEN = "emmen"
    FRYSLAN = "fryslan"


class RegionConfigError(ValueError):
    """A region file that does not validate; the message points at file, line and key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# Upper bounds a Dutch region can really have; a larger number is a typo or a hostile file, not a policy.
MAX_HOMES = 10_000  # homes or placements a year, per corporation, neighbourhood or region
MAX_DAYS = 365
Days = Annotated[int, Field(gt=0, le=MAX_DAYS, description="days (1 to 365)")]


class Corporation(_Strict):
    code: str = Field(pattern=r"^[a-z][a-z0-9-]*$")
    name: str
    contingent: int = Field(
        ge=0, le=MAX_HOMES, description="homes a year put up for mediation to this region's cases (at most 10 000)"
    )
    api_block: str | None = Field(default=None, description="name of the corporation's API block, if it has one")


class Neighbourhood(_Strict):
    code: str = Field(pattern=r"^[a-z][a-z0-9-]*$")
    name: str
    yearly_cap: int = Field(
        ge=0, le=MAX_HOMES, description="outflow placements a year this neighbourhood can carry (at most 10 000)"
    )


class CareProvider(_Strict):
    code: str = Field(pattern=r"^[a-z][a-z0-9-]*$")
    name: str
    api_block: str | None = Field(default=None, description="name of the care provider's API block, if it has one")


class Person(_Strict):
    """Someone who decides in the procedure. Prefect only ever sees the code."""

    code: str = Field(pattern=r"^[A-Z]{2,4}-[A-Z0-9-]+$")
    role: Role
    organisation: str
    name: str
    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+$")


class DueDays(_Strict):
    """How many days each waiting step may take before it is due."""

    readiness_assessment: Days
    readiness_decision: Days
    nomination_proposal: Days
    nomination_response: Days
    offer: Days
    offer_response: Days
    lease: Days
    signing: Days = Field(default=10, description="days the signers have to sign a drawn-up lease (1 to 365)")
    support: Days
    review: Days = Field(description="days after the review date that the review form is due (1 to 365)")
    escalation: Days = Field(default=5, description="days the coordinator has to decide on a red card (1 to 365)")
    omklap: Days = Field(default=21, description="days for the omklap decision at the end of the guidance (1 to 365)")


class Reminders(_Strict):
    """When the people a step waits on are reminded, and when the coordinator hears it is stuck."""

    days_before_due: Days = Field(default=2, description="days before the due date of the first reminder (1 to 365)")
    escalate_days_after_due: Days = Field(default=3, description="days past due of the escalation (1 to 365)")


URL = r"^https?://\S+$"
# Every stage a case can enter after registration, and the end stages among them (results belong to these).
_TRACKED_STAGES = ("readiness", "nomination", "offer", "tenancy", "support", "follow_up")
_END_STAGES = ("closed", "withdrawn", "relapsed", "evicted", "moved")


class CaseSystem(_Strict):
    """The municipality's zaaksysteem (ZGW Zaken API) for this region: which block, whose zaken, which types."""

    block: str = Field(description="name of the ZGW Zaken API block (Prefect UI → Blocks)")
    bronorganisatie: str = Field(pattern=r"^\d{9}$", description="RSIN of the municipality")
    zaaktype: str = Field(pattern=URL, description="the outflow zaaktype in the Catalogi API")
    statustypen: dict[str, str] = Field(description="stage → statustype URL; an end stage's is the eindstatus")
    resultaattypen: dict[str, str] = Field(description="end stage → resultaattype URL")
    roltype_trajectbegeleider: str | None = Field(default=None, pattern=URL)

    @model_validator(mode="after")
    def _types(self) -> CaseSystem:
        known = set(_TRACKED_STAGES) | set(_END_STAGES)
        for kind, types in (("statustypen", self.statustypen), ("resultaattypen", self.resultaattypen)):
            unknown = sorted(set(types) - known)
            if unknown:
                raise ValueError(f"{kind}: onbekende fase {', '.join(unknown)}")
            bad = sorted(stage for stage, url in types.items() if not re.match(URL, url))
            if bad:
                raise ValueError(f"{kind}: geen URL bij {', '.join(bad)}")
        missing = sorted(set(_END_STAGES) - set(self.resultaattypen))
        if missing:
            raise ValueError(f"resultaattypen: ontbreekt voor {', '.join(missing)}")
        return self


class Region(_Strict):
    code: str = Field(pattern=r"^[a-z][a-z0-9-]*$")
    name: str
    yearly_homes_cap: int | None = Field(
        default=None, ge=0, le=MAX_HOMES, description="homes a year for all corporations together (at most 10 000)"
    )
    refusal_limit: int = Field(ge=1, le=10, description="refused suitable offers after which priority lapses (1 to 10)")
    reassessment_days: Days = Field(description="wait before re-assessing a case that is not yet ready (1 to 365)")
    follow_up_months: list[Annotated[int, Field(le=120)]] = Field(
        min_length=1, max_length=24, description="months after the move of each follow-up review (at most 120)"
    )
    warning_review_months: int = Field(
        default=1,
        ge=1,
        le=12,
        description="after a yellow card, the next review is at most this many months away (1 to 12)",
    )
    extension_months: int = Field(default=6, ge=1, le=24, description="months of guidance an extension adds (1 to 24)")
    due_days: DueDays
    reminders: Reminders = Reminders()
    zaaksysteem: CaseSystem | None = None
    esign_block: str | None = Field(default=None, description="name of the e-signature service's block, if any")
    corporations: list[Corporation] = Field(min_length=1)
    neighbourhoods: list[Neighbourhood] = Field(min_length=1)
    care_providers: list[CareProvider] = Field(min_length=1)
    people: list[Person] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> Region:
        for kind, items in (
            ("corporations", self.corporations),
            ("neighbourhoods", self.neighbourhoods),
            ("care_providers", self.care_providers),
            ("people", self.people),
        ):
            codes = [item.code for item in items]
            doubles = sorted({c for c in codes if codes.count(c) > 1})
            if doubles:
                raise ValueError(f"{kind}: code komt dubbel voor: {', '.join(doubles)}")
        if self.follow_up_months != sorted(set(self.follow_up_months)) or self.follow_up_months[0] <= 0:
            raise ValueError("follow_up_months: oplopende, positieve maanden zonder dubbelen")
        total = sum(c.contingent for c in self.corporations)
        if self.yearly_homes_cap is not None and total > self.yearly_homes_cap:
            raise ValueError(f"contingenten samen ({total}) zijn meer dan yearly_homes_cap ({self.yearly_homes_cap})")
        corporations = {c.code for c in self.corporations}
        for person in self.people:
            if person.role is Role.CORPORATION_CONSULTANT and person.organisation not in corporations:
                raise ValueError(
                    f"people: woonconsulent {person.code} werkt bij onbekende corporatie '{person.organisation}'"
                )
        for corporation in self.corporations:
            if not self.people_with(Role.CORPORATION_CONSULTANT, corporation.code):
                raise ValueError(f"people: corporatie {corporation.code} heeft geen woonconsulent")
        for role in (Role.COORDINATOR, Role.CASE_MANAGER):
            if not self.people_with(role):
                raise ValueError(f"people: de regio heeft geen {role.label}")
        return self

    def people_with(self, role: Role, organisation: str | None = None) -> list[Person]:
        return [p for p in self.people if p.role is role and (organisation is None or p.organisation == organisation)]

    def person(self, code: str) -> Person | None:
        return next((p for p in self.people if p.code == code), None)

    def corporation(self, code: str) -> Corporation:
        return next(c for c in self.corporations if c.code == code)

    def due(self, step: str) -> timedelta:
        return timedelta(days=getattr(self.due_days, step))


# The shipped files nest four deep; PyYAML's composer recurses, so a hostile file could nest until it overflows.
_MAX_DEPTH = 20


class _RegionLoader(yaml.SafeLoader):
    """A SafeLoader that refuses aliases, duplicate keys and deep nesting while composing, before anything is built."""

    def __init__(self, text: str, source: str) -> None:
        super().__init__(text)
        self.name = source  # so PyYAML's own messages name the file, not "<unicode string>"
        self.depth = 0

    def refuse(self, mark: Any, problem: str) -> NoReturn:
        raise RegionConfigError(f"{self.name}:{mark.line + 1}: {problem}")

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            # Region files need none; refusing every alias stops an alias bomb before it is expanded.
            self.refuse(
                event.start_mark, f"alias '*{event.anchor}' niet toegestaan: regiobestanden gebruiken geen aliassen"
            )
        if self.depth >= _MAX_DEPTH:
            self.refuse(event.start_mark, f"meer dan {_MAX_DEPTH} niveaus diep genest")
        self.depth += 1
        node = super().compose_node(parent, index)
        self.depth -= 1
        return node

    def compose_mapping_node(self, anchor: Any) -> yaml.MappingNode:
        node = super().compose_mapping_node(anchor)
        seen: dict[tuple[str, str], int] = {}
        for key, _ in node.value:
            if isinstance(key, yaml.ScalarNode):
                if (key.tag, key.value) in seen:
                    line = seen[(key.tag, key.value)]
                    self.refuse(key.start_mark, f"sleutel '{key.value}' komt dubbel voor (ook op regel {line})")
                seen[(key.tag, key.value)] = key.start_mark.line + 1
        return node

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except (RegionConfigError, yaml.YAMLError):
            raise
        except Exception:  # PyYAML's constructors fail in their own ways on '!!int' alone, 2024-13-45, 5000 digits
            kind = node.tag.rsplit(":", 1)[-1]
            self.refuse(node.start_mark, f"'{str(node.value)[:40]}' is geen geldige {kind}")


def _line_index(node: yaml.Node, path: tuple[Any, ...] = ()) -> dict[tuple[Any, ...], int]:
    """Map every key path in a YAML document to the (1-based) line it starts on."""
    lines = {path: node.start_mark.line + 1}
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            lines.update(_line_index(value, (*path, key.value)))
            lines[(*path, key.value)] = key.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            lines.update(_line_index(item, (*path, i)))
    return lines


def parse_region(text: str, source: str = "<region>") -> Region:
    """Validate one region file's text; any error names the source, line and key."""
    try:
        loader = _RegionLoader(text, source)
        node = loader.get_single_node()
        data = None if node is None else loader.construct_document(node)
    except yaml.YAMLError as exc:
        raise RegionConfigError(f"{source}: geen geldige YAML: {exc}") from exc
    if node is None or not isinstance(data, dict):
        raise RegionConfigError(f"{source}: verwacht een mapping met de regio")
    lines = _line_index(node)
    try:
        return Region.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            loc = tuple(error["loc"])
            # The deepest part of the path that exists in the file holds the line to point at.
            known = next((loc[:n] for n in range(len(loc), -1, -1) if loc[:n] in lines), ())
            where = ".".join(str(p) for p in loc) or "(regio)"
            problems.append(f"{source}:{lines.get(known, 1)}: {where}: {error['msg']}")
        raise RegionConfigError("\n".join(problems)) from None


def load_region(path: Path) -> Region:
    """One region file; bytes that are not UTF-8 are reported with their line and offset."""
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        bad = raw[exc.start : exc.end]
        raise RegionConfigError(f"{path}:{line}: geen UTF-8: byte {bad!r} op positie {exc.start}") from None
    return parse_region(text, source=str(path))


@cache
def load_regions(directory: Path) -> dict[str, Region]:
    """Every region file in a directory, by region code."""
    regions = {}
    for path in sorted(directory.glob("*.yaml")):
        region = load_region(path)
        if region.code in regions:
            raise RegionConfigError(f"{path}: regiocode '{region.code}' bestaat al")
        regions[region.code] = region
    if not regions:
        raise RegionConfigError(f"{directory}: geen regiobestanden (*.yaml)")
    return regions
