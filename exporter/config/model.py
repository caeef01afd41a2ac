"""The configuration file -> frozen, validated dataclasses.

The file's shape is declared once, as the dataclasses below (a `Section` is a mapping in the
file); `exporter.yaml_reader` validates it and reports every problem as a ConfigError naming the
file, the line, the key path and what is wrong, so that `ocpp-exporter check-config` can be used
in CI before a rollout. Where the service wants the settings in another shape than the file
(`listen.ocpp` -> `Config.ocpp_listen`, a controller's token from the site), `build` does that
and checks the rules that span keys. `schema()` is the JSON Schema an editor validates with.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, Strict

from exporter import yaml_reader
from exporter.config.fields import (
    STATION_ID_RE,
    DeviceId,
    ExistingFile,
    HttpStatuses,
    HttpUrl,
    JsonPath,
    Listen,
    ListenAddress,
    Networks,
    StationId,
    TcpTarget,
    Watts,
    WsUrl,
    device_id,
    parse_listen,
    same_socket,
)
from exporter.config.security import (
    OcppSecurity,
    OcppSecuritySection,
    WebSection,
    WebSecurity,
    ocpp_security,
    web_security,
)
from exporter.knowledge.catalog import ENTRY_KEYS
from exporter.knowledge.severity import Severity
from exporter.knowledge.vendor_codes import (
    STANDARD_SCHEMES,
    OcppErrorCode,
    OperatorCatalog,
    Responsible,
    VendorCode,
)
from exporter.yaml_reader import (
    Document,
    DocumentError,
    DurationText,
    Flag,
    Loc,
    NonNegative,
    PositiveDuration,
    PositiveInt,
    RelativePath,
    Section,
    Steps,
    Text,
)

__all__ = ["STATION_ID_RE", "Listen", "parse_listen"]

#: Without `heartbeat_timeout`, a station is dead after this many heartbeat intervals of silence.
HEARTBEAT_TIMEOUT_INTERVALS = 3


DEFAULT_OCPP_LISTEN = Listen("0.0.0.0", 9000)
DEFAULT_METRICS_LISTEN = Listen("0.0.0.0", 9430)


class ConfigError(DocumentError):
    """A configuration problem, located by file, line and key path."""


@dataclass(frozen=True)
class OcppSettings(Section):
    path_prefix: Text = "/ocpp"
    heartbeat_interval: PositiveDuration = 60.0
    # No OCPP frame for this long means the station stopped talking even if TCP looks alive.
    heartbeat_timeout: PositiveDuration = 60.0 * HEARTBEAT_TIMEOUT_INTERVALS
    ping_interval: PositiveDuration = 30.0
    ping_timeout: PositiveDuration = 10.0
    call_timeout: PositiveDuration = 30.0
    # After a (re)connect the station gets this long to answer TriggerMessage(StatusNotification)
    # before errors it did not re-report are considered cleared.
    resync_window: PositiveDuration = 10.0
    max_frame_bytes: PositiveInt = 65536
    # Load balancers whose X-Forwarded-For and client-certificate header are believed
    # (endpoint/peer_identity.py); from any other peer those headers are ignored.
    trusted_proxies: Networks = ()
    client_cert_header: Text = "X-Client-Cert-CN"


@dataclass(frozen=True)
class Limits(Section):
    max_label_length: PositiveInt = 64
    max_connectors_per_station: PositiveInt = 32
    max_stations: PositiveInt = 100_000
    max_error_info_series: PositiveInt = 10_000
    # Per-station token bucket on inbound frames; 0 turns it off.
    max_messages_per_second: NonNegative = 50.0
    burst: PositiveInt = 200
    # Open station websockets; more are refused with HTTP 503 before the upgrade.
    max_connections: PositiveInt = 20_000
    # Forget a station that is not in the inventory once it has been disconnected this long
    # (None: never). For replicas behind a load balancer, where stations move (docs/scaling.md).
    forget_unknown_after: PositiveDuration | None = None


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
class PowerLimitSource(Section):
    """Where the EMS publishes its live power limit: a JSON document and the path to a number."""

    url: HttpUrl
    json_path: JsonPath
    interval: PositiveDuration = 30.0
    timeout: PositiveDuration = 5.0
    tls_verify: Flag = True


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
class CatalogOverride(Section):
    """`catalog.overrides.<key>`: what an operator changes in one catalog entry (None: keep)."""

    severity: Severity | None = None
    title: Text | None = None
    description: Text | None = None
    resolution: Steps | None = None
    runbook_url: Text | None = None
    alert_for: Annotated[DurationText | None, Field(alias="for")] = None


@dataclass(frozen=True)
class Logging(Section):
    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["text", "json"] = "text"


@dataclass(frozen=True)
class RelayTls(Section):
    """How the exporter verifies a wss:// upstream (the station's own TLS ends at the exporter)."""

    ca_file: ExistingFile | None = None
    insecure_skip_verify: Flag = False


@dataclass(frozen=True)
class RelaySettings(Section):
    """`mode: relay`: stations connect to the exporter, which opens a leg to their CSMS."""

    upstream_url: WsUrl = ""
    tls: RelayTls = field(default_factory=RelayTls)
    connect_timeout: PositiveDuration = 10.0


Mode = Literal["standalone", "relay"]


@dataclass(frozen=True)
class Config:
    source: str = "<embedded default>"
    ocpp_listen: Listen = DEFAULT_OCPP_LISTEN
    metrics_listen: Listen = DEFAULT_METRICS_LISTEN
    ocpp: OcppSettings = field(default_factory=OcppSettings)
    limits: Limits = field(default_factory=Limits)
    sites: tuple[Site, ...] = ()
    catalog_overrides: Mapping[str, CatalogOverride] = field(default_factory=dict)
    runbook_base_url: str = ""
    #: `catalog.vendor_catalogs`: the operator's own vendor codes.
    vendor_catalogs: tuple[OperatorCatalog, ...] = ()
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
    #: Key path -> line in the file, for problems found after reading (a certificate that
    #: does not load): they name the line too.
    lines: Mapping[str, int] = field(default_factory=dict, compare=False, repr=False)

    def located(self, error: ConfigError) -> ConfigError:
        """`error` with the line of its key in this configuration's file, if it has one."""
        line = self.lines.get(error.key) if error.source == self.source else None
        if error.line is not None or line is None:
            return error
        return ConfigError(error.source, error.key, error.problem, line)

    def site_of(self) -> Mapping[str, Site]:
        """Station id -> its configured site (built once: relay mode asks on every connect)."""
        return self._site_index

    @cached_property
    def _site_index(self) -> Mapping[str, Site]:
        return {station: site for site in self.sites for station in site.stations}


# -- the file's shape where it differs from the settings above -------------------------------


@dataclass(frozen=True)
class ListenSection(Section):
    # The schema shows the default as it is written, not as the dataclass it becomes.
    ocpp: Annotated[
        ListenAddress, Field(json_schema_extra={"default": str(DEFAULT_OCPP_LISTEN)})
    ] = DEFAULT_OCPP_LISTEN
    metrics: Annotated[
        ListenAddress, Field(json_schema_extra={"default": str(DEFAULT_METRICS_LISTEN)})
    ] = DEFAULT_METRICS_LISTEN


@dataclass(frozen=True)
class OcppSection(OcppSettings):
    # Unset: HEARTBEAT_TIMEOUT_INTERVALS times the interval, so that changing the interval
    # alone never leaves a timeout shorter than it.
    heartbeat_timeout: PositiveDuration | None = None  # type: ignore[assignment]
    security: OcppSecuritySection = field(default_factory=OcppSecuritySection)


@dataclass(frozen=True)
class ProbeSection(Section):
    type: Literal["tcp", "http"]
    target: TcpTarget | None = None
    url: HttpUrl | None = None
    interval: PositiveDuration = Probe.interval
    timeout: PositiveDuration = Probe.timeout
    expect_status: HttpStatuses | None = None
    tls_verify: Flag | None = None


@dataclass(frozen=True)
class DeviceSection(Section):
    id: DeviceId
    token: Text | None = None
    token_file: RelativePath | None = None
    stale_after: PositiveDuration = DEFAULT_STALE_AFTER
    probe: ProbeSection | None = None
    # An EMS only:
    fallback_limit_w: Watts | None = None
    power_limit: PowerLimitSource | None = None


def _device_ref(value: Any) -> Any:
    """A controller or EMS is a plain id (push heartbeats only) or a mapping with `id:`."""
    if value == "":
        return None
    if isinstance(value, str):
        return {"id": device_id(value)}
    if value is not None and not isinstance(value, dict):
        raise ValueError(f"expected an id or a mapping with id:, got {value!r}")
    return value


DeviceRef = Annotated[
    DeviceSection | None,
    BeforeValidator(_device_ref, json_schema_input_type=DeviceId | DeviceSection),
]


def _station_list(value: Any) -> Any:
    if not isinstance(value, list | tuple):
        raise ValueError(f"expected a list of station ids, got {value!r}")
    return value


@dataclass(frozen=True)
class SiteSection(Section):
    name: Text
    stations: Annotated[tuple[StationId, ...], BeforeValidator(_station_list)] = ()
    controller: DeviceRef = None
    ems: DeviceRef = None
    token: Text | None = None
    token_file: RelativePath | None = None
    upstream_url: WsUrl = ""


@dataclass(frozen=True)
class InventorySection(Section):
    sites: tuple[SiteSection, ...] = ()


#: A vendor catalog's name is its `scheme` label value and API field.
CATALOG_NAME_RE = r"^[a-z0-9][a-z0-9._-]{0,31}$"
CatalogName = Annotated[str, Strict(), Field(pattern=CATALOG_NAME_RE)]


@dataclass(frozen=True)
class VendorCodeSection(Section):
    """One code of an operator vendor catalog: an exact `code` (case-insensitive) or a
    `pattern` (a regular expression the whole code must match, case-insensitively)."""

    title: Text
    severity: Severity
    responsible: Annotated[tuple[Responsible, ...], Field(min_length=1)]
    description: Text
    resolution: Steps
    code: Text | None = None
    pattern: Text | None = None
    station_behaviour: Text = ""
    ocpp_error_code: OcppErrorCode = "OtherError"
    runbook_url: Text | None = None


@dataclass(frozen=True)
class VendorCodesFile(Section):
    """A file a vendor catalog names in `codes_file`: its `codes` list."""

    codes: tuple[VendorCodeSection, ...] = ()


@dataclass(frozen=True)
class VendorCatalogSection(Section):
    """`catalog.vendor_catalogs[]`: a manufacturer's codes, for the stations it applies to."""

    name: CatalogName
    vendor_id: Text = ""
    station_vendor: Text = ""
    model: Text = ""
    runbook_url: Text = ""
    codes: tuple[VendorCodeSection, ...] = ()
    codes_file: RelativePath | None = None


@dataclass(frozen=True)
class CatalogSection(Section):
    runbook_base_url: Text = ""
    overrides: dict[str, CatalogOverride] = field(default_factory=dict)
    vendor_catalogs: tuple[VendorCatalogSection, ...] = ()


@dataclass(frozen=True)
class ConfigFile(Section):
    """The whole file: `ocpp-exporter serve --config FILE`."""

    listen: ListenSection = field(default_factory=ListenSection)
    mode: Mode = "standalone"
    ocpp: OcppSection = field(default_factory=OcppSection)
    limits: Limits = field(default_factory=Limits)
    inventory: InventorySection = field(default_factory=InventorySection)
    relay: RelaySettings = field(default_factory=RelaySettings)
    web: WebSection = field(default_factory=WebSection)
    catalog: CatalogSection = field(default_factory=CatalogSection)
    logging: Logging = field(default_factory=Logging)
    state_dir: RelativePath | None = None


# -- from the file to the settings -----------------------------------------------------------


def build(doc: Document) -> Config:
    """Validate a loaded document and check the rules that span keys; ConfigError if not."""
    file: ConfigFile = doc.read(ConfigFile)
    sites = _sites(doc, file.inventory.sites)
    for key in file.catalog.overrides:
        if key not in ENTRY_KEYS:
            raise doc.error(
                ("catalog", "overrides", key), f"not in the catalog ({', '.join(ENTRY_KEYS)})"
            )
    if same_socket(file.listen.ocpp, file.listen.metrics):
        raise doc.error(
            ("listen", "metrics"),
            f"the same address as listen.ocpp ({file.listen.ocpp}): "
            f"each listener needs its own port",
        )
    if file.mode == "relay" and not file.relay.upstream_url:
        # Stations outside every site still need somewhere to go.
        raise doc.error(
            ("relay", "upstream_url"), "required in relay mode (the CSMS websocket URL)"
        )
    if file.mode != "relay" and any(site.upstream_url for site in sites):
        raise doc.error(("mode",), "sites set upstream_url: set mode: relay")
    return Config(
        source=doc.source,
        ocpp_listen=file.listen.ocpp,
        metrics_listen=file.listen.metrics,
        ocpp=_ocpp(doc, file.ocpp),
        limits=file.limits,
        sites=sites,
        catalog_overrides=file.catalog.overrides,
        runbook_base_url=file.catalog.runbook_base_url,
        vendor_catalogs=_vendor_catalogs(doc, file.catalog.vendor_catalogs),
        logging=file.logging,
        state_dir=file.state_dir,
        mode=file.mode,
        relay=file.relay,
        ocpp_security=ocpp_security(
            file.ocpp.security,
            frozenset(station for site in sites for station in site.stations),
            behind_proxy=bool(file.ocpp.trusted_proxies),
            doc=doc,
            at=("ocpp", "security"),
        ),
        web=web_security(file.web, doc, ("web",)),
        lines={yaml_reader.key_path(loc): line for loc, line in doc.lines.items()},
    )


def _vendor_catalogs(
    doc: Document, sections: tuple[VendorCatalogSection, ...]
) -> tuple[OperatorCatalog, ...]:
    """The operator's catalogs, with what one entry cannot check: a name used once and not a
    standard scheme's, exactly one of code or pattern, patterns that compile, no code twice."""
    catalogs: list[OperatorCatalog] = []
    for i, section in enumerate(sections):
        at: Loc = ("catalog", "vendor_catalogs", i)
        if section.name in STANDARD_SCHEMES:
            raise doc.error((*at, "name"), f"{section.name!r} is a standard scheme; choose another")
        if any(c.name == section.name for c in catalogs):
            raise doc.error((*at, "name"), f"{section.name!r} names an earlier catalog too")
        codes_doc, codes_at, codes = doc, (*at, "codes"), section.codes
        if section.codes_file is not None:
            if section.codes:
                raise doc.error((*at, "codes_file"), "give codes or codes_file, not both")
            codes_doc = yaml_reader.load(section.codes_file, ConfigError)
            codes, codes_at = codes_doc.read(VendorCodesFile).codes, ("codes",)
        if not codes:
            raise doc.error(at, "no codes: give codes or codes_file")
        exact: dict[str, VendorCode] = {}
        patterns: list[tuple[re.Pattern[str], VendorCode]] = []
        for j, entry in enumerate(codes):
            where = (*codes_at, j)
            if (entry.code is None) == (entry.pattern is None):
                raise codes_doc.error(where, "give exactly one of code or pattern")
            known = VendorCode(
                scheme=section.name,
                code=entry.code or entry.pattern or "",
                title=" ".join(entry.title.split()),
                severity=entry.severity,
                responsible=entry.responsible,
                description=" ".join(entry.description.split()),
                station_behaviour=" ".join(entry.station_behaviour.split()),
                resolution=tuple(" ".join(step.split()) for step in entry.resolution),
                ocpp_error_code=entry.ocpp_error_code,
                runbook_url=entry.runbook_url or section.runbook_url,
            )
            if entry.code is not None:
                key = entry.code.strip().upper()
                if key in exact:
                    raise codes_doc.error((*where, "code"), f"{entry.code!r} is listed twice")
                exact[key] = known
                continue
            try:
                patterns.append((re.compile(entry.pattern or "", re.IGNORECASE), known))
            except re.error as exc:
                raise codes_doc.error(
                    (*where, "pattern"), f"not a regular expression: {exc}"
                ) from None
        catalogs.append(
            OperatorCatalog(
                name=section.name,
                vendor_id=section.vendor_id,
                station_vendor=section.station_vendor,
                model=section.model,
                codes=exact,
                patterns=tuple(patterns),
            )
        )
    return tuple(catalogs)


def _ocpp(doc: Document, section: OcppSection) -> OcppSettings:
    if not section.path_prefix.startswith("/") or section.path_prefix.endswith("/"):
        raise doc.error(
            ("ocpp", "path_prefix"),
            f"must start with '/' and not end with '/', got {section.path_prefix!r}",
        )
    settings = {f.name: getattr(section, f.name) for f in fields(OcppSettings)}
    if section.heartbeat_timeout is None:
        settings["heartbeat_timeout"] = section.heartbeat_interval * HEARTBEAT_TIMEOUT_INTERVALS
    elif section.heartbeat_timeout <= section.heartbeat_interval:
        raise doc.error(
            ("ocpp", "heartbeat_timeout"),
            f"must be longer than heartbeat_interval ({section.heartbeat_interval:g}s), "
            f"or every healthy station would be disconnected",
        )
    return OcppSettings(**settings)


def _sites(doc: Document, sections: tuple[SiteSection, ...]) -> tuple[Site, ...]:
    sites: list[Site] = []
    seen_stations: dict[str, str] = {}
    seen_devices: dict[tuple[str, str], str] = {}
    for index, section in enumerate(sections):
        at: Loc = ("inventory", "sites", index)
        if not section.name:
            raise doc.error((*at, "name"), "every site needs a name")
        if any(site.name == section.name for site in sites):
            raise doc.error((*at, "name"), f"duplicate site name {section.name!r}")
        for pos, station in enumerate(section.stations):
            if station in seen_stations:
                raise doc.error(
                    (*at, "stations", pos),
                    f"station {station!r} is already listed in site {seen_stations[station]!r}",
                )
            seen_stations[station] = section.name
        site_token = _token(doc, at, section.token, section.token_file)
        devices = {
            kind: _device(doc, (*at, kind), kind, device, site_token)
            for kind, device in (("controller", section.controller), ("ems", section.ems))
        }
        for kind, device in devices.items():
            if device is None:
                continue
            where = yaml_reader.key_path((*at, kind))
            if (kind, device.id) in seen_devices:
                raise doc.error(
                    (*at, kind),
                    f"{kind} id {device.id!r} is already used by {seen_devices[kind, device.id]}",
                )
            seen_devices[kind, device.id] = where
        controller, ems = devices["controller"], devices["ems"]
        sites.append(
            Site(
                name=section.name,
                stations=section.stations,
                controller=controller.id if controller else "",
                ems=ems.id if ems else "",
                controller_device=controller,
                ems_device=ems,
                upstream_url=section.upstream_url,
            )
        )
    return tuple(sites)


def _token(doc: Document, at: Loc, token: str | None, token_file: str | None) -> str:
    """`token:` or `token_file:` (one line, surrounding whitespace ignored); "" when neither."""
    if token is not None and token_file is not None:
        raise doc.error((*at, "token_file"), "set either token or token_file, not both")
    if token_file is not None:
        try:
            token = Path(token_file).read_text(encoding="utf-8")
        except OSError as exc:
            raise doc.error(
                (*at, "token_file"), f"cannot read {token_file!r}: {exc.strerror or exc}"
            ) from None
        if not token.strip():
            raise doc.error((*at, "token_file"), f"{token_file!r} is empty")
    elif token is not None and not token.strip():
        raise doc.error((*at, "token"), "must not be empty")
    return (token or "").strip()


def _device(
    doc: Document, at: Loc, kind: str, section: DeviceSection | None, site_token: str
) -> Device | None:
    if section is None:
        return None
    if kind != "ems":
        for name in ("fallback_limit_w", "power_limit"):
            if getattr(section, name) is not None:
                raise doc.error((*at, name), "only for an ems")
    probe = _probe(doc, (*at, "probe"), section.probe) if section.probe else None
    power_limit = section.power_limit
    if power_limit is not None:
        _check_interval(doc, (*at, "power_limit"), power_limit.interval, power_limit.timeout)
    # A device is down after stale_after without a signal: shorter than the check interval
    # and it would flap between every two checks.
    for name, check in (("probe", probe), ("power_limit", power_limit)):
        if check and section.stale_after <= check.interval:
            raise doc.error(
                (*at, "stale_after"),
                f"must be longer than {name}.interval ({check.interval:g}s), "
                f"or the {kind} would count as down between two checks",
            )
    return Device(
        id=section.id,
        kind=kind,
        token=_token(doc, at, section.token, section.token_file) or site_token,
        stale_after=section.stale_after,
        probe=probe,
        fallback_limit_w=section.fallback_limit_w,
        power_limit=power_limit,
    )


def _probe(doc: Document, at: Loc, section: ProbeSection) -> Probe:
    if section.type == "tcp":
        for name in ("url", "expect_status", "tls_verify"):
            if getattr(section, name) is not None:
                raise doc.error((*at, name), "only for probes of type http")
        if section.target is None:
            raise doc.error((*at, "target"), "a tcp probe needs target: HOST:PORT")
        target = section.target
    else:
        if section.target is not None:
            raise doc.error((*at, "target"), "an http probe takes url:, not target:")
        if section.url is None:
            raise doc.error((*at, "url"), "an http probe needs url: http(s)://...")
        target = section.url
    _check_interval(doc, at, section.interval, section.timeout)
    return Probe(
        type=section.type,
        target=target,
        interval=section.interval,
        timeout=section.timeout,
        expect_status=section.expect_status or Probe.expect_status,
        tls_verify=Probe.tls_verify if section.tls_verify is None else section.tls_verify,
    )


def _check_interval(doc: Document, at: Loc, interval: float, timeout: float) -> None:
    if timeout > interval:
        raise doc.error(
            (*at, "timeout"),
            f"must not be longer than interval ({interval:g}s), or checks would overlap",
        )


# -- entry points ----------------------------------------------------------------------------


def parse(data: Any, source: str) -> Config:
    """Validate an already loaded document (no line numbers); raises ConfigError."""
    return build(Document(source, data, error_type=ConfigError))


def load(path: str | Path) -> Config:
    """Read and validate a configuration file; raises ConfigError naming file, line and key."""
    return build(yaml_reader.load(path, ConfigError))


def default() -> Config:
    """The embedded default: any station may connect, no auth, nothing written to disk."""
    return Config()


def schema() -> dict[str, Any]:
    """The JSON Schema of the file (docs/exporter.schema.json), for editors."""
    return {
        # Draft 7: what editors' YAML language servers know best; $defs are plain pointers.
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": "ocpp-exporter configuration",
        **yaml_reader.json_schema(ConfigFile),
    }
