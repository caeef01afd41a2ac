"""Fast text exposition of the fleet families for /metrics.

`metrics.FleetCollector` stays the reference: it defines the families (names, help, labels) and
is what prometheus_client renders in tests. With 10,000 stations x 2 connectors it means some
90,000 series, and prometheus_client's generic path (a Sample per series, label dicts sorted and
escaped one by one) takes seconds of event-loop time, during which no station frame is handled.
This renderer writes the same text (tests/test_exposition.py compares it byte for byte) with
one f-string per series and yields to the event loop every few hundred stations, so frames keep
flowing while a scrape is rendered.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

from prometheus_client import generate_latest
from prometheus_client.core import Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from exporter.render.metrics import FIRMWARE_UPDATE_STATES, FleetCollector
from exporter.state.fleet import Fleet

# Stations rendered between two yields to the event loop (about 5 ms of work).
CHUNK = 500


def escape(value: str) -> str:
    """Label value escaping of the text format, as prometheus_client does it."""
    if "\\" in value or "\n" in value or '"' in value:
        return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")
    return value


def go_float(value: float) -> str:
    """prometheus_client's floatToGoString for the finite values we render, without its
    generic checks (it was the top entry of the scrape's profile)."""
    text = repr(float(value))
    dot = text.find(".")
    if dot < 0:  # inf, nan, 1e+16 and the like
        return floatToGoString(value)
    if value > 0 and dot > 6:
        mantissa = f"{text[0]}.{text[1:dot]}{text[dot + 1 :]}".rstrip("0.")
        return f"{mantissa}e+0{dot - 1}"
    return text


class _Families(Collector):
    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterator[Metric]:
        return iter(self.families)


class FleetExposition:
    """Renders what `collector.collect()` yields, as prometheus_client's `generate_latest` would,
    without building Sample objects. Label names are written in sorted order, like
    generate_latest writes them."""

    def __init__(self, collector: FleetCollector) -> None:
        self.collector = collector
        # HELP/TYPE lines taken from the reference collector, so they cannot drift apart.
        empty = FleetCollector(Fleet(), collector.catalog, 0)
        self.headers: dict[str, str] = {}
        for family in empty.collect():
            text = generate_latest(_Families([family])).decode()
            self.headers[family.name] = "".join(
                line + "\n" for line in text.splitlines() if line.startswith("#")
            )

    async def render(self) -> str:
        c = self.collector
        stations = list(c.fleet)
        connected: list[str] = []
        info: list[str] = []
        last_seen: list[str] = []
        connects: list[str] = []
        boots: list[str] = []
        firmware: list[str] = []
        firmware_ts: list[str] = []
        status: list[str] = []
        status_since: list[str] = []
        error: list[str] = []
        error_since: list[str] = []
        error_info: list[str] = []
        budget = c.max_error_info_series
        dropped = 0
        go = go_float
        for n, station in enumerate(stations):
            if n % CHUNK == CHUNK - 1:
                await asyncio.sleep(0)
            sid = escape(station.id)
            site = escape(station.site)
            sl = f'site="{site}",station="{sid}"}}'
            connected.append(
                f'ocpp_station_connected{{controller="{escape(station.controller)}",{sl} '
                f"{'1.0' if station.connected else '0.0'}\n"
            )
            i = station.info
            info.append(
                f'ocpp_station_info{{firmware_version="{escape(i.firmware_version)}",'
                f'model="{escape(i.model)}",ocpp_version="{escape(i.ocpp_version)}",'
                f'serial_number="{escape(i.serial_number)}",site="{site}",station="{sid}",'
                f'vendor="{escape(i.vendor)}"}} 1.0\n'
            )
            if station.last_seen:
                last_seen.append(
                    f"ocpp_station_last_seen_timestamp_seconds{{{sl} {go(station.last_seen)}\n"
                )
            connects.append(f"ocpp_station_connects_total{{{sl} {go(station.connects)}\n")
            boots.append(f"ocpp_station_boots_total{{{sl} {go(station.boots)}\n")
            if station.firmware_status:
                updating = "1.0" if station.firmware_status in FIRMWARE_UPDATE_STATES else "0.0"
                firmware.append(f"ocpp_station_firmware_update_in_progress{{{sl} {updating}\n")
                firmware_ts.append(
                    f"ocpp_station_firmware_status_timestamp_seconds{{{sl} "
                    f"{go(station.firmware_status_at)}\n"
                )
            for connector in station.connectors.values():
                cl = f'connector="{escape(connector.id)}"'
                if connector.status:
                    status.append(
                        f'ocpp_connector_status{{{cl},site="{site}",station="{sid}",'
                        f'status="{escape(connector.status)}"}} 1.0\n'
                    )
                    status_since.append(
                        f"ocpp_connector_status_since_timestamp_seconds{{{cl},{sl} "
                        f"{go(connector.status_since)}\n"
                    )
                for e in connector.errors.values():
                    el = f'{cl},error_code="{escape(e.code)}"'
                    error.append(f"ocpp_connector_error{{{el},{sl} 1.0\n")
                    error_since.append(
                        f"ocpp_connector_error_since_timestamp_seconds{{{el},{sl} {go(e.since)}\n"
                    )
                    if budget > 0:
                        budget -= 1
                        error_info.append(
                            f'ocpp_connector_error_info{{{el},info="{escape(e.info)}",'
                            f'site="{site}",station="{sid}",status="{escape(e.status)}",'
                            f'vendor_error_code="{escape(e.vendor_error_code)}",'
                            f'vendor_id="{escape(e.vendor_id)}"}} 1.0\n'
                        )
                    else:
                        dropped += 1
        h = self.headers
        out: list[str] = []
        for name, lines in (
            ("ocpp_station_connected", connected),
            ("ocpp_station_info", info),
            ("ocpp_station_last_seen_timestamp_seconds", last_seen),
            ("ocpp_station_connects", connects),
            ("ocpp_station_boots", boots),
            ("ocpp_station_firmware_update_in_progress", firmware),
            ("ocpp_station_firmware_status_timestamp_seconds", firmware_ts),
            ("ocpp_connector_status", status),
            ("ocpp_connector_status_since_timestamp_seconds", status_since),
            ("ocpp_connector_error", error),
            ("ocpp_connector_error_since_timestamp_seconds", error_since),
            ("ocpp_connector_error_info", error_info),
        ):
            out.append(h[name])
            out.extend(lines)
        out.append(h["ocpp_exporter_error_info_series_dropped"])
        out.append(f"ocpp_exporter_error_info_series_dropped {go(dropped)}\n")
        out.append(generate_latest(_Families(list(c._catalog()))).decode())
        return "".join(out)
