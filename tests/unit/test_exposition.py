"""The hand-written fleet exposition must say exactly what prometheus_client says for the
reference FleetCollector: same bytes, and the same samples through prometheus_client's parser."""

from __future__ import annotations

import asyncio

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from exporter.knowledge import catalog as catalog_module
from exporter.render.exposition import CHUNK, FleetExposition
from exporter.render.metrics import FleetCollector
from exporter.state.fleet import ActiveError, Fleet, Placement, StationInfo

TRICKY = 'back\\slash "quoted"\nnew line, ünïcödé'


def tricky_fleet() -> Fleet:
    fleet = Fleet(
        {"CONF-1": Placement('site "A"', "ctl\\1"), "CONF-2": Placement("site-b", "")},
        now=1_700_000_000.0,
    )
    fleet.connect("CONF-1", 1_700_000_001.25)
    fleet.boot(
        "CONF-1",
        StationInfo(TRICKY, "Model", "1.0", "SN-1", "1.6"),
        1_700_000_002.5,
    )
    fleet.report_status("CONF-1", "0", "Available", None, 1_700_000_003.0)
    fleet.report_status(
        "CONF-1",
        "1",
        "Available",
        ActiveError("GroundFailure", 1_700_000_004.125, "Available", "V", 'E"1', TRICKY),
        1_700_000_004.125,
    )
    fleet.report_status(
        "CONF-1",
        "2",
        "Faulted",
        ActiveError("Unknown", 1_700_000_005.0, "Faulted", "", "", "errorCode=Smoke"),
        1_700_000_005.0,
    )
    fleet.firmware_status("CONF-1", "Installing", 1_700_000_006.0)
    fleet.connect("ROGUE\\1", 1_700_000_007.0)
    fleet.firmware_status("ROGUE\\1", "Installed", 1_700_000_008.0)
    fleet.raise_from(
        "ROGUE\\1",
        "3",
        "TemperatureMonitor.Alert",
        ActiveError("HighTemperature", 1.5, "Charging"),
        1_700_000_009.0,
    )
    fleet.disconnect("ROGUE\\1", 2, 1_700_000_010.0)
    return fleet


def reference(collector: FleetCollector) -> str:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return generate_latest(registry).decode()


def parsed(text: str) -> list[tuple[str, str, str, list[tuple[str, tuple, float]]]]:
    return [
        (
            f.name,
            f.type,
            f.documentation,
            sorted((s.name, tuple(sorted(s.labels.items())), s.value) for s in f.samples),
        )
        for f in text_string_to_metric_families(text)
    ]


async def test_same_bytes_and_samples_as_prometheus_client():
    catalog = catalog_module.load()
    for budget in (10_000, 1, 0):  # error_info series budget, incl. dropping some
        collector = FleetCollector(tricky_fleet(), catalog, budget)
        fast = await FleetExposition(collector).render()
        expected = reference(collector)
        assert fast == expected
        assert parsed(fast) == parsed(expected)
        info = 'ocpp_connector_error_info{connector="1",error_code="GroundFailure"'
        assert (info in fast) == (budget > 0)
    assert r"back\\slash \"quoted\"\nnew line" in fast


async def test_empty_fleet():
    collector = FleetCollector(Fleet(), catalog_module.load(), 100)
    assert await FleetExposition(collector).render() == reference(collector)


async def test_rendering_a_large_fleet_yields_to_the_event_loop():
    fleet = Fleet()
    for n in range(CHUNK * 4):
        sid = f"S{n}"
        fleet.connect(sid, 1.0)
        for connector in ("1", "2"):
            fleet.report_status(sid, connector, "Available", None, 2.0)
    exposition = FleetExposition(FleetCollector(fleet, catalog_module.load(), 10))
    ticks = 0
    done = False

    async def ticker() -> None:
        nonlocal ticks
        while not done:
            ticks += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    before = ticks
    text = await exposition.render()
    done = True
    await task
    # Other tasks (station frames) ran between chunks of the render.
    assert ticks - before >= 4
    assert text.count("\nocpp_connector_status{") == CHUNK * 4 * 2
    assert text == reference(exposition.collector)


def test_go_float_matches_prometheus_client():
    from prometheus_client.utils import floatToGoString

    from exporter.render.exposition import go_float

    for value in (0, 1, 7, 0.5, 1.5, 123456.0, 1234567.0, 1_700_000_004.125, 1e16, -3.25, 1e-7):
        assert go_float(value) == floatToGoString(value), value
    assert go_float(float("inf")) == "+Inf"
