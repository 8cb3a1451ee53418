"""Capacity planning (profiles/placement.py): pure placement of a roster on a site's MCUs."""

from __future__ import annotations

import pytest

from profiles.placement import McuCapacity, place

HOST = McuCapacity("mcu", 10, host=True)


def roster(n: int) -> list[str]:
    """The central point and n - 1 communes, in roster order."""
    return ["trung-tam", *(f"xa-{i:03d}" for i in range(1, n))]


def test_a_roster_that_fits_the_host_stays_on_it() -> None:
    plan = place(roster(9), [HOST, McuCapacity("mcu-2", 10)], recorder=True)
    assert plan.points == {"mcu": roster(9)}
    assert plan.cascades == []
    assert plan.used("mcu") == 10  # 9 points + the recorder
    assert (plan.needed, plan.shortfall, plan.left_out) == (10, 0, [])


def test_overflow_opens_a_secondary_with_a_link_port_on_each_side() -> None:
    plan = place(roster(12), [HOST, McuCapacity("mcu-2", 10)], recorder=True)
    # host: recorder + link + 8 points; mcu-2: link + the 4 points that did not fit
    assert plan.points["mcu"] == roster(12)[:8]
    assert plan.points["mcu-2"] == roster(12)[8:]
    assert plan.cascades == ["mcu-2"]
    assert plan.used("mcu") == 10 and plan.used("mcu-2") == 5
    assert plan.needed == 12 + 1 + 2 and plan.shortfall == 0


def test_left_out_points_are_the_end_of_the_roster_with_the_numbers() -> None:
    mcus = [HOST, McuCapacity("mcu-2", 10), McuCapacity("mcu-3", 5)]
    plan = place(roster(30), mcus, recorder=True, upstream=True)
    # host 10 = recorder + upstream + 2 links + 6 points; mcu-2: link + 9; mcu-3: link + 4
    assert [len(plan.points[m]) for m in ("mcu", "mcu-2", "mcu-3")] == [6, 9, 4]
    assert plan.left_out == roster(30)[19:]
    assert plan.shortfall == 11
    assert plan.needed == 30 + 2 + 4 and plan.available == 25
    assert plan.ports_short == 11
    assert plan.to_dict()["ports"]["mcu-3"] == {"used": 5, "capacity": 5}


def test_preferred_mcu_is_used_when_it_has_room() -> None:
    mcus = [HOST, McuCapacity("mcu-2", 3)]
    prefs = {"xa-001": "mcu-2", "xa-002": "mcu-2", "xa-003": "mcu-2"}
    plan = place(roster(5), mcus, preferred=prefs)
    # mcu-2 has 3 ports: its link + two points; the third preference falls back to the host
    assert plan.points["mcu-2"] == ["xa-001", "xa-002"]
    assert plan.points["mcu"] == ["trung-tam", "xa-003", "xa-004"]
    assert plan.used("mcu") == 4  # 3 points + the link


def test_the_central_point_always_joins_the_host() -> None:
    plan = place(["trung-tam", "xa-001"], [HOST], preferred={"trung-tam": "mcu-2"})
    assert plan.points == {"mcu": ["trung-tam", "xa-001"]}
    with pytest.raises(ValueError, match="host"):
        place(["trung-tam"], [McuCapacity("mcu-2", 4)])


def test_a_secondary_too_small_for_a_link_and_a_point_is_not_opened() -> None:
    plan = place(roster(4), [McuCapacity("mcu", 3, host=True), McuCapacity("mcu-2", 1)])
    assert plan.cascades == []
    assert plan.left_out == ["xa-003"]
