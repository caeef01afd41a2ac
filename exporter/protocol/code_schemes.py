"""Which standard or operator code a station's error message carries. Pure: no I/O.

OCPP 1.6: the `vendorId` names the scheme (ChargeX, EVgo, CharIN UEC); an unknown `vendorId` is
not a scheme (EVerest puts the error's free text there). EVgo sends several codes at once,
comma-separated, with their readings paired by position in `info`. EVerest with
ReportClearedErrors clears a code with `info: "<code> resolved"`.

OCPP 2.x has no `vendorId`: the shape of `techCode` tells the scheme (`CX0nn`; EVerest's
unmapped `.../MREC<n>...` types; a UEC name).

Operator catalogs (configuration `vendor_catalogs`) are tried first, so that an operator can give
their own text and runbook to any code their stations send. Every match is case-insensitive, as
OCPP's CiString fields are.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from exporter.knowledge.vendor_codes import (
    CHARGEX,
    CHARIN_UEC,
    MAX_COMPOUND_CODES,
    CodeBook,
    VendorCode,
)

#: techCode and vendorErrorCode are CiString50.
MAX_CODE_LENGTH = 50
#: Separators of compound codes: EVgo uses commas; EVerest's docs say ChargeX uses semicolons.
_SEPARATORS = re.compile(r"[,;]")
_CHARGEX_CODE = re.compile(r"CX0\d\d", re.IGNORECASE)
#: EVerest's 2.x fallback: the unmapped error type, e.g. `evse_manager/MREC9AuthorizationTimeout`.
_EVEREST_MREC = re.compile(r"(?:^|/)MREC(\d{1,2})(?!\d)", re.IGNORECASE)
#: EVerest ReportClearedErrors: `"CX014 resolved"` (its pull request text says "Error CX014 ...").
_RESOLVED = re.compile(r"(?:error\s+)?(\S+)\s+resolved", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Recognised:
    """What a message says in a known scheme."""

    scheme: str
    #: The codes as the knowledge base spells them (operator catalogs: as the station sent them).
    codes: tuple[str, ...]
    #: Per code, the reading the station paired with it ("" when none).
    readings: tuple[str, ...]
    #: The OCPP error code the first code implies (what a 2.x techCode is recorded as).
    implied_error_code: str
    #: EVerest's "<code> resolved": the codes are cleared, not raised.
    resolved: bool = False
    #: Codes beyond MAX_COMPOUND_CODES that were dropped.
    dropped: int = 0


@dataclass(frozen=True, slots=True)
class Station:
    """What a catalog may be restricted to: the BootNotification's vendor and model."""

    vendor: str = ""
    model: str = ""


def _operator_entry(
    book: CodeBook, code: str, vendor_id: str, station: Station | None
) -> tuple[str, VendorCode] | None:
    station = station or Station()
    for catalog in book.operator:
        if catalog.applies(vendor_id, station.vendor, station.model):
            entry = catalog.find(code)
            if entry is not None:
                return catalog.name, entry
    return None


def _split(text: str) -> list[str]:
    return [part.strip() for part in _SEPARATORS.split(text)]


def recognise_v16(
    book: CodeBook,
    vendor_id: str,
    vendor_error_code: str,
    info: str,
    station: Station | None = None,
) -> Recognised | None:
    """A 1.6 StatusNotification's vendorId / vendorErrorCode / info, or None if no known code."""
    if not vendor_error_code.strip():
        return None
    resolved = False
    readings_text = info
    match = _RESOLVED.fullmatch(info.strip())
    if match and match.group(1).casefold() == vendor_error_code.strip().casefold():
        resolved, readings_text = True, ""
    parts = _split(vendor_error_code)
    readings = _split(readings_text) if len(parts) > 1 else [readings_text.strip()]
    readings += [""] * (len(parts) - len(readings))
    scheme = book.scheme_for_vendor_id(vendor_id)
    found: list[tuple[str, str, str]] = []  # (scheme, code, reading)
    dropped = 0
    for part, reading in zip(parts, readings, strict=False):
        if not part or len(part) > MAX_CODE_LENGTH:
            # vendorErrorCode is a CiString50: a longer part is no code (and an operator's
            # pattern never runs over a station's arbitrarily long text).
            continue
        if len(found) == MAX_COMPOUND_CODES:
            dropped += 1
            continue
        operator = _operator_entry(book, part, vendor_id, station)
        if operator is not None:
            found.append((operator[0], part, reading))
            continue
        entry = scheme.find(part) if scheme is not None else None
        if entry is not None:
            found.append((entry.scheme, entry.code, reading))
    if not found:
        return None
    # One message is one scheme: codes of another scheme than the first one's are left out.
    first = found[0][0]
    kept = [(code, reading) for name, code, reading in found if name == first]
    implied = book.entry(first, kept[0][0])
    return Recognised(
        scheme=first,
        codes=tuple(code for code, _ in kept),
        readings=tuple(reading for _, reading in kept),
        implied_error_code=implied.ocpp_error_code if implied else "OtherError",
        resolved=resolved,
        dropped=dropped,
    )


def reading(actual_value: object) -> str:
    """A 2.x actualValue as a reading: measured values are kept, boolean flags are not."""
    text = str(actual_value).strip()
    return "" if text.casefold() in ("true", "false", "") else text


def source_key(component: dict[str, Any], recognised: Recognised) -> str:
    """Raise and clear of a scheme code pair on component, EVSE and code, not on the variable
    (INL's examples and EVerest's events name different variables for the same code); the EVSE
    is the connector the source is filed under."""
    instance = component.get("instance")
    name = f"{component['name']}[{instance}]" if instance else str(component["name"])
    return f"{name}#{recognised.scheme}:{recognised.codes[0]}".lower()


def recognise_v201(
    book: CodeBook, tech_code: str, reading: str = "", station: Station | None = None
) -> Recognised | None:
    """A 2.x event's techCode, or None if it is no known code."""
    tech_code = tech_code.strip()
    if not tech_code or len(tech_code) > MAX_CODE_LENGTH:
        return None
    operator = _operator_entry(book, tech_code, "", station)
    if operator is not None:
        name, known = operator
        return Recognised(name, (tech_code,), (reading,), known.ocpp_error_code)
    candidate: tuple[str, str] | None = None
    if _CHARGEX_CODE.fullmatch(tech_code):
        candidate = (CHARGEX, tech_code)
    elif (mrec := _EVEREST_MREC.search(tech_code)) is not None:
        candidate = (CHARGEX, f"CX{int(mrec.group(1)):03d}")
    else:
        candidate = (CHARIN_UEC, tech_code)
    code = book.entry(*candidate)
    if code is None:
        return None
    return Recognised(code.scheme, (code.code,), (reading,), code.ocpp_error_code)
