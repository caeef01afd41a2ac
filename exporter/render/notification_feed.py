"""The active notifications as a numbered change log: what the live page and
/api/v1/notifications/stream send. Each refresh compares the notifications now with the last
ones and records one change per notification that appeared, changed or went away; a client that
reconnects with the last version it saw gets the changes since, or a snapshot when they are no
longer kept.

Pure: no I/O, no clock; the web layer decides when to refresh (a change hook, a short tick)."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote

from exporter.render.notifications import Notification, sort_key

ChangeKind = Literal["add", "update", "remove"]


def notification_id(n: Notification) -> str:
    """Stable identity of a notification while it stays active: kind, site, the thing it is about
    (station, controller or EMS), connector, code and, for a compound vendor code, the vendor
    code (each is its own notification). Names are quoted, so `/` separates parts whatever the
    names contain."""
    subject = n.station or n.controller or n.ems
    parts = [n.kind, n.site, subject, n.connector, n.error_code]
    vendor = dict(n.details).get("vendor")
    if isinstance(vendor, dict):
        parts += [str(vendor.get("scheme", "")), str(vendor.get("code", ""))]
    return "/".join(quote(p, safe="") for p in parts)


def rank(n: Notification) -> list[Any]:
    """The sort key of `notifications.ordered`, sent along so that clients keep the same order
    (most severe first, offline devices before errors, oldest first) without a copy of it."""
    return list(sort_key(n))


@dataclass(frozen=True)
class Item:
    id: str
    rank: list[Any]
    notification: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "rank": self.rank, "notification": self.notification}


def items_of(notifications: Iterable[Notification]) -> list[Item]:
    """What the feed keeps of each notification: its id, rank and JSON object (computing that
    is most of a refresh's cost, so a caller may keep the items of a source that did not
    change)."""
    return [Item(notification_id(n), rank(n), n.as_json()) for n in notifications]


@dataclass(frozen=True)
class Change:
    version: int
    kind: ChangeKind
    id: str
    item: Item | None  # None for a removal

    def as_json(self) -> dict[str, Any]:
        return self.item.as_json() if self.item is not None else {"id": self.id}


class NotificationFeed:
    """Successive snapshots in, numbered changes out. Keeps the last `history` changes."""

    def __init__(self, history: int = 1024) -> None:
        self.version = 0
        self._items: dict[str, Item] = {}
        self._log: deque[Change] = deque(maxlen=history)

    def refresh(self, items: Iterable[Item]) -> list[Change]:
        """Takes the items of the notifications active now (`items_of`); returns (and records)
        what changed."""
        current = {item.id: item for item in items}
        changes: list[Change] = []
        for item_id in self._items.keys() - current.keys():
            changes.append(self._record("remove", item_id, None))
        for item_id, item in current.items():
            before = self._items.get(item_id)
            if before is None:
                changes.append(self._record("add", item_id, item))
            elif before is not item and before != item:
                changes.append(self._record("update", item_id, item))
        self._items = current
        return changes

    def _record(self, kind: ChangeKind, item_id: str, item: Item | None) -> Change:
        self.version += 1
        change = Change(self.version, kind, item_id, item)
        self._log.append(change)
        return change

    def snapshot(self) -> list[Item]:
        """The active notifications in the order of `rank`."""
        return sorted(self._items.values(), key=lambda item: item.rank)

    def since(self, version: int) -> list[Change] | None:
        """The changes after `version`, or None when some of them are no longer kept (or the
        version was never issued): the client then needs a snapshot."""
        if version > self.version or version < 0:
            return None
        if version == self.version:
            return []
        if not self._log or self._log[0].version > version + 1:
            return None
        return [c for c in self._log if c.version > version]
