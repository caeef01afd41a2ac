"""The cached exposition (each station's lines kept until the fleet's change hook says the
station changed) must write exactly what a fresh rendering of the same fleet writes, after any
sequence of the fleet's mutators, and must render again only the stations that changed."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from exporter.knowledge import catalog as catalog_module
from exporter.render.exposition import FleetExposition, RenderedStations
from exporter.state.fleet import ActiveError, ChangeHooks, Fleet, Placement, StationInfo

CATALOG = catalog_module.load()
STATIONS = ("A", "B", "C")
CODES = ("NoError", "GroundFailure", "OverCurrentFailure")


def apply(fleet: Fleet, op: tuple[str, str, int, int], now: float) -> None:
    kind, station, connector, n = op
    if kind == "connect":
        fleet.connect(station, now)
    elif kind == "disconnect":
        known = fleet.get(station)
        if known is not None:
            fleet.disconnect(station, known.session, now)
    elif kind == "seen":
        fleet.seen(station, now)
    elif kind == "boot":
        fleet.boot(station, StationInfo("V", f"M{n}", "1", "S", "1.6"), now)
    elif kind == "status":
        code = CODES[n % len(CODES)]
        status = ("Available", "Faulted", "Charging")[n % 3]
        error = None if code == "NoError" else ActiveError(code, now, status, "v", f"E{n}", "")
        fleet.report_status(station, str(connector), status, error, now)
    elif kind == "firmware":
        fleet.firmware_status(station, ("Installing", "Installed")[n % 2], now)
    elif kind == "forget":
        fleet.forget(now, after=0.0)


ops = st.lists(
    st.tuples(
        st.sampled_from(
            ["connect", "disconnect", "seen", "boot", "status", "status", "firmware", "forget"]
        ),
        st.sampled_from(STATIONS),
        st.integers(0, 2),
        st.integers(0, 5),
    ),
    max_size=40,
)


@settings(max_examples=150, deadline=None)
@given(ops, st.integers(1, 4))
async def test_cached_rendering_equals_a_fresh_one_after_any_mutations(
    sequence: list[tuple[str, str, int, int]], scrape_every: int
) -> None:
    rendered = RenderedStations()
    fleet = Fleet({"A": Placement("site-1", "ctl")}, now=1.0, changes=ChangeHooks(rendered))
    cached = FleetExposition(fleet, CATALOG, 3, rendered)
    fresh = FleetExposition(fleet, CATALOG, 3)
    for n, op in enumerate(sequence):
        apply(fleet, op, 10.0 + n)
        if n % scrape_every == 0:
            assert await cached.render() == await fresh.render()
    assert await cached.render() == await fresh.render()


async def test_a_scrape_renders_only_the_stations_that_changed(monkeypatch) -> None:
    rendered = RenderedStations()
    fleet = Fleet(now=1.0, changes=rendered)
    for n in range(50):
        fleet.connect(f"S{n}", 2.0)
        fleet.report_status(f"S{n}", "1", "Available", None, 2.0)
    exposition = FleetExposition(fleet, CATALOG, 10, rendered)
    calls: list[str] = []
    original = FleetExposition.station_lines

    def counting(self, station, into):  # type: ignore[no-untyped-def]
        calls.append(station.id)
        original(self, station, into)

    monkeypatch.setattr(FleetExposition, "station_lines", counting)
    await exposition.render()
    assert len(calls) == 50
    calls.clear()
    # Frames from every station move last_seen only: nothing is rendered again, and the new
    # last_seen values are in the scrape all the same.
    for n in range(50):
        fleet.seen(f"S{n}", 99.5)
    text = await exposition.render()
    assert calls == []
    assert text.count("} 99.5\n") == 50
    fleet.report_status("S7", "1", "Faulted", ActiveError("GroundFailure", 3.0, "Faulted"), 3.0)
    text = await exposition.render()
    assert calls == ["S7"]
    assert 'error_code="GroundFailure",site="unassigned",station="S7"} 1.0' in text
