"""Region files: the shipped ones load; a bad one is refused with file, line and key."""

from pathlib import Path

import pytest

from config.regions import RegionConfigError, load_regions, parse_region
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
