"""The catalog: every OCPP error code and notification, with its meaning and what to do.

It is the one place where text lives. The exporter exposes it (`ocpp_error_code_info`, the JSON
API) and the generators turn it into alert rules, dashboards and docs, so the words an SRE reads
on the pager and on screen are the same.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from importlib import resources
from typing import Any, Protocol

import yaml

from exporter.durations import parse_duration
from exporter.knowledge import vendor_codes
from exporter.knowledge.ocpp_enums import ERROR_CODES, UNKNOWN
from exporter.knowledge.severity import SEVERITIES
from exporter.knowledge.vendor_codes import CodeBook

NOTIFICATION_KINDS = ("station_offline", "controller_offline", "ems_offline")
#: Alerts about the monitoring itself: they have no notification in the JSON API (the exporter
#: cannot report that it is down), only alert rules and docs.
EXPORTER_ALERT_KINDS = (
    "station_flapping",
    "exporter_down",
    "exporter_rejecting_frames",
    "upstream_down",
)


class CatalogError(Exception):
    """The packaged catalog file is broken (a bug in the release, not in user input), or an
    override names something the catalog does not have."""


class UnknownEntry(CatalogError):
    """An override for a key that is not in the catalog; the configuration reader says where."""

    def __init__(self, key: str, known: list[str]) -> None:
        super().__init__(f"not in the catalog ({', '.join(known)})")
        self.key = key


class Override(Protocol):
    """The fields an operator may change on an entry (None: keep the catalog's)."""

    @property
    def severity(self) -> str | None: ...
    @property
    def title(self) -> str | None: ...
    @property
    def description(self) -> str | None: ...
    @property
    def resolution(self) -> tuple[str, ...] | None: ...
    @property
    def runbook_url(self) -> str | None: ...
    @property
    def alert_for(self) -> str | None: ...


@dataclass(frozen=True)
class Entry:
    key: str
    title: str
    severity: str
    alert_for: str
    description: str
    station_behaviour: str
    resolution: tuple[str, ...]
    alert: str
    runbook_url: str
    #: Error codes: who must act, first one first (vendor_codes.RESPONSIBLE).
    responsible: tuple[str, ...] = ()

    def resolution_text(self) -> str:
        """Numbered steps on one string, as labels and annotations carry them."""
        return "\n".join(f"{n}. {step}" for n, step in enumerate(self.resolution, 1))

    def responsible_text(self) -> str:
        """The `responsible` label value: parties in order, comma-separated."""
        return ",".join(self.responsible)


@dataclass(frozen=True)
class Catalog:
    errors: Mapping[str, Entry]
    notifications: Mapping[str, Entry]
    exporter_alerts: Mapping[str, Entry] = field(default_factory=dict)
    #: Standard schemes' and operator catalogs' codes (vendor_codes.py).
    codes: CodeBook = field(default_factory=CodeBook)

    def error(self, code: str) -> Entry:
        return self.errors.get(code) or self.errors[UNKNOWN]

    def entries(self) -> list[Entry]:
        return [
            *self.errors.values(),
            *self.notifications.values(),
            *self.exporter_alerts.values(),
        ]

    def with_overrides(self, overrides: Mapping[str, Override]) -> Catalog:
        errors = dict(self.errors)
        notifications = dict(self.notifications)
        exporter_alerts = dict(self.exporter_alerts)
        for key, override in overrides.items():
            table = next((t for t in (errors, notifications, exporter_alerts) if key in t), None)
            if table is None:
                raise UnknownEntry(key, [*errors, *notifications, *exporter_alerts])
            table[key] = _apply(table[key], override)
        return Catalog(
            errors=errors,
            notifications=notifications,
            exporter_alerts=exporter_alerts,
            codes=self.codes,
        )


def _apply(entry: Entry, override: Override) -> Entry:
    changes: dict[str, Any] = {
        "severity": override.severity,
        "title": override.title,
        "description": override.description,
        "resolution": override.resolution,
        "runbook_url": override.runbook_url,
        "alert_for": override.alert_for,
    }
    return replace(entry, **{k: v for k, v in changes.items() if v is not None})


def alert_name_for_error(code: str) -> str:
    return f"OcppConnector{code}"


def runbook_url(base: str, alert: str) -> str:
    """Anchor of the alert in docs/alerts.md (GitHub-style lowercase anchors)."""
    return f"{base.rstrip('/')}#{alert.lower()}" if base else f"docs/alerts.md#{alert.lower()}"


DEFAULT_RUNBOOK_BASE = "https://github.com/ocpp-exporter/ocpp-exporter/blob/main/docs/alerts.md"


def _entry(key: str, data: Any, alert: str, base: str) -> Entry:
    if not isinstance(data, dict):
        raise CatalogError(f"catalog entry {key!r} is not a mapping")
    try:
        severity = data["severity"]
        if severity not in SEVERITIES:
            raise CatalogError(f"catalog entry {key!r}: unknown severity {severity!r}")
        alert_for = str(data["for"])
        parse_duration(alert_for)
        steps = tuple(data["resolution"])
        if not steps:
            raise CatalogError(f"catalog entry {key!r}: no resolution steps")
        responsible = tuple(data.get("responsible", ()))
        if any(r not in vendor_codes.RESPONSIBLE for r in responsible):
            raise CatalogError(
                f"catalog entry {key!r}: responsible must be a list of {vendor_codes.RESPONSIBLE}"
            )
        return Entry(
            key=key,
            title=str(data["title"]),
            severity=severity,
            alert_for=alert_for,
            description=" ".join(str(data["description"]).split()),
            station_behaviour=" ".join(str(data["station_behaviour"]).split()),
            resolution=tuple(" ".join(str(s).split()) for s in steps),
            alert=alert,
            runbook_url=runbook_url(base, alert),
            responsible=responsible,
        )
    except KeyError as exc:
        raise CatalogError(f"catalog entry {key!r} lacks {exc.args[0]!r}") from None
    except ValueError as exc:
        raise CatalogError(f"catalog entry {key!r}: {exc}") from None


def parse(data: Any, runbook_base: str = DEFAULT_RUNBOOK_BASE) -> Catalog:
    errors_data = data.get("errors", {})
    missing = [code for code in ERROR_CODES if code not in errors_data]
    extra = [code for code in errors_data if code not in ERROR_CODES]
    if missing or extra:
        raise CatalogError(f"catalog error codes: missing {missing}, unexpected {extra}")
    errors = {
        code: _entry(code, errors_data[code], alert_name_for_error(code), runbook_base)
        for code in ERROR_CODES
    }
    unassigned = [code for code, entry in errors.items() if not entry.responsible]
    if unassigned:
        raise CatalogError(f"catalog error codes without responsible: {unassigned}")
    notes_data = data.get("notifications", {})
    if sorted(notes_data) != sorted(NOTIFICATION_KINDS):
        raise CatalogError(f"catalog notifications must be exactly {NOTIFICATION_KINDS}")
    notifications = {
        kind: _entry(kind, notes_data[kind], str(notes_data[kind].get("alert", "")), runbook_base)
        for kind in NOTIFICATION_KINDS
    }
    exporter_data = data.get("exporter_alerts", {})
    # Optional so that hand-made catalogs from before these alerts still load.
    if exporter_data and sorted(exporter_data) != sorted(EXPORTER_ALERT_KINDS):
        raise CatalogError(f"catalog exporter_alerts must be exactly {EXPORTER_ALERT_KINDS}")
    exporter_alerts = {
        kind: _entry(
            kind, exporter_data[kind], str(exporter_data[kind].get("alert", "")), runbook_base
        )
        for kind in EXPORTER_ALERT_KINDS
        if kind in exporter_data
    }
    return Catalog(errors=errors, notifications=notifications, exporter_alerts=exporter_alerts)


def load(runbook_base: str = "") -> Catalog:
    """The packaged catalog.yaml, with the standard code schemes of vendor_codes.yaml."""
    base = runbook_base or DEFAULT_RUNBOOK_BASE
    text = resources.files(__package__).joinpath("catalog.yaml").read_text(encoding="utf-8")
    return replace(parse(yaml.safe_load(text), base), codes=vendor_codes.load(base))
