from datetime import date

import pytest

from weerthuis.domain.bsn import InvalidBsn, normalise_bsn
from weerthuis.domain.zrm import InvalidAssessment, ZrmAssessment, ZrmDomain


def scores(**overrides: int) -> dict[ZrmDomain, int]:
    values = {domain: 3 for domain in ZrmDomain}
    values.update({ZrmDomain(k): v for k, v in overrides.items()})
    return values


def assessment(scores_: dict[ZrmDomain, int]) -> ZrmAssessment:
    return ZrmAssessment(date(2026, 3, 1), "EMM-TB-01", scores_, True, True, True)


def test_zrm_has_thirteen_domains() -> None:
    assert len(ZrmDomain) == 13


@pytest.mark.parametrize("bad", [0, 6, 7, -1])
def test_zrm_score_out_of_range_is_refused_with_the_domain_named(bad: int) -> None:
    with pytest.raises(InvalidAssessment, match="Financiën"):
        assessment(scores(financien=bad))


def test_zrm_score_must_be_a_whole_number() -> None:
    with pytest.raises(InvalidAssessment):
        assessment({**scores(), ZrmDomain.JUSTICE: 2.5})  # type: ignore[dict-item]


def test_zrm_missing_domain_is_named() -> None:
    partial = scores()
    del partial[ZrmDomain.SOCIAL_NETWORK]
    with pytest.raises(InvalidAssessment, match="sociaal_netwerk"):
        assessment(partial)


def test_domains_in_crisis_are_those_scored_one_or_two() -> None:
    result = assessment(scores(financien=1, middelengebruik=2, justitie=3))
    assert result.domains_in_crisis == [ZrmDomain.FINANCES, ZrmDomain.SUBSTANCE_USE]


@pytest.mark.parametrize("bsn", ["111222333", "123456782", "1112.22.333", "12345678 2"])
def test_valid_bsn_is_normalised(bsn: str) -> None:
    assert len(normalise_bsn(bsn)) == 9


@pytest.mark.parametrize(
    ("bsn", "why"), [("123456789", "elfproef"), ("12345", "9 cijfers"), ("abcdefghi", "9 cijfers")]
)
def test_invalid_bsn_says_why(bsn: str, why: str) -> None:
    with pytest.raises(InvalidBsn, match=why):
        normalise_bsn(bsn)
