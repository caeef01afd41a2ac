"""promtool tests of the recognised-code alert (vendor_rules.py): a critical maintenance code, a
driver-side warning, an EVgo compound and an informational UEC code, each with the code's own
text, severity and responsible party. They run in the connector-error test file, next to the
catalog's alerts (generate/__init__.py joins them)."""

from __future__ import annotations

from typing import Any

from exporter.generate.rule_tests import SITE, Case, minutes, report, series, station_online
from exporter.generate.vendor_rules import ALERT, ALERT_FOR
from exporter.knowledge.catalog import Catalog
from exporter.knowledge.vendor_codes import VendorCode


def _value(text: str) -> str:
    """A label value inside a promtool input series (a PromQL string)."""
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def info_series(entry: VendorCode) -> str:
    labels = {
        "scheme": entry.scheme,
        "code": entry.code,
        "title": entry.title,
        "severity": entry.severity,
        "responsible": entry.responsible_text(),
        "description": entry.description,
        "resolution": entry.resolution_text(),
        "runbook_url": entry.runbook_url,
        "instance": "exporter-1:9430",
    }
    inner = ",".join(f'{k}="{_value(v)}"' for k, v in labels.items())
    return f"ocpp_vendor_code_info{{{inner}}}"


def expected(
    entry: VendorCode, station: str, connector: str, error_code: str, details: str
) -> dict[str, Any]:
    where = "station-wide" if connector == "0" else f"connector {connector}"
    return {
        "exp_labels": {
            "station": station,
            "site": SITE,
            "connector": connector,
            "error_code": error_code,
            "scheme": entry.scheme,
            "code": entry.code,
            "responsible": entry.responsible_text(),
            "severity": entry.severity,
        },
        "exp_annotations": {
            "summary": f"{entry.title} ({entry.scheme} {entry.code}) on station {station} "
            f"{where} (site {SITE})",
            "description": f"{entry.description}\nWho must act: {entry.responsible_text()}. "
            f"OCPP error code: {error_code}. Reported details: {details}.",
            "resolution": entry.resolution_text(),
            "runbook_url": entry.runbook_url,
        },
    }


def _case(catalog: Catalog, scheme: str, codes: tuple[str, ...], readings: str) -> Case:
    entries = [catalog.codes.entry(scheme, code) for code in codes]
    assert all(entries), (scheme, codes)
    first = entries[0]
    assert first is not None
    hold = max(minutes(ALERT_FOR[e.severity]) for e in entries if e is not None)
    active = hold + 4
    station, connector = f"CP-{scheme}-{'-'.join(codes)}", "1"
    ident = {"station": station, "site": SITE, "connector": connector}
    vendor_id = catalog.codes.schemes[scheme].vendor_ids[0]
    reported = {
        "vendor_id": vendor_id,
        "vendor_error_code": ",".join(codes),
        "info": readings,
        "scheme": scheme,
    }
    error_code = first.ocpp_error_code
    inputs = [
        (series("ocpp_connector_error", **ident, error_code=error_code), f"_ 1x{active - 1} stale"),
        (
            series(
                "ocpp_connector_error_info",
                **ident,
                error_code=error_code,
                status="Charging",
                **reported,
            ),
            f"_ 1x{active - 1} stale",
        ),
        *[
            (
                series(
                    "ocpp_connector_vendor_code",
                    **ident,
                    error_code=error_code,
                    scheme=scheme,
                    code=code,
                ),
                f"_ 1x{active - 1} stale",
            )
            for code in codes
        ],
        *[(info_series(e), f"1x{active + 4}") for e in entries if e is not None],
        # Reported at minute 1, cleared by the report at `active`.
        report(f"_ 60x{active - 1} {active * 60}x5", **ident),
        *station_online(station, active + 4),
    ]
    details = f'vendorId="{vendor_id}" vendorErrorCode="{",".join(codes)}" info="{readings}"'
    case = Case(
        f"{ALERT}: {scheme} {','.join(codes)} fires with the code's own text, severity and "
        "responsible, and resolves when cleared",
        inputs,
    )
    by_minute: dict[int, list[dict[str, Any]]] = {}
    for entry in entries:
        assert entry is not None
        fires_at = 1 + minutes(ALERT_FOR[entry.severity])
        for minute in range(fires_at, active + 1):
            by_minute.setdefault(minute, []).append(
                expected(entry, station, connector, error_code, details)
            )
    for minute in range(active + 2):
        case.expect(minute, ALERT, *by_minute.get(minute, []))
    return case


def test_cases(catalog: Catalog) -> list[dict[str, Any]]:
    """A critical maintenance code, a driver-side warning, an EVgo compound of a warning and a
    critical code, and an informational UEC code: each fires after its severity's `for:`."""
    cases = [
        _case(catalog, "chargex", ("CX014",), ""),
        _case(catalog, "chargex", ("CX010",), ""),
        _case(catalog, "evgo", ("F002", "F009"), "6.90,96"),
        _case(catalog, "charin-uec", ("EVShiftPosition",), ""),
    ]
    return [case.render() for case in cases]
