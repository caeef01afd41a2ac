"""Fast text exposition of the fleet families for /metrics, written from `families`.

With 10,000 stations x 2 connectors the fleet is some 90,000 series, and prometheus_client's
generic path (a Sample per series, label dicts sorted and escaped one by one) takes seconds of
event-loop time, during which no station frame is handled. This renderer writes the same text as
prometheus_client's `generate_latest` (tests/unit/test_exposition.py compares them byte for byte)
with writers compiled from the families table (one f-string per family), and yields to the event
loop every few hundred stations, so frames keep flowing while a scrape is rendered.

One station's series (`station_lines`) are the unit of work: a scrape concatenates them family by
family, so they can be cached per station.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from prometheus_client import generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from exporter.knowledge.catalog import Catalog
from exporter.knowledge.vendor_codes import VendorCode
from exporter.render.families import (
    CATALOG_FAMILIES,
    CODE_FAMILIES,
    CONNECTOR_FAMILIES,
    DROPPED,
    ERROR_FAMILIES,
    FLEET_FAMILIES,
    STATION_FAMILIES,
    Family,
)
from exporter.state.fleet import ActiveError, Fleet, Station

# Stations rendered between two yields to the event loop (about 5 ms of work).
CHUNK = 500


def escape(value: str) -> str:
    """Label value escaping of the text format, as prometheus_client does it."""
    if "\\" in value or "\n" in value or '"' in value:
        return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")
    return value


_ZERO_ONE: dict[float, str] = {0: "0.0", 1: "1.0"}


def go_float(value: float) -> str:
    """prometheus_client's floatToGoString for the finite values we render, without its
    generic checks (it was the top entry of the scrape's profile)."""
    text = _ZERO_ONE.get(value)  # booleans and always-1 gauges, most of the series
    if text is not None:
        return text
    text = repr(float(value))
    dot = text.find(".")
    if dot < 0:  # inf, nan, 1e+16 and the like
        return floatToGoString(value)
    if value > 0 and dot > 6:
        mantissa = f"{text[0]}.{text[1:dot]}{text[dot + 1 :]}".rstrip("0.")
        return f"{mantissa}e+0{dot - 1}"
    return text


#: Writes a resource's series: (resource, its escaped identity values, one `list.append` per
#: family of the group being written).
ResourceWriter = Callable[[Any, tuple[str, ...], Sequence[Callable[[str], None]]], None]

_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")


def _series_fstring(family: Family[Any]) -> str:
    """Source of an f-string writing one series of `family` from `i` (escaped identity values)
    and `s` (its Sample), label names in sorted order as generate_latest writes them."""
    names = family.label_names
    for name in (family.name, *names):
        if not _NAME.fullmatch(name):
            raise ValueError(f"family {family.name}: {name!r} is not a metric or label name")
    n_identity = len(family.identity)
    fields = []
    for name in sorted(names):
        k = names.index(name)
        value = f"i[{k}]" if k < n_identity else f"esc(s[0][{k - n_identity}])"
        fields.append(f'{name}="{{{value}}}"')
    metric = f"{family.name}_total" if family.type == "counter" else family.name
    labels = "{{" + ",".join(fields) + "}}" if fields else ""
    return f"f'{metric}{labels} {{go(s[1])}}\\n'"


def resource_writer(families: Sequence[Family[Any]]) -> ResourceWriter:
    """One function writing all of a resource's series for `families`: the sample functions
    called and the f-strings inlined. Generated (as dataclasses generates its methods) because
    a generic loop with str.format made the scrape three times slower than hand-written
    f-strings; this costs about a fifth more than they did (the sample calls)."""
    env: dict[str, Any] = {"esc": escape, "go": go_float}
    source = ["def write(r, i, a):"]
    for n, family in enumerate(families):
        env[f"sample{n}"] = family.sample
        source += [
            f"    s = sample{n}(r)",
            "    if s is not None:",
            f"        a[{n}]({_series_fstring(family)})",
        ]
    exec("\n".join(source), env)
    writer: ResourceWriter = env["write"]
    return writer


def _metric(family: Family[Any]) -> Metric:
    cls = CounterMetricFamily if family.type == "counter" else GaugeMetricFamily
    return cls(family.name, family.help, labels=family.label_names)


class _Families(Collector):
    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterator[Metric]:
        return iter(self.families)


def header(family: Family[Any]) -> str:
    """The HELP and TYPE lines, escaped by prometheus_client itself."""
    return generate_latest(_Families([_metric(family)])).decode()


class RenderedStations:
    """Each station's rendered lines, kept until the fleet's change hook says the station
    changed (as kube-state-metrics keeps each object's text): a scrape renders only what changed
    since the last one and concatenates the rest. A change of `last_seen` alone (`urgent` False)
    keeps the lines, because the volatile families are written afresh on every scrape anyway."""

    def __init__(self) -> None:
        self.entries: dict[str, tuple[Any, ...]] = {}

    def station_changed(self, station_id: str, urgent: bool) -> None:
        if urgent:
            self.entries.pop(station_id, None)

    def stations_forgotten(self, station_ids: Sequence[str]) -> None:
        for station_id in station_ids:
            self.entries.pop(station_id, None)


class FleetExposition:
    """The fleet, dropped-series and catalog families as /metrics text."""

    def __init__(
        self,
        fleet: Fleet,
        catalog: Catalog,
        max_error_info_series: int,
        rendered: RenderedStations | None = None,
    ) -> None:
        """`rendered`: the cache of station lines, which must be one of the fleet's change hooks
        (service.py wires both); without it every scrape renders every station."""
        self.fleet = fleet
        self._rendered = rendered
        self.max_error_info_series = max_error_info_series
        self._write_station = resource_writer(STATION_FAMILIES)
        self._write_connector = resource_writer(CONNECTOR_FAMILIES)
        self._write_error = resource_writer(ERROR_FAMILIES)
        self._write_code = resource_writer(CODE_FAMILIES)
        self._codes = catalog.codes
        n_station, n_connector = len(STATION_FAMILIES), len(CONNECTOR_FAMILIES)
        n_error = n_station + n_connector + len(ERROR_FAMILIES)
        self._connector_at = slice(n_station, n_station + n_connector)
        self._error_at = slice(n_station + n_connector, n_error)
        self._code_at = slice(n_error, len(FLEET_FAMILIES))
        self._headers = [header(f) for f in FLEET_FAMILIES]
        self._capped = [f.capped for f in FLEET_FAMILIES]
        self._volatile_at = [k for k, f in enumerate(FLEET_FAMILIES) if f.volatile]
        # The volatile families are all station families: written from the station alone.
        if any(FLEET_FAMILIES[k] not in STATION_FAMILIES for k in self._volatile_at):
            raise ValueError("only station families can be volatile")
        self._write_volatile = resource_writer([FLEET_FAMILIES[k] for k in self._volatile_at])
        self._dropped_header = header(DROPPED)
        self._write_dropped = resource_writer([DROPPED])
        # The catalog does not change while the process runs: its text is written once.
        catalog_text: list[str] = []
        for c in CATALOG_FAMILIES:
            write = resource_writer([c.family])
            catalog_text.append(header(c.family))
            for row in c.rows(catalog):
                write(row, (), [catalog_text.append])
        self._catalog_text = "".join(catalog_text)

    def station_lines(self, station: Station, into: Sequence[Callable[[str], None]]) -> None:
        """Writes one station's series: `into` holds one `append` per family of
        `FLEET_FAMILIES`, in its order."""
        esc = escape
        ident = (esc(station.id), esc(station.site))
        self._write_station(station, ident, into)
        into_connector = into[self._connector_at]
        into_error = into[self._error_at]
        into_code = into[self._code_at]
        for connector in station.connectors.values():
            cid = (*ident, esc(connector.id))
            self._write_connector(connector, cid, into_connector)
            for e in connector.errors.values():
                eid = (*cid, esc(e.code))
                self._write_error(e, eid, into_error)
                if e.codes:
                    for entry in self._known_codes(e):
                        self._write_code(entry, eid, into_code)

    def _known_codes(self, error: ActiveError) -> list[VendorCode]:
        """The entries behind an error's codes, once each (two codes of a compound may match
        one operator pattern); a code whose catalog is no longer configured has none."""
        entries: list[VendorCode] = []
        for code in error.codes:
            entry = self._codes.entry(error.scheme, code)
            if entry is not None and entry not in entries:
                entries.append(entry)
        return entries

    def _entry(self, station: Station) -> tuple[Any, ...]:
        """One station's lines per family of `FLEET_FAMILIES`: a string, or for a capped family
        the tuple of its lines (the cap is applied across the fleet at scrape time). The slot of
        a volatile family holds the station's escaped identity instead, to write it afresh."""
        lines: list[list[str]] = [[] for _ in FLEET_FAMILIES]
        self.station_lines(station, [family_lines.append for family_lines in lines])
        entry: list[Any] = [
            tuple(family_lines) if capped else "".join(family_lines)
            for family_lines, capped in zip(lines, self._capped, strict=True)
        ]
        for k in self._volatile_at:
            entry[k] = (escape(station.id), escape(station.site))
        return tuple(entry)

    async def render(self) -> str:
        cache = self._rendered.entries if self._rendered is not None else {}
        entries: list[tuple[Any, ...]] = []
        volatile: list[list[str]] = [[] for _ in self._volatile_at]
        volatile_appends = [family_lines.append for family_lines in volatile]
        volatile_slot = self._volatile_at[0] if self._volatile_at else 0
        for n, station in enumerate(list(self.fleet)):
            if n % CHUNK == CHUNK - 1:
                await asyncio.sleep(0)
            entry = cache.get(station.id)
            if entry is None:
                entry = self._entry(station)
                if self._rendered is not None:
                    cache[station.id] = entry
            entries.append(entry)
            if volatile:
                self._write_volatile(station, entry[volatile_slot], volatile_appends)
        fresh = dict(zip(self._volatile_at, volatile, strict=True))
        # One family at a time, with a yield between families: a fleet of 10,000 stations is
        # some 10 MB of text, and joining it in one go would hold up station frames.
        out: list[str] = []
        budget = max(self.max_error_info_series, 0)
        dropped = 0
        for k, (head, capped) in enumerate(zip(self._headers, self._capped, strict=True)):
            family_text = [head]
            if k in fresh:
                family_text += fresh[k]
            elif capped:
                family_lines = [line for entry in entries for line in entry[k]]
                dropped += max(len(family_lines) - budget, 0)
                family_lines = family_lines[:budget]
                budget -= len(family_lines)
                family_text += family_lines
            else:
                family_text += [entry[k] for entry in entries]
            out.append("".join(family_text))
            await asyncio.sleep(0)
        out.append(self._dropped_header)
        self._write_dropped(dropped, (), [out.append])
        out.append(self._catalog_text)
        return "".join(out)
