"""The active notifications: what the vendor dashboard's error notification area shows, derived
from fleet state and the catalog at request time (so it can never disagree with /metrics)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from exporter.knowledge.catalog import Catalog, Entry
from exporter.knowledge.severity import SEVERITY_ORDER
from exporter.knowledge.vendor_codes import CodeBook, VendorCode
from exporter.state.fleet import ActiveError, Fleet


def rfc3339(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Notification:
    kind: str
    entry: Entry
    since: float
    station: str = ""
    site: str = ""
    controller: str = ""
    ems: str = ""
    connector: str = ""
    error_code: str = ""
    status: str = ""
    current_status: str = ""
    details: tuple[tuple[str, Any], ...] = ()

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "kind": self.kind,
            "station": self.station,
            "site": self.site,
            "since": rfc3339(self.since),
            "severity": self.entry.severity,
            "title": self.entry.title,
            "description": self.entry.description,
            "station_behaviour": self.entry.station_behaviour,
            "resolution": list(self.entry.resolution),
            "runbook_url": self.entry.runbook_url,
        }
        optional = {
            "controller": self.controller,
            "ems": self.ems,
            "connector": self.connector,
            "error_code": self.error_code,
            "status": self.status,
            "current_status": self.current_status,
        }
        body.update({k: v for k, v in optional.items() if v or k in ("connector", "status")})
        body.update(self.details)
        return body


def fleet_notifications(fleet: Fleet, catalog: Catalog) -> Iterable[Notification]:
    offline = catalog.notifications["station_offline"]
    for station in fleet:
        if not station.connected:
            yield Notification(
                "station_offline",
                offline,
                station.offline_since,
                station=station.id,
                site=station.site,
                controller=station.controller,
                details=(("last_seen", rfc3339(station.last_seen) if station.last_seen else None),),
            )
        for connector, error in station.active_errors():
            entry = catalog.error(error.code)
            if error.severity and error.severity != entry.severity:
                # The station said how bad a problem is that the code alone does not tell.
                entry = replace(entry, severity=error.severity)
            raw = (
                ("vendor_id", error.vendor_id),
                ("vendor_error_code", error.vendor_error_code),
                ("info", error.info),
            )
            for vendor, vendor_entry in vendor_objects(catalog.codes, error):
                yield Notification(
                    "ocpp_error",
                    # The recognised code knows better how urgent it is than the OCPP code.
                    replace(entry, severity=vendor_entry.severity) if vendor_entry else entry,
                    error.since,
                    station=station.id,
                    site=station.site,
                    controller=station.controller,
                    connector=connector.id,
                    error_code=error.code,
                    status=error.status,
                    current_status=connector.status,
                    details=(*raw, ("vendor", vendor)),
                )


def vendor_objects(
    codes: CodeBook, error: ActiveError
) -> Iterator[tuple[dict[str, Any] | None, VendorCode | None]]:
    """The `vendor` object of each recognised code (one per code of a compound), or one None
    when the error carries no code the knowledge base or an operator catalog knows."""
    found = False
    for code, reading in zip(error.codes, error.readings, strict=False):
        entry = codes.entry(error.scheme, code)
        if entry is None:
            continue
        found = True
        yield (
            {
                "scheme": error.scheme,
                "code": code,
                "name": entry.name,
                "title": entry.title,
                "severity": entry.severity,
                "description": entry.description,
                "station_behaviour": entry.station_behaviour,
                "resolution": list(entry.resolution),
                "responsible": list(entry.responsible),
                "reading": reading,
                "reading_of": entry.reading,
                "runbook_url": entry.runbook_url,
            },
            entry,
        )
    if not found:
        yield None, None


# An offline device explains (and hides) the errors behind it, so it is listed before them.
KIND_ORDER = {"controller_offline": 0, "ems_offline": 1, "station_offline": 2, "ocpp_error": 3}


def sort_key(n: Notification) -> tuple[int, int, float]:
    """Most severe first, offline devices before errors, then oldest first."""
    return (SEVERITY_ORDER[n.entry.severity], KIND_ORDER.get(n.kind, 9), n.since)


def ordered(notifications: Iterable[Notification]) -> list[Notification]:
    return sorted(notifications, key=sort_key)
