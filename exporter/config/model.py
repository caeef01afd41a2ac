"""YAML configuration -> frozen, validated dataclasses.

Every problem is reported as a ConfigError naming the file, the key path and what is wrong, so
that `ocpp-exporter check-config` can be used in CI before a rollout.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import yaml

from exporter.config.security import OcppSecurity, WebSecurity, parse_ocpp_security, parse_web
from exporter.durations import parse_duration
from exporter.endpoint.peer_identity import IPNetwork, parse_networks
from exporter.knowledge.severity import SEVERITIES

T = TypeVar("T")

# Printable, no '/', 1 to 48 characters; always used with fullmatch (a `$` would let a trailing
# newline through, and ids end up in labels and log lines).
STATION_ID_RE = re.compile(r"[^/\x00-\x1f\x7f]{1,48}")


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
    # Per-station token bucket on inbound frames; 0 turns it off.
    max_messages_per_second: float = 50.0
    burst: int = 200
    # Open station websockets; more are refused with HTTP 503 before the upgrade.
    max_connections: int = 20_000
    # Forget a station that is not in the inventory once it has been disconnected this long
    # (None: never). For replicas behind a load balancer, where stations move (docs/scaling.md).
    forget_unknown_after: float | None = None


@dataclass(frozen=True)
class Probe:
    """An active check of a controller or EMS, run on an interval (like a blackbox module)."""

    type: str  # tcp | http
    # tcp: HOST:PORT; http: the URL to GET
    target: str
    interval: float = 30.0
    timeout: float = 5.0
    expect_status: tuple[int, ...] = (200,)
    tls_verify: bool = True


@dataclass(frozen=True)
class PowerLimitSource:
    """Where the EMS publishes its live power limit: a JSON document and the path to a number."""

    url: str
    json_path: str
    interval: float = 30.0
    timeout: float = 5.0
    tls_verify: bool = True


DEFAULT_STALE_AFTER = 90.0


@dataclass(frozen=True)
class Device:
    """A site controller or EMS and how the exporter learns that it is alive."""

    id: str
    kind: str  # controller | ems
    # Bearer token for push heartbeats (the device's own, else the site's); "" = no auth.
    token: str = field(default="", repr=False)
    stale_after: float = DEFAULT_STALE_AFTER
    probe: Probe | None = None
    fallback_limit_w: float | None = None
    power_limit: PowerLimitSource | None = None


@dataclass(frozen=True)
class Site:
    name: str
    stations: tuple[str, ...] = ()
    controller: str = ""
    ems: str = ""
    controller_device: Device | None = None
    ems_device: Device | None = None
    # Relay mode: this site's stations belong to another central system than the global one.
    upstream_url: str = ""


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
class RelayTls:
    """How the exporter verifies a wss:// upstream (the station's own TLS ends at the exporter)."""

    ca_file: str | None = None
    insecure_skip_verify: bool = False


@dataclass(frozen=True)
class RelaySettings:
    """`mode: relay`: stations connect to the exporter, which opens a leg to their CSMS."""

    upstream_url: str = ""
    tls: RelayTls = field(default_factory=RelayTls)
    connect_timeout: float = 10.0


MODES = ("standalone", "relay")


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
    mode: str = "standalone"
    relay: RelaySettings = field(default_factory=RelaySettings)

    def upstream_url_of(self, station_id: str) -> str:
        """Relay mode: the CSMS base URL for a station (its site's override, else the global)."""
        site = self.site_of().get(station_id)
        return (site.upstream_url if site else "") or self.relay.upstream_url

    ocpp_security: OcppSecurity = field(default_factory=OcppSecurity)
    web: WebSecurity = field(default_factory=WebSecurity)

    def site_of(self) -> Mapping[str, Site]:
        """Station id -> its configured site (built once: relay mode asks on every connect)."""
        return self._site_index

    @cached_property
    def _site_index(self) -> Mapping[str, Site]:
        return {station: site for site in self.sites for station in site.stations}


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


def _non_negative(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ValueError(f"expected a number >= 0, got {value!r}")
    return float(value)


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


def _station_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValueError(f"expected a list of station ids, got {value!r}")
    return value


def _station_id(value: Any) -> str:
    if not isinstance(value, str) or not STATION_ID_RE.fullmatch(value):
        raise ValueError(f"station ids are 1 to 48 printable characters without '/', got {value!r}")
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
        max_messages_per_second=section.get(
            "max_messages_per_second", _non_negative, d.max_messages_per_second
        ),
        burst=section.get("burst", _int, d.burst),
        max_connections=section.get("max_connections", _int, d.max_connections),
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
    seen_devices: dict[tuple[str, str], str] = {}
    for index, item in enumerate(data):
        section = _Section(source, f"inventory.sites[{index}]", item)
        name = section.get("name", _str, "")
        if not name:
            raise section.fail("name", "every site needs a name")
        if name in seen_sites:
            raise section.fail("name", f"duplicate site name {name!r}")
        seen_sites.add(name)
        stations = section.get("stations", _station_list, [])
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
        site_token = _token(section)
        controller = _device(section, "controller", site_token, seen_devices)
        ems = _device(section, "ems", site_token, seen_devices)
        site = Site(
            name=name,
            stations=tuple(stations),
            controller=controller.id if controller else "",
            ems=ems.id if ems else "",
            controller_device=controller,
            ems_device=ems,
            upstream_url=section.get("upstream_url", _upstream_url, ""),
        )
        section.finish()
        sites.append(site)
    return tuple(sites)


def _device_id(value: Any) -> str:
    # The id is a URL path segment of the push API and a label value.
    if not isinstance(value, str) or not STATION_ID_RE.fullmatch(value):
        raise ValueError(f"device ids are 1 to 48 characters without '/', got {value!r}")
    return value


def _token(section: _Section) -> str:
    """`token:` or `token_file:` (one line, surrounding whitespace ignored); "" when neither."""
    token = section.get("token", _str, "")
    token_file = section.get("token_file", _str, "")
    if token and token_file:
        raise section.fail("token_file", "set either token or token_file, not both")
    if token_file:
        path = Path(token_file)
        if not path.is_absolute() and not section.source.startswith("<"):
            path = Path(section.source).parent / path
        try:
            token = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise section.fail(
                "token_file", f"cannot read {str(path)!r}: {exc.strerror or exc}"
            ) from None
        if not token:
            raise section.fail("token_file", f"{str(path)!r} is empty")
    elif "token" in section.data and not token.strip():
        raise section.fail("token", "must not be empty")
    return token.strip()


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"expected true or false, got {value!r}")
    return value


def _watts(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ValueError(f"expected a number of watts (0 or more), got {value!r}")
    return float(value)


def _http_url(value: Any) -> str:
    text = _str(value)
    scheme, sep, rest = text.partition("://")
    if not sep or scheme not in ("http", "https") or not rest.split("/", 1)[0]:
        raise ValueError(f"expected an http:// or https:// URL with a host, got {text!r}")
    return text


def _tcp_target(value: Any) -> str:
    text = _str(value)
    host, sep, port = text.rpartition(":")
    if not sep or not host.strip("[]") or not port.isdigit() or not 0 < int(port) <= 65535:
        raise ValueError(f"expected HOST:PORT with a port from 1 to 65535, got {text!r}")
    return text


def _statuses(value: Any) -> tuple[int, ...]:
    values = value if isinstance(value, list) else [value]
    if not values or not all(
        isinstance(v, int) and not isinstance(v, bool) and 100 <= v <= 599 for v in values
    ):
        raise ValueError(f"expected an HTTP status (100-599) or a list of them, got {value!r}")
    return tuple(values)


def _json_path(value: Any) -> str:
    text = _str(value)
    if not text or any(not part for part in text.split(".")):
        raise ValueError(f"expected a dotted path like 'site.limit_w' or 'data.0.w', got {text!r}")
    return text


def _check_interval(section: _Section, interval: float, timeout: float) -> None:
    if timeout > interval:
        raise section.fail(
            "timeout", f"must not be longer than interval ({interval:g}s), or checks would overlap"
        )


def _probe(section: _Section) -> Probe:
    duration = _positive(parse_duration)
    kind = section.get("type", _choice("tcp", "http"), "")
    if not kind:
        raise section.fail("type", "every probe needs a type (tcp or http)")
    if kind == "tcp":
        for name in ("url", "expect_status", "tls_verify"):
            if name in section.data:
                raise section.fail(name, "only for probes of type http")
        target = section.get("target", _tcp_target, "")
        if not target:
            raise section.fail("target", "a tcp probe needs target: HOST:PORT")
    else:
        if "target" in section.data:
            raise section.fail("target", "an http probe takes url:, not target:")
        target = section.get("url", _http_url, "")
        if not target:
            raise section.fail("url", "an http probe needs url: http(s)://...")
    d = Probe(kind, target)
    probe = Probe(
        type=kind,
        target=target,
        interval=section.get("interval", duration, d.interval),
        timeout=section.get("timeout", duration, d.timeout),
        expect_status=section.get("expect_status", _statuses, d.expect_status),
        tls_verify=section.get("tls_verify", _bool, d.tls_verify),
    )
    section.finish()
    _check_interval(section, probe.interval, probe.timeout)
    return probe


def _power_limit(section: _Section) -> PowerLimitSource:
    duration = _positive(parse_duration)
    url = section.get("url", _http_url, "")
    if not url:
        raise section.fail("url", "power_limit needs url: http(s)://...")
    json_path = section.get("json_path", _json_path, "")
    if not json_path:
        raise section.fail("json_path", "power_limit needs json_path: (e.g. 'limit_w')")
    d = PowerLimitSource(url, json_path)
    source = PowerLimitSource(
        url=url,
        json_path=json_path,
        interval=section.get("interval", duration, d.interval),
        timeout=section.get("timeout", duration, d.timeout),
        tls_verify=section.get("tls_verify", _bool, d.tls_verify),
    )
    section.finish()
    _check_interval(section, source.interval, source.timeout)
    return source


def _device(
    site: _Section, kind: str, site_token: str, seen: dict[tuple[str, str], str]
) -> Device | None:
    """`controller:` / `ems:` of a site: a plain id (push only) or a mapping."""
    site.used.add(kind)
    raw = site.data.get(kind)
    if raw is None or raw == "":
        return None
    if not isinstance(raw, str | dict):
        raise site.fail(kind, f"expected an id or a mapping with id:, got {raw!r}")
    if isinstance(raw, str):
        device_id = site.get(kind, _device_id, "")
        device = Device(id=device_id, kind=kind, token=site_token)
        where = site.key(kind)
    else:
        section = site.section(kind)
        device_id = section.get("id", _device_id, "")
        if not device_id:
            raise section.fail("id", f"every {kind} needs an id")
        if kind != "ems":
            for name in ("fallback_limit_w", "power_limit"):
                if name in section.data:
                    raise section.fail(name, "only for an ems")
        stale_after = section.get("stale_after", _positive(parse_duration), DEFAULT_STALE_AFTER)
        probe = _probe(section.section("probe")) if section.data.get("probe") else None
        power_limit = (
            _power_limit(section.section("power_limit"))
            if section.data.get("power_limit")
            else None
        )
        device = Device(
            id=device_id,
            kind=kind,
            token=_token(section) or site_token,
            stale_after=stale_after,
            probe=probe,
            fallback_limit_w=section.get("fallback_limit_w", _watts, None),
            power_limit=power_limit,
        )
        section.used.update({"probe", "power_limit"})
        section.finish()
        # A device is down after stale_after without a signal: shorter than the check interval
        # and it would flap between every two checks.
        for name, check in (("probe", probe), ("power_limit", power_limit)):
            if check and stale_after <= check.interval:
                raise section.fail(
                    "stale_after",
                    f"must be longer than {name}.interval ({check.interval:g}s), "
                    f"or the {kind} would count as down between two checks",
                )
        where = section.path
    if (kind, device_id) in seen:
        raise ConfigError(
            site.source,
            where,
            f"{kind} id {device_id!r} is already used by {seen[kind, device_id]}",
        )
    seen[kind, device_id] = where
    return device


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


def _upstream_url(value: Any) -> str:
    url = urlsplit(_str(value))
    if url.scheme not in ("ws", "wss") or not url.hostname:
        raise ValueError(f"expected a ws:// or wss:// URL with a host, got {value!r}")
    if url.query or url.fragment:
        raise ValueError(
            f"the station id is appended to the path: no query or fragment, got {value!r}"
        )
    return url.geturl().rstrip("/")


def _relay(section: _Section, mode: str, sites: tuple[Site, ...]) -> RelaySettings:
    d = RelaySettings()
    tls = section.section("tls")

    def ca_file(value: Any) -> str:
        path = _str(value)
        if not Path(path).is_file():
            raise ValueError(f"no such file: {path!r}")
        return path

    def boolean(value: Any) -> bool:
        if not isinstance(value, bool):
            raise ValueError(f"expected true or false, got {value!r}")
        return value

    relay = RelaySettings(
        upstream_url=section.get("upstream_url", _upstream_url, ""),
        tls=RelayTls(
            ca_file=tls.get("ca_file", ca_file, None),
            insecure_skip_verify=tls.get("insecure_skip_verify", boolean, False),
        ),
        connect_timeout=section.get(
            "connect_timeout", _positive(parse_duration), d.connect_timeout
        ),
    )
    tls.finish()
    section.finish()
    if mode == "relay" and not relay.upstream_url:
        # Stations outside every site still need somewhere to go.
        raise section.fail("upstream_url", "required in relay mode (the CSMS websocket URL)")
    if mode != "relay" and any(site.upstream_url for site in sites):
        raise ConfigError(section.source, "mode", "sites set upstream_url: set mode: relay")
    return relay


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
    mode = root.get("mode", _choice(*MODES), "standalone")
    ocpp_section = root.section("ocpp")
    ocpp_security = parse_ocpp_security(
        ocpp_section.section("security"),
        frozenset(station for site in sites for station in site.stations),
        behind_proxy="trusted_proxies" in ocpp_section.data,
    )
    config = Config(
        source=source,
        ocpp_listen=ocpp_listen,
        metrics_listen=metrics_listen,
        ocpp=_ocpp(ocpp_section),
        limits=_limits(root.section("limits")),
        sites=sites,
        catalog_overrides=overrides,
        runbook_base_url=runbook_base_url,
        logging=log,
        state_dir=root.get("state_dir", _str, None),
        mode=mode,
        relay=_relay(root.section("relay"), mode, sites),
        ocpp_security=ocpp_security,
        web=parse_web(root.section("web")),
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
