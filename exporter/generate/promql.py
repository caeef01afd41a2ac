"""PromQL shared by the rule and dashboard generators: reading several exporter replicas as one.

Every replica exports every inventory station and keeps the last-known state of stations that
moved to another replica (docs/scaling.md). Alerts and dashboards therefore take what a station
reported from its *owner* replica, and connectivity as `max by` over replicas. With a single
exporter the owner is that exporter and every expression here gives the raw series' answer.
"""

from __future__ import annotations

from exporter.render.families import label_list

#: Labels of one connector error, without `instance`.
ERROR_LABELS = label_list("ocpp_connector_error")


def _indent(text: str, prefix: str = "  ") -> str:
    return "\n".join(prefix + line for line in text.splitlines())


def owner(sel: str = "") -> str:
    """The replica whose view of a station is current: the one the station is connected to now,
    or, when it is connected nowhere, the one that received its last frame. `sel` narrows the
    series read (a `{...}` selector on station/site labels); it does not change the answer for
    the stations it keeps, since the owner is chosen per station."""
    return (
        f"    ocpp_station_connected{sel} == 1\n"
        "  or on (station)\n"
        "    (\n"
        f"        ocpp_station_last_seen_timestamp_seconds{sel}\n"
        "      == on (station) group_left ()\n"
        f"        max by (station) (ocpp_station_last_seen_timestamp_seconds{sel})\n"
        "    )"
    )


def from_owner(expr: str, by: str, sel: str = "") -> str:
    """`expr` (per-replica series carrying `instance` and `station`) kept only from each
    station's owner replica, then aggregated `by` the given labels so `instance` goes and a
    station counts once however many replicas export it."""
    return (
        f"max by ({by}) (\n"
        f"{_indent(expr)}\n"
        "  and on (instance, station) (\n"
        f"{_indent(owner(sel))}\n"
        "  )\n"
        ")"
    )


def station_connected(sel: str = "") -> str:
    """1 when some replica has the station's session open, else 0; one series per station."""
    return f"max by (station, site, controller) (ocpp_station_connected{sel})"


def station_last_seen(sel: str = "") -> str:
    """The latest frame any replica received from the station."""
    return f"max by (station, site) (ocpp_station_last_seen_timestamp_seconds{sel})"


def controller_up(sel: str = "") -> str:
    """A push heartbeat reaches one replica through the load balancer: up if any replica says so."""
    return f"max by (controller, site) (ocpp_controller_up{sel})"


def ems_up(sel: str = "") -> str:
    return f"max by (ems, site) (ocpp_ems_up{sel})"


def ems_fallback_active(sel: str = "") -> str:
    """On the fallback limit only while no replica hears the EMS: a replica that missed its push
    heartbeats reports the fallback although another one reads the live limit."""
    return f"min by (ems, site) (ocpp_ems_fallback_active{sel})"


def ems_power_limit(sel: str = "") -> str:
    """The limit read by a replica that hears the EMS, else the fallback every replica applies."""
    return (
        f"max by (ems, site) (\n"
        f"  ocpp_ems_power_limit_watts{sel}\n"
        f"  and on (instance, ems, site) (ocpp_ems_up{sel} == 1)\n"
        ")\n"
        f"or max by (ems, site) (ocpp_ems_power_limit_watts{sel})"
    )


def error_code_info() -> str:
    """The catalog text of each error code, once: every replica exports it (one series each, or
    different text for a moment while a changed catalog rolls out)."""
    return "topk by (error_code) (1, ocpp_error_code_info)"


def vendor_code_info(sel: str = "") -> str:
    """The text of each recognised code (ocpp_vendor_code_info), once per scheme and code."""
    return f"topk by (scheme, code) (1, ocpp_vendor_code_info{sel})"


def notification_info(kind: str) -> str:
    return f'topk(1, ocpp_notification_info{{kind="{kind}"}})'
