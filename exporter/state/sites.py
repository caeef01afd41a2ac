"""Site controller and EMS liveness. Pure: no I/O, no clock of its own (callers pass `now`).

The rules (pinned by tests/test_sites_state.py):

- every liveness signal counts the same: a push heartbeat, a successful probe, a successfully read
  power limit. A device is up while its last signal is at most `stale_after` old; a failed probe is
  simply no signal (one lost probe does not flap the device when `stale_after` spans a few
  probe intervals);
- before its first signal a configured device gets `stale_after` of grace from the exporter's
  start: it counts as up (unknown is not an outage) and goes down only when the grace runs out
  without a signal, so a restart of the exporter does not page anybody;
- the time a device went down is `last signal (or start) + stale_after`, so it is the same
  whenever it is asked for;
- an EMS that is down runs the site on its fallback limit: `fallback_active` is exactly
  "EMS down", and the limit in force is the configured `fallback_limit_w` (unknown if none is
  configured). While the EMS is up the limit in force is the last live value it reported, as
  long as that value is itself at most `stale_after` old.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from exporter.config.model import Device, Site

CONTROLLER = "controller"
EMS = "ems"


class UnknownDevice(KeyError):
    """No controller or EMS with that id is configured."""


@dataclass(frozen=True)
class CheckResult:
    """The outcome of the last run of one active check (`probe` is tcp, http or power_limit)."""

    probe: str
    ok: bool
    at: float
    duration: float
    error: str = ""


@dataclass(frozen=True)
class Transition:
    kind: str
    id: str
    site: str
    up: bool
    at: float


@dataclass
class DeviceState:
    device: Device
    site: str
    started: float
    last_seen: float = 0.0
    last_push: float = 0.0
    live_limit_w: float | None = None
    live_limit_at: float = 0.0
    # As of the last evaluate(): lets evaluate() report each change once.
    was_up: bool = True
    checks: dict[str, CheckResult] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        return self.device.kind

    @property
    def id(self) -> str:
        return self.device.id

    def _reference(self) -> float:
        return max(self.last_seen, self.started)

    def is_up(self, now: float) -> bool:
        return now - self._reference() <= self.device.stale_after

    def down_since(self, now: float) -> float | None:
        """When the device went down, or None while it is up."""
        if self.is_up(now):
            return None
        return self._reference() + self.device.stale_after

    def live_limit(self, now: float) -> float | None:
        if self.live_limit_w is None or now - self.live_limit_at > self.device.stale_after:
            return None
        return self.live_limit_w

    def fallback_active(self, now: float) -> bool:
        return self.kind == EMS and not self.is_up(now)

    def limit_in_force(self, now: float) -> float | None:
        """The live limit while the EMS is up, the configured fallback while it is down."""
        if self.kind != EMS:
            return None
        if self.is_up(now):
            return self.live_limit(now)
        return self.device.fallback_limit_w

    def _signal(self, now: float) -> None:
        # Signals may be recorded out of order (a slow probe finishing after a push).
        self.last_seen = max(self.last_seen, now)


class Sites:
    """Every configured controller and EMS, keyed by (kind, id)."""

    def __init__(self, sites: Iterable[Site], now: float) -> None:
        self.devices: dict[tuple[str, str], DeviceState] = {}
        for site in sites:
            for device in (site.controller_device, site.ems_device):
                if device is not None:
                    self.devices[device.kind, device.id] = DeviceState(device, site.name, now)
        # Push requests refused, by reason (unknown_device, missing_token, bad_token, bad_body).
        self.rejected: Counter[str] = Counter()

    def __len__(self) -> int:
        return len(self.devices)

    def __iter__(self) -> Iterator[DeviceState]:
        return iter(self.devices.values())

    def get(self, kind: str, device_id: str) -> DeviceState:
        try:
            return self.devices[kind, device_id]
        except KeyError:
            raise UnknownDevice(f"no {kind} {device_id!r} is configured") from None

    def heartbeat(
        self, kind: str, device_id: str, now: float, power_limit_w: float | None = None
    ) -> DeviceState:
        state = self.get(kind, device_id)
        state._signal(now)
        state.last_push = max(state.last_push, now)
        if power_limit_w is not None:
            if kind != EMS:
                raise ValueError("only an EMS reports a power limit")
            self._live_limit(state, power_limit_w, now)
        return state

    def check_result(
        self, kind: str, device_id: str, result: CheckResult, power_limit_w: float | None = None
    ) -> DeviceState:
        state = self.get(kind, device_id)
        state.checks[result.probe] = result
        if result.ok:
            state._signal(result.at)
            if power_limit_w is not None:
                self._live_limit(state, power_limit_w, result.at)
        return state

    @staticmethod
    def _live_limit(state: DeviceState, watts: float, now: float) -> None:
        if now >= state.live_limit_at:
            state.live_limit_w = watts
            state.live_limit_at = now

    def reject(self, reason: str) -> None:
        self.rejected[reason] += 1

    def evaluate(self, now: float) -> list[Transition]:
        """Up/down changes since the previous call (for logs)."""
        changes: list[Transition] = []
        for state in self.devices.values():
            up = state.is_up(now)
            if up == state.was_up:
                continue
            state.was_up = up
            at = now if up else (state.down_since(now) or now)
            changes.append(Transition(state.kind, state.id, state.site, up, at))
        return changes
