"""The value types of the configuration file: what a station id, a listen address, a network, a
URL or a password hash must look like. Each checks its value, says in the message what it
expected, and describes itself in the JSON Schema.

Pure (no network library): the station-side code imports these, not the other way round.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import PlainValidator, ValidationInfo, WithJsonSchema

from exporter.yaml_reader import relative_to_document

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Printable, no '/', 1 to 48 characters; always used with fullmatch (a `$` would let a trailing
# newline through, and ids end up in labels and log lines).
STATION_ID_RE = re.compile(r"[^/\x00-\x1f\x7f]{1,48}")
# scrypt$N$r$p$salt$hash (base64 without padding), as written by `ocpp-exporter hash-password`.
HASH_RE = re.compile(r"^scrypt\$\d+\$\d+\$\d+\$[A-Za-z0-9+/]+={0,2}\$[A-Za-z0-9+/]+={0,2}$")
_ID_SCHEMA = {"type": "string", "pattern": r"^[^/\u0000-\u001f\u007f]{1,48}$"}


@dataclass(frozen=True)
class Listen:
    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


def parse_listen(value: Any) -> Listen:
    text = str(value)
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"expected HOST:PORT with a port from 0 to 65535, got {text!r}")
    return Listen(host.strip("[]") or "0.0.0.0", int(port))


def same_socket(a: Listen, b: Listen) -> bool:
    """Would two listeners fight over one socket? Same port (0 picks a free one each time), and
    the same host or a wildcard that covers the other (`::` covers IPv4 too, as Linux binds it
    dual-stack)."""
    if a.port != b.port or a.port == 0:
        return False
    hosts = {a.host, b.host}
    if a.host == b.host or "::" in hosts:
        return True
    return "0.0.0.0" in hosts and not any(":" in host for host in hosts)


def parse_networks(values: object) -> tuple[IPNetwork, ...]:
    """['10.0.0.0/8', '127.0.0.1'] -> networks; raises ValueError naming the bad entry."""
    if not isinstance(values, list | tuple):
        raise ValueError("expected a list of addresses or CIDR networks")
    networks: list[IPNetwork] = []
    for value in values:
        try:
            networks.append(ipaddress.ip_network(str(value), strict=False))
        except ValueError:
            raise ValueError(f"not an IP address or CIDR network: {value!r}") from None
    return tuple(networks)


def station_id(value: Any) -> str:
    if not isinstance(value, str) or not STATION_ID_RE.fullmatch(value):
        raise ValueError(f"station ids are 1 to 48 printable characters without '/', got {value!r}")
    return value


def device_id(value: Any) -> str:
    # The id is a URL path segment of the push API and a label value.
    if not isinstance(value, str) or not STATION_ID_RE.fullmatch(value):
        raise ValueError(f"device ids are 1 to 48 characters without '/', got {value!r}")
    return value


def password_hash(value: Any) -> str:
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


def _http_url(value: Any) -> str:
    text = value if isinstance(value, str) else ""
    scheme, sep, rest = text.partition("://")
    if not sep or scheme not in ("http", "https") or not rest.split("/", 1)[0]:
        raise ValueError(f"expected an http:// or https:// URL with a host, got {value!r}")
    return text


def _ws_url(value: Any) -> str:
    url = urlsplit(value if isinstance(value, str) else "")
    if url.scheme not in ("ws", "wss") or not url.hostname:
        raise ValueError(f"expected a ws:// or wss:// URL with a host, got {value!r}")
    if url.query or url.fragment:
        raise ValueError(
            f"the station id is appended to the path: no query or fragment, got {value!r}"
        )
    return url.geturl().rstrip("/")


def _tcp_target(value: Any) -> str:
    text = value if isinstance(value, str) else ""
    host, sep, port = text.rpartition(":")
    if not sep or not host.strip("[]") or not port.isdigit() or not 0 < int(port) <= 65535:
        raise ValueError(f"expected HOST:PORT with a port from 1 to 65535, got {value!r}")
    return text


def _statuses(value: Any) -> tuple[int, ...]:
    values = value if isinstance(value, list) else [value]
    if not values or not all(
        isinstance(v, int) and not isinstance(v, bool) and 100 <= v <= 599 for v in values
    ):
        raise ValueError(f"expected an HTTP status (100-599) or a list of them, got {value!r}")
    return tuple(values)


def _json_path(value: Any) -> str:
    text = value if isinstance(value, str) else ""
    if not text or any(not part for part in text.split(".")):
        raise ValueError(f"expected a dotted path like 'site.limit_w' or 'data.0.w', got {value!r}")
    return text


def _watts(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ValueError(f"expected a number of watts (0 or more), got {value!r}")
    return float(value)


def _existing_file(value: Any, info: ValidationInfo) -> str:
    path = Path(relative_to_document(value, info))
    if not path.is_file():
        raise ValueError(f"file {str(path)!r} does not exist or is not a file")
    return str(path)


ListenAddress = Annotated[
    Listen,
    PlainValidator(parse_listen),
    WithJsonSchema({"type": "string", "pattern": r"^(\[[0-9A-Fa-f:.]+\]|[^:]*):\d{1,5}$"}),
]
Networks = Annotated[
    tuple[IPNetwork, ...],
    PlainValidator(parse_networks),
    WithJsonSchema({"type": "array", "items": {"type": "string"}}),
]
StationId = Annotated[str, PlainValidator(station_id), WithJsonSchema(_ID_SCHEMA)]
DeviceId = Annotated[str, PlainValidator(device_id), WithJsonSchema(_ID_SCHEMA)]
PasswordHash = Annotated[
    str,
    PlainValidator(password_hash),
    WithJsonSchema({"type": "string", "pattern": HASH_RE.pattern}),
]
HttpUrl = Annotated[
    str, PlainValidator(_http_url), WithJsonSchema({"type": "string", "pattern": "^https?://"})
]
WsUrl = Annotated[
    str, PlainValidator(_ws_url), WithJsonSchema({"type": "string", "pattern": "^wss?://"})
]
TcpTarget = Annotated[
    str, PlainValidator(_tcp_target), WithJsonSchema({"type": "string", "pattern": r":\d+$"})
]
HttpStatuses = Annotated[
    tuple[int, ...],
    PlainValidator(_statuses),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "integer", "minimum": 100, "maximum": 599},
                {"type": "array", "items": {"type": "integer", "minimum": 100, "maximum": 599}},
            ]
        }
    ),
]
JsonPath = Annotated[str, PlainValidator(_json_path), WithJsonSchema({"type": "string"})]
Watts = Annotated[float, PlainValidator(_watts), WithJsonSchema({"type": "number", "minimum": 0})]
#: A file that must exist; relative to the configuration file's folder.
ExistingFile = Annotated[
    str, PlainValidator(_existing_file), WithJsonSchema({"type": "string", "minLength": 1})
]
