"""The fleet's metric families, each declared once: name, type, help, labels and where the values
come from.

Modelled on kube-state-metrics: a table of family generators per resource (station, connector,
active error, catalog entry). The identity labels of each resource are named once (`STATION`,
`CONNECTOR`, `ERROR`) and filled in by whoever walks the fleet; a family only names its own
labels and reads them, with the series value, from its resource. `exposition.FleetExposition`
writes /metrics from this table; the docs and the tests read it too. Adding a family or a label
is one edit here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

from exporter.knowledge.catalog import Catalog, Entry
from exporter.knowledge.ocpp_enums import FIRMWARE_UPDATE_STATES
from exporter.knowledge.vendor_codes import VendorCode
from exporter.state.fleet import ActiveError, Connector, Station

R = TypeVar("R")

#: The label values (in `Family.labels` order) and the value of one series.
Sample = tuple[tuple[str, ...], float]

# Identity labels of each resource, in one place.
STATION = ("station", "site")
CONNECTOR = (*STATION, "connector")
ERROR = (*CONNECTOR, "error_code")


@dataclass(frozen=True)
class Family(Generic[R]):
    name: str
    type: Literal["gauge", "counter"]
    help: str
    #: Identity labels of the resource (filled in by the walker, not by `sample`).
    identity: tuple[str, ...]
    #: The family's own labels, in the order `sample` returns their values.
    labels: tuple[str, ...]
    #: The resource's series, or None when the resource has none in this family.
    sample: Callable[[R], Sample | None]
    #: Series beyond limits.max_error_info_series are left out (and counted in `DROPPED`).
    capped: bool = False
    #: The value moves without the fleet's change hook hearing of it as a change worth a new
    #: rendering (`last_seen` moves with every frame): written afresh on every scrape instead of
    #: being cached with the station's other lines.
    volatile: bool = False

    @property
    def label_names(self) -> tuple[str, ...]:
        return (*self.identity, *self.labels)


def _station_info(s: Station) -> Sample:
    i = s.info
    return (i.vendor, i.model, i.firmware_version, i.serial_number, i.ocpp_version), 1


def _firmware_updating(s: Station) -> Sample | None:
    if not s.firmware_status:
        return None
    return (), s.firmware_status in FIRMWARE_UPDATE_STATES


STATION_FAMILIES: tuple[Family[Station], ...] = (
    Family(
        "ocpp_station_connected",
        "gauge",
        "1 while the station's OCPP session is open and alive, else 0.",
        STATION,
        ("controller",),
        lambda s: ((s.controller,), s.connected),
    ),
    Family(
        "ocpp_station_info",
        "gauge",
        "Station identity as reported in its last BootNotification; always 1.",
        STATION,
        ("vendor", "model", "firmware_version", "serial_number", "ocpp_version"),
        _station_info,
    ),
    Family(
        "ocpp_station_last_seen_timestamp_seconds",
        "gauge",
        "Unix time of the last frame or pong received from the station.",
        STATION,
        (),
        lambda s: ((), s.last_seen) if s.last_seen else None,
        volatile=True,
    ),
    Family(
        "ocpp_station_connects",
        "counter",
        "OCPP sessions the station opened since the exporter started.",
        STATION,
        (),
        lambda s: ((), s.connects),
    ),
    Family(
        "ocpp_station_boots",
        "counter",
        "BootNotifications the station sent since the exporter started.",
        STATION,
        (),
        lambda s: ((), s.boots),
    ),
    Family(
        "ocpp_station_firmware_update_in_progress",
        "gauge",
        "1 while the station's last FirmwareStatusNotification says an update is under way.",
        STATION,
        (),
        _firmware_updating,
    ),
    Family(
        "ocpp_station_firmware_status_timestamp_seconds",
        "gauge",
        "Unix time of the station's last FirmwareStatusNotification.",
        STATION,
        (),
        lambda s: ((), s.firmware_status_at) if s.firmware_status else None,
    ),
    Family(
        "ocpp_station_synced_timestamp_seconds",
        "gauge",
        "Unix time this exporter last took the station's whole state afresh (its BootNotification, "
        "or the end of the re-sync after a connect).",
        STATION,
        (),
        lambda s: ((), s.synced_at) if s.synced_at else None,
    ),
)

CONNECTOR_FAMILIES: tuple[Family[Connector], ...] = (
    Family(
        "ocpp_connector_report_timestamp_seconds",
        "gauge",
        "Unix time from which this exporter's view of the connector is current: the station's last "
        "report about it, or the station's last sync if later. Across replicas the newest view of "
        "a connector is the one that counts.",
        CONNECTOR,
        (),
        lambda c: ((), c.updated_at),
    ),
    Family(
        "ocpp_connector_status",
        "gauge",
        "1 for the connector's current status; connector 0 is the station itself.",
        CONNECTOR,
        ("status",),
        lambda c: ((c.status,), 1) if c.status else None,
    ),
    Family(
        "ocpp_connector_status_since_timestamp_seconds",
        "gauge",
        "Unix time the connector entered its current status.",
        CONNECTOR,
        (),
        lambda c: ((), c.status_since) if c.status else None,
    ),
)

ERROR_FAMILIES: tuple[Family[ActiveError], ...] = (
    Family(
        "ocpp_connector_error",
        "gauge",
        "1 while the error code is active on the connector, whatever its status.",
        ERROR,
        (),
        lambda e: ((), 1),
    ),
    Family(
        "ocpp_connector_error_since_timestamp_seconds",
        "gauge",
        "Unix time the active error was first reported.",
        ERROR,
        (),
        lambda e: ((), e.since),
    ),
    Family(
        "ocpp_connector_error_info",
        "gauge",
        "Details of the active error as the station sent them (bounded length); always 1.",
        ERROR,
        ("status", "vendor_id", "vendor_error_code", "info", "scheme"),
        lambda e: ((e.status, e.vendor_id, e.vendor_error_code, e.info, e.scheme), 1),
        capped=True,
    ),
)

#: Per recognised code of an active error (one per code of a compound), the knowledge base's or
#: operator catalog's entry is the resource: its (scheme, code) is the join key onto
#: ocpp_vendor_code_info. Not capped: the alerts for recognised codes are built on it, and it is
#: bounded by the catalogued codes and MAX_COMPOUND_CODES per error.
CODE_FAMILIES: tuple[Family[VendorCode], ...] = (
    Family(
        "ocpp_connector_vendor_code",
        "gauge",
        "1 per recognised standard or operator-catalog code the active error carries; "
        "join on (scheme, code) with ocpp_vendor_code_info for its text.",
        ERROR,
        ("scheme", "code"),
        lambda v: ((v.scheme, v.code), 1),
    ),
)

#: The fleet families in the order /metrics writes them.
FLEET_FAMILIES: tuple[Family[Any], ...] = (
    *STATION_FAMILIES,
    *CONNECTOR_FAMILIES,
    *ERROR_FAMILIES,
    *CODE_FAMILIES,
)

DROPPED: Family[int] = Family(
    "ocpp_exporter_error_info_series_dropped",
    "gauge",
    "ocpp_connector_error_info series left out of this scrape by limits.max_error_info_series.",
    (),
    (),
    lambda dropped: ((), dropped),
)


def _error_code_info(e: Entry) -> Sample:
    labels = (e.key, e.severity, e.title, e.description, e.resolution_text(), e.runbook_url)
    return labels, 1


def _notification_info(e: Entry) -> Sample:
    labels = (e.key, e.alert, e.severity, e.title, e.description, e.resolution_text())
    return labels, 1


def _vendor_code_info(v: VendorCode) -> Sample:
    labels = (
        v.scheme,
        v.code,
        v.title,
        v.severity,
        v.responsible_text(),
        v.description,
        v.resolution_text(),
        v.runbook_url,
    )
    return labels, 1


@dataclass(frozen=True)
class CatalogFamily(Generic[R]):
    family: Family[R]
    #: The catalog's rows this family has one series for.
    rows: Callable[[Catalog], Iterable[R]]


#: Families read from the catalog: fixed for the process's life.
CATALOG_FAMILIES: tuple[CatalogFamily[Any], ...] = (
    CatalogFamily(
        Family(
            "ocpp_error_code_info",
            "gauge",
            "The catalog's text for each error code: what it means and what to do; always 1.",
            (),
            ("error_code", "severity", "title", "description", "resolution", "runbook_url"),
            _error_code_info,
        ),
        lambda catalog: catalog.errors.values(),
    ),
    CatalogFamily(
        Family(
            "ocpp_notification_info",
            "gauge",
            "The catalog's text for each connectivity notification; always 1.",
            (),
            ("kind", "alertname", "severity", "title", "description", "resolution"),
            _notification_info,
        ),
        lambda catalog: catalog.notifications.values(),
    ),
    CatalogFamily(
        Family(
            "ocpp_vendor_code_info",
            "gauge",
            "Text of each recognised standard or operator-catalog code: what it means, what to "
            "do, who must act (comma-separated, first acts first); always 1.",
            (),
            (
                "scheme",
                "code",
                "title",
                "severity",
                "responsible",
                "description",
                "resolution",
                "runbook_url",
            ),
            _vendor_code_info,
        ),
        lambda catalog: catalog.codes.entries(),
    ),
)

#: Every family the fleet exposition writes, in order.
ALL_FAMILIES: tuple[Family[Any], ...] = (
    *FLEET_FAMILIES,
    DROPPED,
    *(c.family for c in CATALOG_FAMILIES),
)
#: The same, by name: for the generators' PromQL, which names labels in `by (...)` clauses.
FAMILY: dict[str, Family[Any]] = {f.name: f for f in ALL_FAMILIES}


def label_list(name: str) -> str:
    """The family's label names as a PromQL `by (...)` list: "station, site, ..."."""
    return ", ".join(FAMILY[name].label_names)
