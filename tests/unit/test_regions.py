"""Region files: the shipped ones load; a bad or hostile one is refused with file, line and key."""

import copy
import re
from datetime import timedelta
from functools import reduce
from operator import getitem
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from config.regions import MAX_HOMES, RegionConfigError, load_region, load_regions, parse_region
from config.settings import REGIONS_DIR
from weerthuis.domain.vocabulary import Role

EMMEN = (REGIONS_DIR / "emmen.yaml").read_text(encoding="utf-8")


def test_shipped_regions_load_with_their_corporations_and_contingents() -> None:
    regions = load_regions(REGIONS_DIR)
    assert set(regions) == {"emmen", "fryslan"}
    assert [c.name for c in regions["emmen"].corporations] == ["Domesta", "Lefier", "Woonservice"]
    fryslan = regions["fryslan"]
    assert fryslan.yearly_homes_cap == 300
    assert sum(c.contingent for c in fryslan.corporations) <= 300
    for region in regions.values():
        assert region.people_with(Role.COORDINATOR) and region.people_with(Role.CASE_MANAGER)
        assert region.follow_up_months == [3, 6, 12, 24]


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def test_bad_value_points_at_file_line_and_key() -> None:
    text = EMMEN.replace("contingent: 20", "contingent: -3")
    with pytest.raises(RegionConfigError) as raised:
        parse_region(text, "emmen.yaml")
    assert f"emmen.yaml:{line_of(text, 'contingent: -3')}: corporations.1.contingent" in str(raised.value)


def test_unknown_key_and_missing_key_are_both_reported() -> None:
    text = EMMEN.replace("refusal_limit: 2", "refusal_limt: 2")
    with pytest.raises(RegionConfigError) as raised:
        parse_region(text, "emmen.yaml")
    message = str(raised.value)
    assert f"emmen.yaml:{line_of(text, 'refusal_limt')}: refusal_limt: Extra inputs are not permitted" in message
    assert "refusal_limit: Field required" in message


def test_contingents_above_the_regions_yearly_cap_are_refused() -> None:
    text = (REGIONS_DIR / "fryslan.yaml").read_text(encoding="utf-8").replace("contingent: 90", "contingent: 91")
    with pytest.raises(RegionConfigError, match=r"contingenten samen \(301\) zijn meer dan yearly_homes_cap \(300\)"):
        parse_region(text, "fryslan.yaml")


def test_consultant_of_an_unknown_corporation_is_refused() -> None:
    text = EMMEN.replace("organisation: lefier", "organisation: lefeir")
    with pytest.raises(RegionConfigError, match="EMM-LEF-01 werkt bij onbekende corporatie 'lefeir'"):
        parse_region(text, "emmen.yaml")


def test_broken_yaml_is_reported_with_the_file(tmp_path: Path) -> None:
    (tmp_path / "kapot.yaml").write_text("code: [unclosed\n", encoding="utf-8")
    with pytest.raises(RegionConfigError, match="kapot.yaml: geen geldige YAML"):
        load_regions(tmp_path)


BOMB = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"{b}: &{b} [{', '.join(['*' + a] * 9)}]\n" for a, b in zip("abcdefgh", "bcdefghi", strict=True)
)


@pytest.mark.timeout(10)
def test_an_alias_bomb_is_refused_before_it_is_expanded() -> None:
    with pytest.raises(RegionConfigError, match=re.escape("bom.yaml:2: alias '*a' niet toegestaan")):
        parse_region(BOMB, "bom.yaml")


def test_bytes_that_are_not_utf8_are_reported_with_line_and_offset(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("code: emmen\nname: Caf\xe9\n".encode("latin-1"))
    with pytest.raises(RegionConfigError, match=re.escape(f"{path}:2: geen UTF-8: byte b'\\xe9' op positie 21")):
        load_region(path)


def test_a_duplicate_key_is_refused_with_both_lines() -> None:
    text = EMMEN.replace("refusal_limit: 2\n", "refusal_limit: 2\nrefusal_limit: 3\n")
    line = line_of(text, "refusal_limit: 3")
    message = f"emmen.yaml:{line}: sleutel 'refusal_limit' komt dubbel voor (ook op regel {line - 1})"
    with pytest.raises(RegionConfigError, match=re.escape(message)):
        parse_region(text, "emmen.yaml")


@pytest.mark.parametrize(
    ("old", "new", "key"),
    [
        ("contingent: 20", "contingent: 1000000000000000000000000000000", "corporations.1.contingent"),
        ("yearly_cap: 6}", "yearly_cap: 60000}", "neighbourhoods.0.yearly_cap"),
        ("offer: 42", "offer: 4200", "due_days.offer"),
        ("days_before_due: 2", "days_before_due: 1000", "reminders.days_before_due"),
        ("reassessment_days: 90", "reassessment_days: 3650", "reassessment_days"),
        ("refusal_limit: 2", "refusal_limit: 99", "refusal_limit"),
        ("[3, 6, 12, 24]", "[3, 6, 12, 2400]", "follow_up_months.3"),
    ],
)
def test_an_absurd_number_is_refused_with_its_line_and_key(old: str, new: str, key: str) -> None:
    text = EMMEN.replace(old, new, 1)
    with pytest.raises(RegionConfigError, match=re.escape(f"emmen.yaml:{line_of(text, new)}: {key}: Input should be")):
        parse_region(text, "emmen.yaml")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("code: 2024-13-45\n", "x.yaml:1: '2024-13-45' is geen geldige timestamp"),
        ("code: " + "1" * 5000 + "\n", "x.yaml:1: '1111111111111111111111111111111111111111' is geen geldige int"),
        ("code: !!bool\n", "x.yaml:1: '' is geen geldige bool"),
        ("code: " + "[" * 5000 + "]" * 5000 + "\n", "x.yaml:1: meer dan 20 niveaus diep genest"),
    ],
)
def test_a_value_yaml_cannot_build_is_refused_with_the_file(text: str, problem: str) -> None:
    with pytest.raises(RegionConfigError, match=re.escape(problem)):
        parse_region(text, "x.yaml")


# Properties: whatever a file holds, the loader answers with a region or a RegionConfigError naming the file.
PROPERTY = settings(max_examples=200, deadline=timedelta(seconds=1), database=None)
YAMLISH = st.text(alphabet="abz019 -:,.[]{}&*!?|>#%@'\"~\t\n", max_size=300)
BROKEN_EMMEN = st.tuples(st.integers(0, len(EMMEN)), YAMLISH).map(
    lambda cut: EMMEN[: cut[0]] + cut[1] + EMMEN[cut[0] :]
)


@pytest.fixture(scope="module")
def region_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("hostile") / "regio.yaml"


@PROPERTY
@given(content=st.one_of(st.binary(max_size=500), st.text(max_size=500), YAMLISH, BROKEN_EMMEN))
def test_any_file_loads_or_is_refused_naming_the_file(region_file: Path, content: bytes | str) -> None:
    region_file.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    try:
        load_region(region_file)
    except RegionConfigError as exc:
        assert str(region_file) in str(exc)


def int_paths(data: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(data, dict | list):
        items = data.items() if isinstance(data, dict) else enumerate(data)
        return [found for key, value in items for found in int_paths(value, (*path, key))]
    return [path] if isinstance(data, int) and not isinstance(data, bool) else []


EMMEN_DATA = yaml.safe_load(EMMEN)


@PROPERTY
@given(path=st.sampled_from(int_paths(EMMEN_DATA)), value=st.integers() | st.integers(-(10**40), 10**40))
def test_any_number_loads_in_bounds_or_is_refused_naming_its_key(path: tuple[Any, ...], value: int) -> None:
    data = copy.deepcopy(EMMEN_DATA)
    reduce(getitem, path[:-1], data)[path[-1]] = value
    try:
        region = parse_region(yaml.safe_dump(data), "emmen.yaml")
    except RegionConfigError as exc:
        message = str(exc)
        # The order check of follow_up_months speaks of the list, not of the month that broke it.
        assert f": {'.'.join(map(str, path))}:" in message or (
            path[0] == "follow_up_months" and "follow_up_months: oplopende" in message
        )
    else:
        assert 0 <= value <= MAX_HOMES
        assert reduce(getitem, path, region.model_dump()) == value
