"""检举控告: nothing about a case accusing a unit is delivered to that unit's people."""

from __future__ import annotations

from notifier.deliveries.planning import withhold_from_accused
from notifier.recipients.models import Recipient


def _recipient(name: str, unit: str | None) -> Recipient:
    return Recipient(name=name, org_unit_id=unit)


def test_the_accused_unit_and_the_units_below_it_receive_nothing() -> None:
    town = _recipient("陈炉镇承办人", "610203100")
    village = _recipient("陈炉镇示例村", "610203100001")
    other_town = _recipient("红土镇承办人", "610203101")
    district = _recipient("区信访局", None)
    everyone = [town, village, other_town, district]

    kept = withhold_from_accused(everyone, {"accused_unit_id": "610203100"})

    assert kept == [other_town, district]


def test_a_case_accusing_no_one_reaches_every_recipient() -> None:
    everyone = [_recipient("陈炉镇承办人", "610203100"), _recipient("区住建局", "D-ZJJ")]
    assert withhold_from_accused(everyone, {"accused_unit_id": None}) == everyone
    assert withhold_from_accused(everyone, {}) == everyone
