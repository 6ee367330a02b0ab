"""The ``locksim_handler`` fixture, as a team's property test would use it."""

from __future__ import annotations

from typing import Any


def test_the_fixture_judges_a_handler(locksim_handler: Any) -> None:
    bad = locksim_handler("examples.coupon_handler:handle", servers=2, vus=5, requests=30,
                          faults=["pause:20:6000:holder"])
    assert not bad.holds("mutual-exclusion")
    assert "LockNotOwnedError" in bad.story("mutual-exclusion")
    good = locksim_handler("examples.coupon_handler:handle", servers=2, vus=5, requests=30)
    assert good.violated == []
