"""Configuration of who may connect and how: the OCPP security profile, station credentials, the
policy for unknown station ids, and TLS / Basic auth on the metrics listener.

The `*Section` classes are the shape of `ocpp.security:` and `web:` in the file; `model.py`
validates them with the rest of the file and calls `ocpp_security` / `web_security` for the rules
that span keys and for the settings the service uses.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import PlainValidator, WithJsonSchema

from exporter.config.fields import ExistingFile, PasswordHash, StationId
from exporter.yaml_reader import Count, Document, Loc, NoBool, Section


@dataclass(frozen=True)
class TlsFiles:
    cert_file: str
    key_file: str
    client_ca_file: str = ""
    # Only the metrics side lets the operator choose; profile 3 always requires a client cert.
    client_auth_type: str = "NoClientCert"
    # A second certificate of the other key type (RSA next to ECDSA): OCPP's TLS 1.2 suites need
    # both, since an ECDSA certificate serves only the ECDHE-ECDSA suites and an RSA one the rest.
    extra_cert_file: str = ""
    extra_key_file: str = ""


@dataclass(frozen=True)
class OcppSecurity:
    """ocpp.security: profile 0 = no authentication (trusted network only), 1 = Basic auth,
    2 = TLS + Basic auth, 3 = TLS with client certificates (CN = station id)."""

    profile: int = 0
    # None: "reject" under profiles 1-3 when the inventory lists stations or credentials
    # exist, else "admit".
    unknown_stations: str | None = None
    # None: bounded only by limits.max_stations.
    max_unknown_stations: int | None = None
    tls: TlsFiles | None = None
    # station id -> password hash (profiles 1 and 2)
    passwords: Mapping[str, str] = field(default_factory=dict)
    # Optional shared password for stations admitted by the "admit" policy under profile 1/2.
    unknown_password_hash: str = ""


@dataclass(frozen=True)
class WebSecurity:
    """web: the metrics listener, shaped like Prometheus exporter-toolkit's web config."""

    tls: TlsFiles | None = None
    basic_auth_users: Mapping[str, str] = field(default_factory=dict)


# -- the file's shape ------------------------------------------------------------------------


@dataclass(frozen=True)
class TlsSection(Section):
    cert_file: ExistingFile
    key_file: ExistingFile
    client_ca_file: ExistingFile = ""
    extra_cert_file: ExistingFile = ""
    extra_key_file: ExistingFile = ""

    def files(self, client_auth_type: str = "NoClientCert") -> TlsFiles:
        return TlsFiles(
            self.cert_file,
            self.key_file,
            self.client_ca_file,
            client_auth_type,
            self.extra_cert_file,
            self.extra_key_file,
        )

    def check_extra(self, doc: Document, at: Loc) -> None:
        """The extra certificate (the other key type) comes with its key, or not at all."""
        if bool(self.extra_cert_file) != bool(self.extra_key_file):
            missing = "extra_key_file" if self.extra_cert_file else "extra_cert_file"
            raise doc.error(
                (*at, missing),
                "the extra certificate needs both extra_cert_file and extra_key_file",
            )


@dataclass(frozen=True)
class WebTlsSection(TlsSection):
    client_auth_type: Literal["NoClientCert", "RequireAndVerifyClientCert"] = "NoClientCert"


@dataclass(frozen=True)
class StationCredentials(Section):
    password_hash: PasswordHash


@dataclass(frozen=True)
class OcppSecuritySection(Section):
    profile: Annotated[Literal[0, 1, 2, 3], NoBool] = 0
    unknown_stations: Literal["reject", "admit"] | None = None
    max_unknown_stations: Count | None = None
    tls: TlsSection | None = None
    unknown_station_password_hash: PasswordHash = ""
    stations: dict[StationId, StationCredentials] = field(default_factory=dict)


def _user_name(value: Any) -> str:
    if not isinstance(value, str) or not value or ":" in value:
        raise ValueError("user names are non-empty and contain no ':'")
    return value


UserName = Annotated[
    str, PlainValidator(_user_name), WithJsonSchema({"type": "string", "pattern": "^[^:]+$"})
]


@dataclass(frozen=True)
class WebSection(Section):
    tls_server_config: WebTlsSection | None = None
    basic_auth_users: dict[UserName, PasswordHash] = field(default_factory=dict)


# -- rules across keys -----------------------------------------------------------------------


def ocpp_security(
    section: OcppSecuritySection,
    inventory: frozenset[str],
    behind_proxy: bool,
    doc: Document,
    at: Loc,
) -> OcppSecurity:
    profile, tls = section.profile, section.tls
    passwords = {station: entry.password_hash for station, entry in section.stations.items()}
    # Behind a TLS-terminating proxy (ocpp.trusted_proxies) profile 3 reads the verified client
    # certificate's CN from the proxy's header instead; the exporter needs no TLS of its own.
    if profile in (2, 3) and tls is None and not (profile == 3 and behind_proxy):
        raise doc.error((*at, "tls"), f"profile {profile} needs tls.cert_file and tls.key_file")
    if tls is not None:
        tls.check_extra(doc, (*at, "tls"))
    if profile == 3 and tls is not None and not tls.client_ca_file and not behind_proxy:
        raise doc.error(
            (*at, "tls", "client_ca_file"),
            "profile 3 needs the CA that signs the station certificates",
        )
    if profile == 0 and passwords:
        raise doc.error(
            (*at, "profile"),
            "station passwords are set but profile 0 does not check them; use 1 or 2",
        )
    policy = section.unknown_stations
    if policy is None:
        # Without authentication (profile 0) any station can claim an inventory id, so refusing
        # the others protects nothing and would hide misconfigured stations (they show as
        # site="unassigned" instead). Once stations authenticate, the inventory is the list of
        # who belongs.
        policy = "reject" if profile > 0 and (inventory or passwords) else "admit"
    return OcppSecurity(
        profile=profile,
        unknown_stations=policy,
        max_unknown_stations=section.max_unknown_stations,
        tls=tls.files() if tls else None,
        passwords=passwords,
        unknown_password_hash=section.unknown_station_password_hash,
    )


def web_security(section: WebSection, doc: Document, at: Loc) -> WebSecurity:
    tls = section.tls_server_config
    if tls is not None:
        tls.check_extra(doc, (*at, "tls_server_config"))
    if tls is not None and tls.client_auth_type != "NoClientCert" and not tls.client_ca_file:
        raise doc.error(
            (*at, "tls_server_config", "client_ca_file"),
            f"client_auth_type {tls.client_auth_type} needs a CA file",
        )
    return WebSecurity(
        tls=tls.files(tls.client_auth_type) if tls else None,
        basic_auth_users=dict(section.basic_auth_users),
    )
