"""The alert for recognised codes (`OcppConnectorVendorCode`) and its promtool tests.

One alert per recognised code on a connector (an EVgo compound gives one per code), labelled with
the code's `scheme`, `code`, `severity` and `responsible` by a join on `ocpp_vendor_code_info`,
so operator catalogs configured on the exporter need no regenerated rules. Its annotations are
looked up from the same info series at each evaluation: the code's own title, description,
steps and runbook link.

The rules live in the connector-error group, so Prometheus sends an OcppConnectorVendorCode alert
and the general alert of its OCPP code in the same batch, and alerting/alertmanager.yml can
inhibit the general one (same station, site, connector and error_code).
"""

from __future__ import annotations

from typing import Any

from exporter.generate import promql, rules
from exporter.generate.rule_tests import SITE, Case, minutes, series, station_online
from exporter.knowledge.catalog import Catalog
from exporter.knowledge.vendor_codes import VendorCode

ALERT = "OcppConnectorVendorCode"
LABELS = f"{promql.ERROR_LABELS}, scheme, code"
#: How long a recognised code must stay active before it fires, by the code's severity: a safety
#: fault pages at once; driver-side and informational codes often clear on a re-plug.
ALERT_FOR = {"critical": "0m", "warning": "2m", "info": "10m"}
SEVERITIES = tuple(ALERT_FOR)
#: Summary line of the alert's runbook section (docs/alerts.md).
TITLE = "Recognised error code (ChargeX, EVgo, CharIN UEC or an operator catalog)"


def expr(severity: str) -> str:
    # `topk by (scheme, code)`: every replica exports the info series; one of them is enough.
    return (
        promql.from_owner("ocpp_connector_vendor_code == 1", LABELS)
        + "\n* on (scheme, code) group_left (responsible)\n"
        + f'topk by (scheme, code) (1, ocpp_vendor_code_info{{severity="{severity}"}})'
    )


def _text(label: str) -> str:
    info = rules._query("topk(1, ocpp_vendor_code_info{scheme=%q,code=%q})", "scheme", "code")
    return f'{{{{ with {info} }}}}{{{{ . | first | label "{label}" }}}}{{{{ end }}}}'


def rule(severity: str) -> dict[str, Any]:
    details = rules._query(
        "ocpp_connector_error_info{station=%q,site=%q,connector=%q,error_code=%q}"
        f" and on (instance) ({rules._OWNER_OF})",
        "station",
        "site",
        "connector",
        "error_code",
        "station",
        "station",
        "station",
    )
    description = (
        f"{_text('description')}\n"
        "Who must act: {{ $labels.responsible }}. OCPP error code: {{ $labels.error_code }}. "
        f"Reported details: {{{{ with {details} }}}}"
        '{{ with . | first }}vendorId="{{ label "vendor_id" . }}" '
        'vendorErrorCode="{{ label "vendor_error_code" . }}" info="{{ label "info" . }}"{{ end }}'
        "{{ else }}none{{ end }}."
    )
    return {
        "alert": ALERT,
        "expr": expr(severity),
        "for": ALERT_FOR[severity],
        "labels": {"severity": severity},
        "annotations": {
            "summary": f"{_text('title')} ({{{{ $labels.scheme }}}} {{{{ $labels.code }}}}) on "
            f"station {{{{ $labels.station }}}} {rules.connector_where()} "
            "(site {{ $labels.site }})",
            "description": description,
            "resolution": _text("resolution"),
            "runbook_url": _text("runbook_url"),
        },
    }


def alert_rules() -> list[dict[str, Any]]:
    return [rule(severity) for severity in SEVERITIES]


# -- promtool tests ------------------------------------------------------------------------------


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


def runbook_section() -> list[str]:
    """The section of docs/alerts.md the alert's label-independent parts are described in."""
    fors = ", ".join(f"`{s}` after `{ALERT_FOR[s]}`" for s in SEVERITIES)
    return [
        f"### {ALERT}",
        "",
        f"**{TITLE}**: one alert per recognised code on a connector (one per code of an EVgo "
        f"compound). Severity from the code: {fors}. Labels: `station`, `site`, `connector`, "
        "`error_code`, `scheme`, `code`, `responsible`, `severity`.",
        "",
        "**What it means.** The station sent a code that the exporter's knowledge base "
        "([error-codes.md](error-codes.md)) or an operator vendor catalog knows. The alert's "
        "summary, description, resolution and runbook_url are that code's own, looked up "
        "from `ocpp_vendor_code_info` when the alert is evaluated; the general alert of the "
        "OCPP error code it came with is inhibited while it fires.",
        "",
        "**Routing.** `responsible` lists who must act, first one first. Only a code whose "
        "first party is `operator` or `maintenance` can reach `pager`; a driver- or "
        "vehicle-side code goes to `ticket` (`chat` for `info`) whatever its severity.",
        "",
        "**What to do.** Follow the steps in the alert's `resolution` annotation, the same as "
        "the code's section in [error-codes.md](error-codes.md).",
        "",
        "<details><summary>Expression (critical)</summary>",
        "",
        "```promql",
        expr("critical"),
        "```",
        "",
        "</details>",
        "",
    ]
