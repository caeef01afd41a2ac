"""Go-template pieces of alert annotations, shared by the catalog's alert rules (rules.py) and
the recognised-code alert (vendor_rules.py): queries Prometheus runs when it evaluates the
annotation, and the connector phrase."""

from __future__ import annotations


def query(selector: str, *labels: str) -> str:
    """A template pipeline running `selector` (a printf format) over alert labels."""
    args = " ".join(f"$labels.{name}" for name in labels)
    return f"printf `{selector}` {args} | query"


def connector_where() -> str:
    return (
        '{{ if eq $labels.connector "0" }}station-wide'
        "{{ else }}connector {{ $labels.connector }}{{ end }}"
    )


#: The owner filter (promql.owner) for one station inside an annotation template (its id is the
#: printf argument). Inlined rather than read from `ocpp:station_owner` so the alerts hold without
#: deploy/replica-rules.yml.
OWNER_OF = (
    "ocpp_station_connected{station=%q} == 1 or on (station) ("
    "ocpp_station_last_seen_timestamp_seconds{station=%q} == scalar("
    "max(ocpp_station_last_seen_timestamp_seconds{station=%q})))"
)
