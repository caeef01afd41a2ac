"""The alert for recognised codes (`OcppConnectorVendorCode`); its promtool tests are in
vendor_rule_tests.py.

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

from exporter.generate import promql
from exporter.generate.alert_templates import connector_where, error_details, query
from exporter.knowledge.severity import RECEIVER, SEVERITIES
from exporter.knowledge.vendor_codes import CodeBook, anchor

ALERT = "OcppConnectorVendorCode"
LABELS = f"{promql.ERROR_LABELS}, scheme, code"
#: How long a recognised code must stay active before it fires, by the code's severity: a safety
#: fault pages at once; driver-side and informational codes often clear on a re-plug.
ALERT_FOR = {"critical": "0m", "warning": "2m", "info": "10m"}
#: Summary line of the alert's runbook section (docs/alerts.md).
TITLE = "Recognised error code (ChargeX, EVgo, CharIN UEC or an operator catalog)"


def expr(severity: str) -> str:
    # `topk by (scheme, code)`: every replica exports the info series; one of them is enough.
    return (
        promql.from_connector_owner("ocpp_connector_vendor_code", LABELS)
        + "\n* on (scheme, code) group_left (responsible)\n"
        + promql.vendor_code_info(f'{{severity="{severity}"}}')
    )


def _text(label: str) -> str:
    info = query("topk(1, ocpp_vendor_code_info{scheme=%q,code=%q})", "scheme", "code")
    return f'{{{{ with {info} }}}}{{{{ . | first | label "{label}" }}}}{{{{ end }}}}'


def rule(severity: str) -> dict[str, Any]:
    details = error_details()
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
            f"station {{{{ $labels.station }}}} {connector_where()} "
            "(site {{ $labels.site }})",
            "description": description,
            "resolution": _text("resolution"),
            "runbook_url": _text("runbook_url"),
        },
    }


def alert_rules() -> list[dict[str, Any]]:
    return [rule(severity) for severity in SEVERITIES]


def _code_list(codes: CodeBook) -> list[str]:
    """Every standard code with where its alert goes, linked to its section of error-codes.md."""
    out = [
        "| Scheme | Code | Title | Severity | Responsible | Receiver |",
        "|---|---|---|---|---|---|",
    ]
    for entry in codes.entries():
        if entry.scheme not in codes.schemes:
            continue  # operator catalogs are configuration, not part of the shipped runbook
        receiver = RECEIVER[entry.severity]
        if not entry.pages() and receiver == RECEIVER["critical"]:
            receiver = RECEIVER["warning"]
        link = f"[{entry.code}](error-codes.md#{anchor(entry.scheme, entry.code)})"
        out.append(
            f"| {entry.scheme} | {link} | {entry.title} | {entry.severity} | "
            f"{entry.responsible_text()} | `{receiver}` |"
        )
    return [*out, ""]


def runbook_section(codes: CodeBook) -> list[str]:
    """The section of docs/alerts.md the alert's label-independent parts are described in, with
    the standard codes it covers."""
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
        "**The standard codes** (operator catalogs add their own):",
        "",
        *_code_list(codes),
        "<details><summary>Expression (critical)</summary>",
        "",
        "```promql",
        expr("critical"),
        "```",
        "",
        "</details>",
        "",
    ]
