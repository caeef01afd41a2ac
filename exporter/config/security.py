"""Configuration of who may connect and how: the OCPP security profile, station credentials, the
policy for unknown station ids, and TLS / Basic auth on the metrics listener.

Kept apart from config.py so that the security keys have one home; config.py calls the two
`parse_*` functions with its own `_Section` reader, so errors still name file, key and problem.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from exporter.config.model import _Section

PROFILES = (0, 1, 2, 3)
UNKNOWN_POLICIES = ("reject", "admit")
CLIENT_AUTH_TYPES = ("NoClientCert", "RequireAndVerifyClientCert")
# scrypt$N$r$p$salt$hash (base64 without padding), as written by `ocpp-exporter hash-password`.
HASH_RE = re.compile(r"^scrypt\$\d+\$\d+\$\d+\$[A-Za-z0-9+/]+={0,2}\$[A-Za-z0-9+/]+={0,2}$")


@dataclass(frozen=True)
class TlsFiles:
    cert_file: str
    key_file: str
    client_ca_file: str = ""
    # Only the metrics side lets the operator choose; profile 3 always requires a client cert.
    client_auth_type: str = "NoClientCert"


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


def _password_hash(value: Any) -> str:
    if not isinstance(value, str) or not HASH_RE.match(value):
        raise ValueError(
            "expected a hash written by `ocpp-exporter hash-password` (scrypt$...), "
            "never a plain password"
        )
    n = int(value.split("$")[1])
    if n < 2 or n & (n - 1):
        # hashlib.scrypt would refuse it at every login (an HTTP 500), so refuse it here.
        raise ValueError(f"the scrypt cost N must be a power of two above 1, got {n}")
    return value


def _file(base: Path | None) -> Any:
    def check(value: Any) -> str:
        if not isinstance(value, str) or not value:
            raise ValueError(f"expected a file path, got {value!r}")
        path = Path(value)
        if not path.is_absolute() and base is not None:
            path = base / path
        if not path.is_file():
            raise ValueError(f"file {str(path)!r} does not exist or is not a file")
        return str(path)

    return check


def _base_dir(source: str) -> Path | None:
    # Relative paths are relative to the config file, as in Prometheus.
    if source.startswith("<"):
        return None
    return Path(source).resolve().parent


def _tls(section: _Section, allow_client_auth_type: bool) -> TlsFiles | None:
    if not section.data:
        section.finish()
        return None
    # A misspelt key is the likelier problem than a missing one: report it first.
    section.used.update({"cert_file", "key_file", "client_ca_file"})
    if allow_client_auth_type:
        section.used.add("client_auth_type")
    section.finish()
    file = _file(_base_dir(section.source))
    cert = section.get("cert_file", file, "")
    key = section.get("key_file", file, "")
    if not cert:
        raise section.fail("cert_file", "TLS needs a certificate file")
    if not key:
        raise section.fail("key_file", "TLS needs a private key file")
    ca = section.get("client_ca_file", file, "")
    auth_type = "NoClientCert"
    if allow_client_auth_type:
        auth_type = section.get("client_auth_type", _one_of(CLIENT_AUTH_TYPES), auth_type)
        if auth_type != "NoClientCert" and not ca:
            raise section.fail("client_ca_file", f"client_auth_type {auth_type} needs a CA file")
    section.finish()
    return TlsFiles(cert, key, ca, auth_type)


def _one_of(choices: tuple[Any, ...]) -> Any:
    def check(value: Any) -> Any:
        if isinstance(value, bool) or value not in choices:
            raise ValueError(f"expected one of {', '.join(map(str, choices))}, got {value!r}")
        return value

    return check


def _count(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"expected a whole number >= 0, got {value!r}")
    return value


def parse_ocpp_security(
    section: _Section, inventory: frozenset[str], behind_proxy: bool = False
) -> OcppSecurity:
    from exporter.config.model import _station_id  # the one definition of a valid station id

    profile = section.get("profile", _one_of(PROFILES), 0)
    policy = section.get("unknown_stations", _one_of(UNKNOWN_POLICIES), None)
    cap = section.get("max_unknown_stations", _count, None)
    tls = _tls(section.section("tls"), allow_client_auth_type=False)
    unknown_password = section.get("unknown_station_password_hash", _password_hash, "")
    stations = section.section("stations")
    passwords: dict[str, str] = {}
    for station in list(stations.data):
        try:
            _station_id(station)
        except ValueError as exc:
            raise stations.fail(str(station), str(exc)) from None
        entry = stations.section(station)
        passwords[station] = entry.get("password_hash", _password_hash, "")
        if not passwords[station]:
            raise entry.fail("password_hash", "every listed station needs a password_hash")
        entry.finish()
    section.finish()
    # Behind a TLS-terminating proxy (ocpp.trusted_proxies) profile 3 reads the verified client
    # certificate's CN from the proxy's header instead; the exporter needs no TLS of its own.
    if profile in (2, 3) and tls is None and not (profile == 3 and behind_proxy):
        raise section.fail("tls", f"profile {profile} needs tls.cert_file and tls.key_file")
    if profile == 3 and tls is not None and not tls.client_ca_file and not behind_proxy:
        raise section.fail(
            "tls.client_ca_file", "profile 3 needs the CA that signs the station certificates"
        )
    if profile == 0 and passwords:
        raise section.fail(
            "profile", "station passwords are set but profile 0 does not check them; use 1 or 2"
        )
    if policy is None:
        # Without authentication (profile 0) any station can claim an inventory id, so refusing
        # the others protects nothing and would hide misconfigured stations (they show as
        # site="unassigned" instead). Once stations authenticate, the inventory is the list of
        # who belongs.
        policy = "reject" if profile > 0 and (inventory or passwords) else "admit"
    return OcppSecurity(profile, policy, cap, tls, passwords, unknown_password)


def parse_web(section: _Section) -> WebSecurity:
    tls = _tls(section.section("tls_server_config"), allow_client_auth_type=True)
    users_section = section.section("basic_auth_users")
    users = {}
    for user in list(users_section.data):
        if not isinstance(user, str) or not user or ":" in user:
            raise users_section.fail(str(user), "user names are non-empty and contain no ':'")
        users[user] = users_section.get(user, _password_hash, "")
    users_section.finish()
    section.finish()
    return WebSecurity(tls, users)
