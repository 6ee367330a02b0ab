"""The counterexample diagram: valid SVG, every kind of mark, no bar over another."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from models.checkers import check_all
from models.history import History, Recorder
from models.leases import leases
from sim.search import counterexample
from sim.views.diagram import Diagram, allocate, ticks
from sim.world import run

REGRESSIONS = Path(__file__).parents[2] / "properties" / "regressions"
# a fenced overlap with a refused write, a release answered 0 and an expired lease: kept
# as a fixture (not a regression seed, which regenerates when schedule ids change)
FENCED = Path(__file__).parents[2] / "tests" / "fixtures" / "diagram-fenced-overlap.json"
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def fenced() -> Diagram:
    cx = counterexample.load(FENCED)
    result = run(cx.scenario)
    verdicts = list(check_all(result.history, [cx.property]))
    return Diagram.from_run(result, verdicts, title="seed-fenced: mutual-exclusion")


def classes(root: ET.Element) -> set[str]:
    return {c for el in root.iter() for c in el.get("class", "").split()}


def test_svg_is_xml_with_every_kind_of_mark(fenced: Diagram) -> None:
    root = ET.fromstring(fenced.svg())
    assert root.tag == SVG + "svg"
    assert {"lease", "cs", "wait", "read", "write", "refused", "fault", "overlap",
            "witness", "legend", "tick", "gap"} <= classes(root)
    words = " ".join(t.text or "" for t in root.iter(SVG + "text"))
    for label in ("read 10", "stock:=9", "REFUSED stale-fence", "release->0",
                  "lease EXPIRED", "pause", "legend"):
        assert label in words


def test_the_expired_lease_ends_inside_the_critical_section(fenced: Diagram) -> None:
    """The cause: app2/req1's lease expired (Redis's PX 5000) while it was inside."""
    lease = next(m for m in fenced.marks if m.lane == "app2/req1" and m.kind == "lease")
    cs = next(m for m in fenced.marks if m.lane == "app2/req1" and m.kind == "cs")
    assert lease.expired and cs.start < lease.end < cs.end
    assert lease.end == pytest.approx(lease.start + 5000, abs=1)
    assert {la.name for la in fenced.lanes if la.witness} == {"app2/req1", "app1/req2"}
    assert fenced.bands and fenced.bands[0][0] == pytest.approx(5328.519)


def test_no_two_marks_share_a_row_where_they_overlap(fenced: Diagram) -> None:
    for width, char_w in ((1100, 6.6), (60, 1.0)):
        for _lane, placed, _rows in fenced.layout(0, width, char_w):
            bars = [(m, r) for m, r in placed if m.end > m.start]
            for i, (a, ra) in enumerate(bars):
                for b, rb in bars[i + 1:]:
                    if ra == rb:
                        assert a.end <= b.start or b.end <= a.start, (a, b)


def test_allocate_and_ticks() -> None:
    assert allocate([(0, 10), (5, 15), (11, 20), (16, 30)]) == [0, 1, 0, 1]
    assert ticks(0, 5437) == [0, 1000, 2000, 3000, 4000, 5000]


@pytest.mark.parametrize("width", [20, 33, 72, 160])
def test_text_fits_its_width(fenced: Diagram, width: int) -> None:
    out = fenced.text(width)
    assert all(len(line) <= width for line in out.splitlines()[1:])
    assert "#" in out and "E" in out and "!" in out


def test_text_refuses_tiny_widths(fenced: Diagram) -> None:
    with pytest.raises(ValueError, match="at least 20"):
        fenced.text(19)


def test_jupyter_and_html(fenced: Diagram) -> None:
    assert fenced._repr_svg_().startswith("<svg")
    assert "<svg" in fenced._repr_html_() and "<svg" in fenced.html()


def test_leases_follow_pexpire_del_and_expiry() -> None:
    log = [(0.0, 1, ("SET", "k", "a", "PX", 100, "NX"), None),
           (50.0, 1, ("PEXPIRE", "k", 100), 1),
           (120.0, 2, ("SET", "k", "b", "PX", 100, "NX"), None),
           (200.0, 2, ("SET", "k", "b", "PX", 100, "NX"), None),
           (260.0, 3, ("SET", "k", "c"), None),
           (270.0, 3, ("DEL", "k"), 1)]
    got = [(x.owner, x.start, x.end, x.end_cause, x.extensions)
           for x in leases(log, ["k"], 1000.0)]
    assert got == [("a", 0.0, 150.0, "expired", (50.0,)),
                   ("b", 200.0, 260.0, "overwritten", ()),
                   ("c", 260.0, 270.0, "deleted", ())]


def test_a_history_without_redis_log_still_draws() -> None:
    rec = Recorder()
    rec.record(0, "app1/req0", "invoke", "request", 1, "app1")
    rec.record(1, "app1/req0", "ok", "enter", ("t", 1), "app1")
    rec.record(2, "nemesis", "info", "crash", None, "app1")
    diagram = Diagram.build(History(rec.history().ops))
    ET.fromstring(diagram.svg())
    assert "inside" in diagram.text(40) or "#" in diagram.text(40)


def test_a_foreign_renewal_is_drawn_on_the_lane_that_sent_it() -> None:
    """The picture shows the cause: Redis's own log puts an F on the renewer's lane."""
    import models.locks.zoo  # noqa: F401
    from models.checkers import check_all
    from models.faults import parse_fault
    from models.scenario import Scenario
    from sim.world import run

    sc = Scenario(servers=2, requests=2, vus=2, load="scheduled", arrivals_ms=(0.0, 100.0),
                  lock="zoo-bare-pexpire", stock=10, seed=1, horizon_ms=30_000.0,
                  faults=tuple(parse_fault(f) for f in (
                      "slow-storage:0:12000:2000:storage", "delay:0:9000:6000@renewal")))
    result = run(sc)
    verdicts = [v for v in check_all(result.history, ["foreign-renewal"], truth=result)]
    assert verdicts[0].valid is False
    picture = Diagram.from_run(result, verdicts, title="zoo-bare-pexpire: foreign-renewal")
    foreign = [m for m in picture.marks if m.kind == "foreign"]
    assert foreign and all(m.witness for m in foreign)
    assert foreign[0].lane == "app1/req0" and "re-timed app2/req1's lock" in foreign[0].label
    assert "F:EVAL>PEXPIRE re-timed" in picture.text(120)
    assert 'class="foreign witness"' in picture.svg()
