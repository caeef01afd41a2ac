"""Go-template pieces of alert annotations, shared by the catalog's alert rules (rules.py) and
the recognised-code alert (vendor_rules.py): queries Prometheus runs when it evaluates the
annotation, and the connector phrase."""

from __future__ import annotations

from exporter.generate import promql


def query(selector: str, *labels: str) -> str:
    """A template pipeline running `selector` (a printf format) over alert labels."""
    args = " ".join(f"$labels.{name}" for name in labels)
    return f"printf `{selector}` {args} | query"


def connector_where() -> str:
    return (
        '{{ if eq $labels.connector "0" }}station-wide'
        "{{ else }}connector {{ $labels.connector }}{{ end }}"
    )


def connector_query(template: str) -> str:
    """A template pipeline running `template` over one connector of the alert: `@station@`,
    `@site@`, `@connector@`, `@error_code@` stand for the alert's (quoted) labels, `@owner@` for
    the connector's owner replica as promql.connector_owner picks it, for this one connector.
    Inlined rather than read from `ocpp:connector_owner` so the alerts hold without
    deploy/replica-rules.yml."""
    report = (
        "last_over_time(ocpp_connector_report_timestamp_seconds"
        f"{{station=@station@,connector=@connector@}}[{promql.FAILOVER_HOLD}])"
    )
    synced = (
        "last_over_time(ocpp_station_synced_timestamp_seconds"
        f"{{station=@station@}}[{promql.FAILOVER_HOLD}])"
    )
    owner = f"{report} == scalar(max({report})) unless {report} < scalar(max({synced}))"
    text = template.replace("@owner@", owner)
    args: list[str] = []
    out: list[str] = []
    i = 0
    while i < len(text):
        if text[i] == "@":
            end = text.index("@", i + 1)
            args.append(f"$labels.{text[i + 1 : end]}")
            out.append("%q")
            i = end + 1
        else:
            out.append(text[i])
            i += 1
    return f"printf `{''.join(out)}` {' '.join(args)} | query"


def held_connector(selector: str) -> str:
    """`selector` (on one connector) from the connector's owner, a replica that went away
    standing in as promql.held has it: for `connector_query`."""
    return (
        f"({selector} or (last_over_time({selector}[{promql.FAILOVER_HOLD}]) unless on (instance) "
        "ocpp_connector_report_timestamp_seconds{station=@station@,connector=@connector@}))"
        " and on (instance) (@owner@)"
    )


def error_details() -> str:
    """The owner's details of the alert's error (vendorId, vendorErrorCode, info)."""
    return connector_query(
        held_connector(
            "ocpp_connector_error_info{station=@station@,site=@site@,connector=@connector@,"
            "error_code=@error_code@}"
        )
    )
