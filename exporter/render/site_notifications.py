"""`controller_offline` and `ems_offline` entries of /api/v1/notifications, derived from the
`Sites` state and the catalog at request time (so they cannot disagree with /metrics)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from exporter.knowledge.catalog import Catalog
from exporter.render.notifications import Notification, rfc3339
from exporter.state.sites import CONTROLLER, EMS, Sites


def site_notifications(
    sites: Sites,
    catalog: Catalog,
    stations_of: dict[str, tuple[str, ...]] | None = None,
    clock: Callable[[], float] = time.time,
) -> Iterable[Notification]:
    """`stations_of` maps a site to its configured stations: the ones an outage affects."""
    now = clock()
    stations_of = stations_of or {}
    for state in sites:
        since = state.down_since(now)
        if since is None:
            continue
        last_seen = rfc3339(state.last_seen) if state.last_seen else None
        affected = list(stations_of.get(state.site, ()))
        if state.kind == CONTROLLER:
            yield Notification(
                "controller_offline",
                catalog.notifications["controller_offline"],
                since,
                site=state.site,
                controller=state.id,
                details=(("last_seen", last_seen), ("stations", affected)),
            )
        elif state.kind == EMS:
            yield Notification(
                "ems_offline",
                catalog.notifications["ems_offline"],
                since,
                site=state.site,
                ems=state.id,
                details=(
                    ("last_seen", last_seen),
                    ("fallback_active", True),
                    ("fallback_limit_w", state.device.fallback_limit_w),
                    ("stations", affected),
                ),
            )
