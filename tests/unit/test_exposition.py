"""The fast fleet exposition must say exactly what prometheus_client says for the same series:
same bytes, and the same samples through prometheus_client's parser. The reference below names
each family's labels and values itself (as the public contract lists them), so a change to the
families table that alters a label or a value fails here."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector

from exporter.knowledge import catalog as catalog_module
from exporter.knowledge.catalog import Catalog
from exporter.render.exposition import CHUNK, FleetExposition
from exporter.render.families import ALL_FAMILIES
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
    fleet.report_status(
        "CONF-1",
        "3",
        "Finishing",
        ActiveError(
            "OtherError",
            1_700_000_005.5,
            "Finishing",
            "com.evgo.mrec",
            "F000,F002",
            "1.95,6.90",
            scheme="evgo",
            codes=("F000", "F002"),
            readings=("1.95", "6.90"),
        ),
        1_700_000_005.5,
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


class Reference(Collector):
    """The fleet families as prometheus_client families, labels and values spelled out here."""

    def __init__(self, fleet: Fleet, catalog: Catalog, max_error_info_series: int) -> None:
        self.fleet = fleet
        self.catalog = catalog
        self.budget = max_error_info_series

    def collect(self) -> Iterator[Metric]:
        help_of = {f.name: f.help for f in ALL_FAMILIES}

        def gauge(name: str, labels: list[str]) -> GaugeMetricFamily:
            return GaugeMetricFamily(name, help_of[name], labels=labels)

        def counter(name: str, labels: list[str]) -> CounterMetricFamily:
            return CounterMetricFamily(name, help_of[name], labels=labels)

        st = ["station", "site"]
        co = [*st, "connector"]
        er = [*co, "error_code"]
        connected = gauge("ocpp_station_connected", [*st, "controller"])
        info = gauge(
            "ocpp_station_info",
            [*st, "vendor", "model", "firmware_version", "serial_number", "ocpp_version"],
        )
        last_seen = gauge("ocpp_station_last_seen_timestamp_seconds", st)
        connects = counter("ocpp_station_connects", st)
        boots = counter("ocpp_station_boots", st)
        firmware = gauge("ocpp_station_firmware_update_in_progress", st)
        firmware_ts = gauge("ocpp_station_firmware_status_timestamp_seconds", st)
        synced = gauge("ocpp_station_synced_timestamp_seconds", st)
        report = gauge("ocpp_connector_report_timestamp_seconds", co)
        status = gauge("ocpp_connector_status", [*co, "status"])
        status_since = gauge("ocpp_connector_status_since_timestamp_seconds", co)
        error = gauge("ocpp_connector_error", er)
        error_since = gauge("ocpp_connector_error_since_timestamp_seconds", er)
        error_info = gauge(
            "ocpp_connector_error_info",
            [*er, "status", "vendor_id", "vendor_error_code", "info", "scheme"],
        )
        vendor_code = gauge("ocpp_connector_vendor_code", [*er, "scheme", "code"])
        budget = self.budget
        dropped = 0
        for s in self.fleet:
            sl = [s.id, s.site]
            connected.add_metric([*sl, s.controller], s.connected)
            i = s.info
            info.add_metric(
                [*sl, i.vendor, i.model, i.firmware_version, i.serial_number, i.ocpp_version], 1
            )
            if s.last_seen:
                last_seen.add_metric(sl, s.last_seen)
            connects.add_metric(sl, s.connects)
            boots.add_metric(sl, s.boots)
            if s.firmware_status:
                # The fleet above reports Installing (an update) and Installed (done).
                firmware.add_metric(sl, s.firmware_status == "Installing")
                firmware_ts.add_metric(sl, s.firmware_status_at)
            if s.synced_at:
                synced.add_metric(sl, s.synced_at)
            for c in s.connectors.values():
                cl = [*sl, c.id]
                report.add_metric(cl, c.updated_at)
                if c.status:
                    status.add_metric([*cl, c.status], 1)
                    status_since.add_metric(cl, c.status_since)
                for e in c.errors.values():
                    el = [*cl, e.code]
                    error.add_metric(el, 1)
                    error_since.add_metric(el, e.since)
                    if budget > 0:
                        budget -= 1
                        error_info.add_metric(
                            [*el, e.status, e.vendor_id, e.vendor_error_code, e.info, e.scheme], 1
                        )
                    else:
                        dropped += 1
                    for code in e.codes:
                        vendor_code.add_metric([*el, e.scheme, code], 1)
        yield from (connected, info, last_seen, connects, boots, firmware, firmware_ts, synced)
        yield from (report, status, status_since, error, error_since, error_info, vendor_code)
        truncated = gauge("ocpp_exporter_error_info_series_dropped", [])
        truncated.add_metric([], dropped)
        yield truncated
        codes = gauge(
            "ocpp_error_code_info",
            ["error_code", "severity", "title", "description", "resolution", "runbook_url"],
        )
        for e in self.catalog.errors.values():
            codes.add_metric(
                [e.key, e.severity, e.title, e.description, e.resolution_text(), e.runbook_url], 1
            )
        yield codes
        notes = gauge(
            "ocpp_notification_info",
            ["kind", "alertname", "severity", "title", "description", "resolution"],
        )
        for e in self.catalog.notifications.values():
            notes.add_metric(
                [e.key, e.alert, e.severity, e.title, e.description, e.resolution_text()], 1
            )
        yield notes
        vendor = gauge(
            "ocpp_vendor_code_info",
            [
                "scheme",
                "code",
                "title",
                "severity",
                "responsible",
                "description",
                "resolution",
                "runbook_url",
            ],
        )
        for v in self.catalog.codes.entries():
            vendor.add_metric(
                [
                    v.scheme,
                    v.code,
                    v.title,
                    v.severity,
                    ",".join(v.responsible),
                    v.description,
                    v.resolution_text(),
                    v.runbook_url,
                ],
                1,
            )
        yield vendor


def reference(fleet: Fleet, catalog: Catalog, max_error_info_series: int) -> str:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(Reference(fleet, catalog, max_error_info_series))
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
        fleet = tricky_fleet()
        fast = await FleetExposition(fleet, catalog, budget).render()
        expected = reference(fleet, catalog, budget)
        assert fast == expected
        assert parsed(fast) == parsed(expected)
        info = 'ocpp_connector_error_info{connector="1",error_code="GroundFailure"'
        assert (info in fast) == (budget > 0)
    assert r"back\\slash \"quoted\"\nnew line" in fast


async def test_every_series_has_the_name_type_help_and_labels_of_its_table_family():
    text = await FleetExposition(tricky_fleet(), catalog_module.load(), 1).render()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert list(families) == [f.name for f in ALL_FAMILIES]
    for family in ALL_FAMILIES:
        parsed_family = families[family.name]
        assert (parsed_family.type, parsed_family.documentation) == (family.type, family.help)
        assert parsed_family.samples, f"{family.name}: the test fleet should have a series"
        for sample in parsed_family.samples:
            suffix = "_total" if family.type == "counter" else ""
            assert sample.name == family.name + suffix
            assert sorted(sample.labels) == sorted(family.label_names), family.name


async def test_empty_fleet():
    catalog = catalog_module.load()
    assert await FleetExposition(Fleet(), catalog, 100).render() == reference(Fleet(), catalog, 100)


async def test_rendering_a_large_fleet_yields_to_the_event_loop():
    fleet = Fleet()
    for n in range(CHUNK * 4):
        sid = f"S{n}"
        fleet.connect(sid, 1.0)
        for connector in ("1", "2"):
            fleet.report_status(sid, connector, "Available", None, 2.0)
    catalog = catalog_module.load()
    exposition = FleetExposition(fleet, catalog, 10)
    ticks = 0
    done = False

    async def ticker() -> None:
        nonlocal ticks
        while not done:
            ticks += 1
            await asyncio.sleep(0)  # one turn of the loop: counts how often rendering yields

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0)  # let the ticker start
    before = ticks
    text = await exposition.render()
    done = True
    await task
    # Other tasks (station frames) ran between chunks of the render.
    assert ticks - before >= 4
    assert text.count("\nocpp_connector_status{") == CHUNK * 4 * 2
    assert text == reference(fleet, catalog, 10)


def test_go_float_matches_prometheus_client():
    from prometheus_client.utils import floatToGoString

    from exporter.render.exposition import go_float

    for value in (0, 1, 7, 0.5, 1.5, 123456.0, 1234567.0, 1_700_000_004.125, 1e16, -3.25, 1e-7):
        assert go_float(value) == floatToGoString(value), value
    assert go_float(float("inf")) == "+Inf"
