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


#: How long the view of a replica that stopped answering (killed, drained, crashed, restarted
#: without its state) still stands in for a station, counted from that replica's last successful
#: scrape: the bound within which a moved station must reconnect to another replica and re-report
#: for its alerts to carry on without resolving, restarting `for:` or paging offline
#: (docs/scaling.md, "Across a failover").
FAILOVER_HOLD = "5m"


def indent(text: str, prefix: str = "  ") -> str:
    return "\n".join(prefix + line for line in text.splitlines())


def held(series: str, key: str, marker: str) -> str:
    """`series` as each replica exports it now, plus, where a replica no longer exports `marker`
    for `key` (its view went with it: killed, restarted empty), the last value it exported within
    FAILOVER_HOLD. A live replica that still exports `marker` speaks for itself: what it dropped
    (a cleared error, a changed status) is gone at once."""
    return (
        "(\n"
        f"    {series}\n"
        "  or\n"
        f"    (last_over_time({series}[{FAILOVER_HOLD}]) unless on ({key}) {marker})\n"
        ")"
    )


def _newest(series: str, by: str) -> str:
    """The series of `series` holding the largest value for their `by` labels."""
    return f"    {series}\n  == on ({by}) group_left ()\n    max by ({by}) ({series})"


def last_seen_held(sel: str = "") -> str:
    return f"last_over_time(ocpp_station_last_seen_timestamp_seconds{sel}[{FAILOVER_HOLD}])"


def owner(sel: str = "") -> str:
    """The replica whose view of a station is current: the one the station is connected to now,
    or, when it is connected nowhere, the one that received its last frame (a replica that went
    away counts for FAILOVER_HOLD with what it last exported). `sel` narrows the series read (a
    `{...}` selector on station/site labels); it does not change the answer for the stations it
    keeps, since the owner is chosen per station."""
    return (
        f"    ocpp_station_connected{sel} == 1\n"
        "  or on (station)\n"
        "    (\n"
        f"{indent(_newest(last_seen_held(sel), 'station'), '    ')}\n"
        "    )"
    )


#: The station owner filter over the whole fleet.
OWNER = owner()


def connector_report(sel: str = "") -> str:
    return f"last_over_time(ocpp_connector_report_timestamp_seconds{sel}[{FAILOVER_HOLD}])"


def connector_owner(sel: str = "") -> str:
    """Per connector, the replica with the newest view of it (`ocpp_connector_report_timestamp_
    seconds`: the station's last report about it there, or the station's last sync there if
    later), unless a replica took the whole station afresh after that (a BootNotification, the
    end of a re-sync): then the connector has no error anywhere that counts. A replica that went
    away keeps its view for FAILOVER_HOLD, so a moved station's errors stand until it re-reports
    on its new replica, and what it re-reports there (NoError, a reboot) counts at once."""
    report = connector_report(sel)
    synced = f"last_over_time(ocpp_station_synced_timestamp_seconds{sel}[{FAILOVER_HOLD}])"
    return (
        f"{_newest(report, 'station, connector')}\n"
        "unless on (instance, station, connector)\n"
        f"    {report}\n"
        "  < on (station) group_left ()\n"
        f"    max by (station) ({synced})"
    )


def from_owner(expr: str, by: str, sel: str = "", agg: str = "max") -> str:
    """Station-level `expr` (a plain selector of per-replica series carrying `instance` and
    `station`: identity, firmware) kept only from each station's owner replica, a replica that
    went away standing in for FAILOVER_HOLD, then aggregated `by` the given labels so `instance`
    goes and a station counts once however many replicas export it."""
    return (
        f"{agg} by ({by}) (\n"
        f"{indent(held(expr, 'instance, station', expr))}\n"
        "  and on (instance, station) (\n"
        f"{indent(owner(sel))}\n"
        "  )\n"
        ")"
    )


def from_connector_owner(
    expr: str, by: str, sel: str = "", agg: str = "max", hold: bool = True
) -> str:
    """Connector-level `expr` (errors, statuses, their details) kept only from each connector's
    owner replica (`connector_owner`), then aggregated `by` the given labels: each connector and
    each error counts once, whatever stale view another replica holds. With `hold` (`expr` a
    plain selector) a replica that went away stands in with what it last exported; without it (a
    compound `expr`), its connectors show nothing until the station re-reports."""
    marker = f"ocpp_connector_report_timestamp_seconds{sel}"
    kept = held(expr, "instance, station, connector", marker) if hold else f"(\n    {expr}\n)"
    return (
        f"{agg} by ({by}) (\n"
        f"{indent(kept)}\n"
        "  and on (instance, station, connector) (\n"
        f"{indent(connector_owner(sel))}\n"
        "  )\n"
        ")"
    )


def station_connected(sel: str = "") -> str:
    """1 when some replica has the station's session open, else 0; one series per station. A
    replica that went away still counts, for FAILOVER_HOLD, for the stations it was the last to
    hear from: a station has that long to reconnect elsewhere before it counts as offline."""
    return (
        "max by (station, site, controller) (\n"
        f"    ocpp_station_connected{sel}\n"
        "  or\n"
        "    (\n"
        f"        last_over_time(ocpp_station_connected{sel}[{FAILOVER_HOLD}])\n"
        f"      unless on (instance, station) ocpp_station_connected{sel}\n"
        "      and on (instance, station) (\n"
        f"{indent(_newest(last_seen_held(sel), 'station'), '        ')}\n"
        "      )\n"
        "    )\n"
        ")"
    )


def station_last_seen(sel: str = "") -> str:
    """The latest frame any replica received from the station."""
    return f"max by (station, site) ({last_seen_held(sel)})"


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
