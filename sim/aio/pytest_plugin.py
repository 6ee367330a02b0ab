"""The ``locksim_handler`` pytest fixture: property tests against a team's own handler.

    def test_no_two_holders(locksim_handler):
        run = locksim_handler("myapp.coupons:handle", servers=2, requests=30,
                              faults=["pause:20:6000:holder"])
        assert run.holds("mutual-exclusion"), run.story("mutual-exclusion")

Every call runs the scenario twice (the determinism self-check fails the test
if the trace hashes differ); an escaping handler fails it with the escape.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from models.faults import parse_fault
from models.scenario import Scenario
from sim.aio.runner import LibraryRun, check_determinism, judge


@dataclass(frozen=True)
class Judged:
    """One judged handler run: its verdicts by property, and the run itself."""

    run: LibraryRun
    verdicts: dict[str, Any]

    @property
    def violated(self) -> list[str]:
        return [p for p, v in self.verdicts.items() if v.valid is False]

    def holds(self, prop: str) -> bool:
        return self.verdicts[prop].valid is not False

    def story(self, prop: str) -> str:
        v = self.verdicts[prop]
        return f"{v.summary}\n{v.story}"


def run_judged(handler: Any, scenario: Scenario | None = None, **fields: Any) -> Judged:
    if isinstance(fields.get("faults"), list | tuple):
        fields["faults"] = tuple(parse_fault(f) if isinstance(f, str) else f
                                 for f in fields["faults"])
    sc = (scenario or Scenario()).with_(**fields)
    run, same = check_determinism(sc, handler)
    if not same.same:
        pytest.fail(str(same))
    return Judged(run, {v.property: v for v in judge(run)})


@pytest.fixture
def locksim_handler() -> Any:
    """``locksim_handler(handler, scenario=None, **scenario_fields) -> Judged``."""
    return run_judged
