"""PromQL the fleet, location and station dashboards share. Every state series is read from the
station's owner replica (generate/promql.py), so several replicas show as one."""

from __future__ import annotations

from exporter.generate import promql
from exporter.generate.promql import from_connector_owner
from exporter.render.families import label_list


def owner_errors(sel: str) -> str:
    """Active errors, each once, as the connector's owner replica sees them (promql.py): a
    replica's last-known errors for a station that moved away are neither shown nor counted."""
    return from_connector_owner(f"ocpp_connector_error{sel}", promql.ERROR_LABELS, sel)


def owner_status(sel: str) -> str:
    """Each connector's current status from the station's owner replica, one per connector as the
    "one" side of a join needs: for the few seconds a station's session is open on two replicas
    (the old one has not seen the close yet, or their scrapes straddle the move) both own it,
    and `topk` picks one status rather than failing the query."""
    labels = label_list("ocpp_connector_status")
    owned = from_connector_owner(f"ocpp_connector_status{sel}", labels, sel)
    return f"topk by (station, site, connector) (1,\n{owned}\n)"


#: What a recognised code adds to its row (ocpp_vendor_code_info), in place of the OCPP code's.
VENDOR_TEXT = "severity, title, description, resolution, runbook_url, responsible"


def owner_vendor_codes(sel: str) -> str:
    """Recognised codes of the active errors (one per code of a compound), from the owner."""
    return from_connector_owner(
        f"ocpp_connector_vendor_code{sel}", f"{promql.ERROR_LABELS}, scheme, code", sel
    )


def vendor_codes_with_text(sel: str) -> str:
    """Each recognised code with its own title, steps, severity and who must act."""
    return (
        f"{owner_vendor_codes(sel)}\n"
        f"* on(scheme, code) group_left({VENDOR_TEXT})\n"
        f"{promql.vendor_code_info()}"
    )


def _unrecognised(expr: str, sel: str) -> str:
    """`expr` (per active error) without the errors that carry a recognised code."""
    return f"(\n{expr}\n) unless on({promql.ERROR_LABELS})\n{owner_vendor_codes(sel)}"


def errors_with_text(sel: str) -> str:
    """Active errors with their text as labels: a recognised code's own (one series per
    code), else the catalog's for the OCPP error code."""
    general = (
        f"{owner_errors(sel)}\n"
        "* on(error_code) group_left(severity, title, description, resolution)\n"
        f"{promql.error_code_info()}"
    )
    return f"(\n{vendor_codes_with_text(sel)}\n)\nor\n{_unrecognised(general, sel)}"


def notification_table_expr(sel: str) -> str:
    """One row per active error: value = since (ms), labels = current connector status and the
    catalog text. Joined in PromQL so a missing catalog entry cannot silently drop the text."""
    since = from_connector_owner(
        f"ocpp_connector_error_since_timestamp_seconds{sel}", promql.ERROR_LABELS, sel, "min"
    )
    general = (
        f"1000 * {since}\n"
        f"* on(station, site, connector) group_left(status) {owner_status(sel)}\n"
        "* on(error_code) group_left(severity, title, description, resolution, runbook_url)\n"
        f"{promql.error_code_info()}"
    )
    # A recognised code gets its own row (one per code of a compound) with its own text.
    recognised = (
        f"(\n{vendor_codes_with_text(sel)}\n)\n"
        f"* on({promql.ERROR_LABELS}) group_left() (1000 * {since})\n"
        f"* on(station, site, connector) group_left(status) {owner_status(sel)}"
    )
    return f"(\n{recognised}\n)\nor\n{_unrecognised(general, sel)}"
