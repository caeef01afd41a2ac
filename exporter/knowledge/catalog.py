"""The catalog: every OCPP error code and notification, with its meaning and what to do.

It is the one place where text lives. The exporter exposes it (`ocpp_error_code_info`, the JSON
API) and the generators turn it into alert rules, dashboards and docs, so the words an SRE reads
on the pager and on screen are the same.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from importlib import resources
from typing import Annotated, Any, Protocol

from pydantic import Field

from exporter import yaml_reader
from exporter.knowledge import vendor_codes
from exporter.knowledge.ocpp_enums import ERROR_CODES, UNKNOWN
from exporter.knowledge.severity import Severity
from exporter.knowledge.vendor_codes import CodeBook, Responsible
from exporter.yaml_reader import DocumentError, DurationText, Section, Steps, Text

NOTIFICATION_KINDS = ("station_offline", "controller_offline", "ems_offline")
#: Alerts about the monitoring itself: they have no notification in the JSON API (the exporter
#: cannot report that it is down), only alert rules and docs.
EXPORTER_ALERT_KINDS = (
    "station_flapping",
    "exporter_down",
    "exporter_rejecting_frames",
    "upstream_down",
)
#: Every key of the catalog: what `catalog.overrides` in the configuration may name.
ENTRY_KEYS = (*ERROR_CODES, *NOTIFICATION_KINDS, *EXPORTER_ALERT_KINDS)


class CatalogError(Exception):
    """The packaged catalog file is broken (a bug in the release, not in user input), or an
    override names something the catalog does not have."""


class CatalogFileError(DocumentError, CatalogError):
    """catalog.yaml is broken: located by line and key path like any YAML document's error."""


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


@dataclass(frozen=True)
class _EntrySection(Section):
    """One entry of catalog.yaml as written."""

    title: Text
    severity: Severity
    alert_for: Annotated[DurationText, Field(alias="for")]
    description: Text
    station_behaviour: Text
    resolution: Steps
    responsible: tuple[Responsible, ...] = ()
    alert: Text = ""


@dataclass(frozen=True)
class _CatalogFile(Section):
    errors: dict[str, _EntrySection]
    notifications: dict[str, _EntrySection]
    # Optional so that hand-made catalogs from before these alerts still load.
    exporter_alerts: dict[str, _EntrySection] = field(default_factory=dict)


def _entry(key: str, data: _EntrySection, alert: str, base: str) -> Entry:
    return Entry(
        key=key,
        title=data.title,
        severity=data.severity,
        alert_for=data.alert_for,
        description=" ".join(data.description.split()),
        station_behaviour=" ".join(data.station_behaviour.split()),
        resolution=tuple(" ".join(step.split()) for step in data.resolution),
        alert=alert,
        runbook_url=runbook_url(base, alert),
        responsible=data.responsible,
    )


def parse(data: Any, runbook_base: str = DEFAULT_RUNBOOK_BASE) -> Catalog:
    """A catalog document already loaded (tests build broken ones from the packaged file)."""
    doc = yaml_reader.Document("catalog.yaml", data, error_type=CatalogFileError)
    return _parse(doc, runbook_base)


def _parse(doc: yaml_reader.Document, runbook_base: str) -> Catalog:
    # Which entries there are comes first: an entry that should not exist is named as such,
    # not for the keys it lacks.
    raw = doc.data if isinstance(doc.data, dict) else {}
    for table, expected in (
        ("errors", ERROR_CODES),
        ("notifications", NOTIFICATION_KINDS),
        ("exporter_alerts", EXPORTER_ALERT_KINDS),
    ):
        present = raw.get(table) or {}
        if not isinstance(present, dict) or (table == "exporter_alerts" and not present):
            continue
        missing = [key for key in expected if key not in present]
        extra = [key for key in present if key not in expected]
        if missing or extra:
            raise doc.error((table,), f"missing {missing}, unexpected {extra}")
    data = doc.read(_CatalogFile)
    unassigned = [code for code, entry in data.errors.items() if not entry.responsible]
    if unassigned:
        raise doc.error(("errors", unassigned[0], "responsible"), "every error code needs one")
    errors = {
        code: _entry(code, data.errors[code], alert_name_for_error(code), runbook_base)
        for code in ERROR_CODES
    }
    notifications = {
        kind: _entry(kind, data.notifications[kind], data.notifications[kind].alert, runbook_base)
        for kind in NOTIFICATION_KINDS
    }
    exporter_alerts = {
        kind: _entry(
            kind, data.exporter_alerts[kind], data.exporter_alerts[kind].alert, runbook_base
        )
        for kind in EXPORTER_ALERT_KINDS
        if kind in data.exporter_alerts
    }
    return Catalog(errors=errors, notifications=notifications, exporter_alerts=exporter_alerts)


def load(runbook_base: str = "") -> Catalog:
    """The packaged catalog.yaml, with the standard code schemes of vendor_codes.yaml."""
    base = runbook_base or DEFAULT_RUNBOOK_BASE
    text = resources.files(__package__).joinpath("catalog.yaml").read_text(encoding="utf-8")
    doc = yaml_reader.loads(text, "catalog.yaml", CatalogFileError)
    return replace(_parse(doc, base), codes=vendor_codes.load(base))
