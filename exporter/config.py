"""YAML configuration -> frozen, validated dataclasses.

Every problem is reported as a ConfigError naming the file, the key path and what is wrong, so
that `ocpp-exporter check-config` can be used in CI before a rollout.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml

from .proxy import IPNetwork, parse_networks

T = TypeVar("T")

STATION_ID_RE = re.compile(r"^[^/]{1,48}$")
SEVERITIES = ("critical", "warning", "info")
_DURATION_RE = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h)?$")
_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


class ConfigError(Exception):
    """A configuration problem, located by file and key path."""

    def __init__(self, source: str, key: str, problem: str) -> None:
        self.source = source
        self.key = key
        self.problem = problem
        where = f"{source}: {key}" if key else source
        super().__init__(f"{where}: {problem}")


@dataclass(frozen=True)
class Listen:
    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class OcppSettings:
    path_prefix: str = "/ocpp"
    heartbeat_interval: float = 60.0
    # No OCPP frame for this long means the station stopped talking even if TCP looks alive.
    heartbeat_timeout: float = 180.0
    ping_interval: float = 30.0
    ping_timeout: float = 10.0
    call_timeout: float = 30.0
    # After a (re)connect the station gets this long to answer TriggerMessage(StatusNotification)
    # before errors it did not re-report are considered cleared.
    resync_window: float = 10.0
    max_frame_bytes: int = 65536
    # Load balancers whose X-Forwarded-For and client-certificate header are believed
    # (exporter/proxy.py); from any other peer those headers are ignored.
    trusted_proxies: tuple[IPNetwork, ...] = ()
    client_cert_header: str = "X-Client-Cert-CN"


@dataclass(frozen=True)
class Limits:
    max_label_length: int = 64
    max_connectors_per_station: int = 32
    max_stations: int = 100_000
    max_error_info_series: int = 10_000
    # Forget a station that is not in the inventory once it has been disconnected this long
    # (None: never). For replicas behind a load balancer, where stations move (docs/scaling.md).
    forget_unknown_after: float | None = None


@dataclass(frozen=True)
class Site:
    name: str
    stations: tuple[str, ...] = ()
    controller: str = ""
    ems: str = ""


@dataclass(frozen=True)
class CatalogOverride:
    severity: str | None = None
    title: str | None = None
    description: str | None = None
    resolution: tuple[str, ...] | None = None
    runbook_url: str | None = None
    alert_for: str | None = None


@dataclass(frozen=True)
class Logging:
    level: str = "info"
    format: str = "text"


@dataclass(frozen=True)
class Config:
    source: str = "<embedded default>"
    ocpp_listen: Listen = field(default_factory=lambda: Listen("0.0.0.0", 9000))
    metrics_listen: Listen = field(default_factory=lambda: Listen("0.0.0.0", 9430))
    ocpp: OcppSettings = field(default_factory=OcppSettings)
    limits: Limits = field(default_factory=Limits)
    sites: tuple[Site, ...] = ()
    catalog_overrides: Mapping[str, CatalogOverride] = field(default_factory=dict)
    runbook_base_url: str = ""
    logging: Logging = field(default_factory=Logging)
    state_dir: str | None = None

    def site_of(self) -> dict[str, Site]:
        """Station id -> its configured site."""
        return {station: site for site in self.sites for station in site.stations}


def parse_duration(value: Any) -> float:
    """'30s', '5m', '1.5h', '250ms' or a bare number of seconds -> seconds."""
    if isinstance(value, bool):
        raise ValueError("expected a duration like '30s' or '5m', got a boolean")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        match = _DURATION_RE.match(str(value).strip())
        if not match:
            raise ValueError(f"expected a duration like '30s' or '5m', got {value!r}")
        seconds = float(match.group(1)) * _DURATION_UNITS[match.group(2)]
    if seconds < 0:
        raise ValueError(f"a duration cannot be negative, got {value!r}")
    return seconds


def parse_listen(value: Any) -> Listen:
    text = str(value)
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"expected HOST:PORT with a port from 0 to 65535, got {text!r}")
    return Listen(host.strip("[]") or "0.0.0.0", int(port))


class _Section:
    """Reads one mapping of the YAML document, remembering its key path for error messages."""

    def __init__(self, source: str, path: str, data: Any) -> None:
        self.source = source
        self.path = path
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise ConfigError(source, path or "(top level)", "expected a mapping")
        self.data: dict[str, Any] = data
        self.used: set[str] = set()

    def key(self, name: str) -> str:
        return f"{self.path}.{name}" if self.path else name

    def fail(self, name: str, problem: str) -> ConfigError:
        return ConfigError(self.source, self.key(name), problem)

    def get(self, name: str, convert: Callable[[Any], T], default: T) -> T:
        self.used.add(name)
        if name not in self.data:
            return default
        try:
            return convert(self.data[name])
        except (ValueError, TypeError) as exc:
            raise self.fail(name, str(exc)) from None

    def section(self, name: str) -> _Section:
        self.used.add(name)
        return _Section(self.source, self.key(name), self.data.get(name))

    def finish(self) -> None:
        unknown = sorted(set(self.data) - self.used)
        if unknown:
            raise self.fail(unknown[0], f"unknown key (known keys: {', '.join(sorted(self.used))})")


def _positive(convert: Callable[[Any], float]) -> Callable[[Any], float]:
    def check(value: Any) -> float:
        result = convert(value)
        if result <= 0:
            raise ValueError(f"must be greater than zero, got {value!r}")
        return result

    return check


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"expected an integer, got {value!r}")
    if value <= 0:
        raise ValueError(f"must be greater than zero, got {value}")
    return value


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected a string, got {value!r}")
    return value


def _choice(*choices: str) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if value not in choices:
            raise ValueError(f"expected one of {', '.join(choices)}, got {value!r}")
        return value

    return check


def _steps(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(s, str) for s in value):
        raise ValueError("expected a non-empty list of strings")
    return tuple(value)


def _station_id(value: Any) -> str:
    if not isinstance(value, str) or not STATION_ID_RE.match(value):
        raise ValueError(f"station ids are 1 to 48 characters without '/', got {value!r}")
    return value


def _ocpp(section: _Section) -> OcppSettings:
    d = OcppSettings()
    duration = _positive(parse_duration)
    prefix = section.get("path_prefix", _str, d.path_prefix)
    if not prefix.startswith("/") or prefix.endswith("/"):
        raise section.fail(
            "path_prefix", f"must start with '/' and not end with '/', got {prefix!r}"
        )
    settings = OcppSettings(
        path_prefix=prefix,
        heartbeat_interval=section.get("heartbeat_interval", duration, d.heartbeat_interval),
        heartbeat_timeout=section.get("heartbeat_timeout", duration, d.heartbeat_timeout),
        ping_interval=section.get("ping_interval", duration, d.ping_interval),
        ping_timeout=section.get("ping_timeout", duration, d.ping_timeout),
        call_timeout=section.get("call_timeout", duration, d.call_timeout),
        resync_window=section.get("resync_window", duration, d.resync_window),
        max_frame_bytes=section.get("max_frame_bytes", _int, d.max_frame_bytes),
        trusted_proxies=section.get("trusted_proxies", parse_networks, d.trusted_proxies),
        client_cert_header=section.get("client_cert_header", _str, d.client_cert_header),
    )
    section.finish()
    if settings.heartbeat_timeout <= settings.heartbeat_interval:
        raise section.fail(
            "heartbeat_timeout",
            f"must be longer than heartbeat_interval ({settings.heartbeat_interval:g}s), "
            f"or every healthy station would be disconnected",
        )
    return settings


def _limits(section: _Section) -> Limits:
    d = Limits()
    limits = Limits(
        max_label_length=section.get("max_label_length", _int, d.max_label_length),
        max_connectors_per_station=section.get(
            "max_connectors_per_station", _int, d.max_connectors_per_station
        ),
        max_stations=section.get("max_stations", _int, d.max_stations),
        max_error_info_series=section.get("max_error_info_series", _int, d.max_error_info_series),
        forget_unknown_after=section.get(
            "forget_unknown_after", _positive(parse_duration), d.forget_unknown_after
        ),
    )
    section.finish()
    return limits


def _sites(source: str, data: Any) -> tuple[Site, ...]:
    if data is None:
        return ()
    if not isinstance(data, list):
        raise ConfigError(source, "inventory.sites", "expected a list of sites")
    sites: list[Site] = []
    seen_sites: set[str] = set()
    seen_stations: dict[str, str] = {}
    for index, item in enumerate(data):
        section = _Section(source, f"inventory.sites[{index}]", item)
        name = section.get("name", _str, "")
        if not name:
            raise section.fail("name", "every site needs a name")
        if name in seen_sites:
            raise section.fail("name", f"duplicate site name {name!r}")
        seen_sites.add(name)
        stations = section.get("stations", lambda v: [] if v is None else list(v), [])
        for pos, station in enumerate(stations):
            try:
                _station_id(station)
            except ValueError as exc:
                raise section.fail(f"stations[{pos}]", str(exc)) from None
            if station in seen_stations:
                raise section.fail(
                    f"stations[{pos}]",
                    f"station {station!r} is already listed in site {seen_stations[station]!r}",
                )
            seen_stations[station] = name
        site = Site(
            name=name,
            stations=tuple(stations),
            controller=section.get("controller", _str, ""),
            ems=section.get("ems", _str, ""),
        )
        section.finish()
        sites.append(site)
    return tuple(sites)


def _overrides(section: _Section) -> dict[str, CatalogOverride]:
    overrides: dict[str, CatalogOverride] = {}
    for code in list(section.data):
        entry = section.section(code)
        overrides[code] = CatalogOverride(
            severity=entry.get("severity", _choice(*SEVERITIES), None),
            title=entry.get("title", _str, None),
            description=entry.get("description", _str, None),
            resolution=entry.get("resolution", _steps, None),
            runbook_url=entry.get("runbook_url", _str, None),
            alert_for=entry.get("for", lambda v: (parse_duration(v), str(v))[1], None),
        )
        entry.finish()
    return overrides


def parse(data: Any, source: str) -> Config:
    """Validate a loaded YAML document; raises ConfigError on the first problem."""
    root = _Section(source, "", data)
    d = Config()
    listen = root.section("listen")
    ocpp_listen = listen.get("ocpp", parse_listen, d.ocpp_listen)
    metrics_listen = listen.get("metrics", parse_listen, d.metrics_listen)
    listen.finish()
    inventory = root.section("inventory")
    sites = _sites(source, inventory.get("sites", lambda v: v, None))
    inventory.finish()
    catalog = root.section("catalog")
    runbook_base_url = catalog.get("runbook_base_url", _str, "")
    overrides = _overrides(catalog.section("overrides"))
    catalog.finish()
    logging_section = root.section("logging")
    log = Logging(
        level=logging_section.get("level", _choice("debug", "info", "warning", "error"), "info"),
        format=logging_section.get("format", _choice("text", "json"), "text"),
    )
    logging_section.finish()
    config = Config(
        source=source,
        ocpp_listen=ocpp_listen,
        metrics_listen=metrics_listen,
        ocpp=_ocpp(root.section("ocpp")),
        limits=_limits(root.section("limits")),
        sites=sites,
        catalog_overrides=overrides,
        runbook_base_url=runbook_base_url,
        logging=log,
        state_dir=root.get("state_dir", _str, None),
    )
    root.finish()
    return config


def load(path: str | Path) -> Config:
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(source, "", f"cannot read the file: {exc.strerror or exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", exc)
        raise ConfigError(source, "", f"{where}not valid YAML ({problem})") from None
    return parse(data, source)


def default() -> Config:
    """The embedded default: any station may connect, no auth, nothing written to disk."""
    return Config()
