"""The notification change log behind the live page and its event stream: pure, no sockets."""

from __future__ import annotations

from exporter.knowledge import catalog as catalog_module
from exporter.render.notification_feed import NotificationFeed, items_of, notification_id
from exporter.render.notifications import Notification, fleet_notifications
from exporter.state.fleet import ActiveError, Fleet

CATALOG = catalog_module.load()


def error(fleet: Fleet, station: str, connector: str, code: str | None, now: float = 10.0):
    active = ActiveError(code, now, "Available") if code else None
    fleet.report_status(station, connector, "Available", active, now)


def snapshot_of(fleet: Fleet, feed: NotificationFeed):
    return feed.refresh(items_of(fleet_notifications(fleet, CATALOG)))


def test_appear_change_and_go_away_are_one_change_each():
    fleet = Fleet()
    fleet.connect("CP-1", 1.0)
    feed = NotificationFeed()
    assert snapshot_of(fleet, feed) == []

    error(fleet, "CP-1", "1", "GroundFailure")
    [added] = snapshot_of(fleet, feed)
    assert (added.kind, added.version) == ("add", 1)
    assert added.item is not None and added.item.notification["error_code"] == "GroundFailure"
    assert snapshot_of(fleet, feed) == [], "nothing changed, nothing to send"

    fleet.report_status("CP-1", "1", "Faulted", ActiveError("GroundFailure", 11.0, "Faulted"), 11)
    [updated] = snapshot_of(fleet, feed)
    assert (updated.kind, updated.id) == ("update", added.id)
    assert updated.item is not None and updated.item.notification["since"] == "1970-01-01T00:00:10Z"

    error(fleet, "CP-1", "1", None)
    [removed] = snapshot_of(fleet, feed)
    assert (removed.kind, removed.id, removed.item) == ("remove", added.id, None)
    assert feed.version == 3


def test_snapshot_is_in_the_api_order():
    fleet = Fleet()
    fleet.connect("CP-1", 1.0)
    fleet.connect("CP-2", 1.0)
    error(fleet, "CP-1", "1", "WeakSignal", now=5.0)
    error(fleet, "CP-2", "2", "GroundFailure", now=9.0)
    fleet.disconnect("CP-2", fleet.stations["CP-2"].session, 12.0)
    feed = NotificationFeed()
    snapshot_of(fleet, feed)
    kinds = [(i.notification["kind"], i.notification.get("error_code")) for i in feed.snapshot()]
    assert kinds == [
        ("station_offline", None),
        ("ocpp_error", "GroundFailure"),
        ("ocpp_error", "WeakSignal"),
    ]


def test_since_gives_the_missed_changes_or_none_when_they_are_gone():
    fleet = Fleet()
    fleet.connect("CP-1", 1.0)
    feed = NotificationFeed(history=4)
    for n in range(1, 4):
        error(fleet, "CP-1", str(n), "HighTemperature")
        snapshot_of(fleet, feed)
    assert [c.version for c in feed.since(1) or []] == [2, 3]
    assert feed.since(3) == []
    assert feed.since(4) is None, "a version from the future (another process) is not trusted"
    assert feed.since(-1) is None
    for n in range(4, 8):
        error(fleet, "CP-1", str(n), "HighTemperature")
        snapshot_of(fleet, feed)
    assert feed.since(2) is None, "changes 3.. are no longer all kept"
    assert [c.version for c in feed.since(4) or []] == [5, 6, 7]


def test_ids_do_not_collide_whatever_the_names_contain():
    entry = CATALOG.error("GroundFailure")
    a = Notification(
        "ocpp_error", entry, 1.0, station="A/B", site="s", connector="1", error_code="GroundFailure"
    )
    b = Notification(
        "ocpp_error", entry, 1.0, station="A", site="s", connector="B/1", error_code="GroundFailure"
    )
    offline = CATALOG.notifications["station_offline"]
    c = Notification("station_offline", offline, 1.0, station="ctl", site="s")
    d = Notification("controller_offline", offline, 1.0, controller="ctl", site="s")
    assert len({notification_id(n) for n in (a, b, c, d)}) == 4
