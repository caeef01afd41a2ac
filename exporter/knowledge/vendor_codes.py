"""Standard and operator error-code schemes: what a code means, what to do, who must act.

Stations send precise codes on top of the OCPP error code (ChargeX `CX014`, EVgo `F002`, CharIN
UEC `PowerModuleFault`, or a manufacturer's `E-0417`). This module holds their text, loaded from
vendor_codes.yaml (the standard schemes) and from the operator's configuration (vendor catalogs).
Recognising a code in a message is `exporter.protocol.code_schemes`; this module only knows codes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Annotated, Any, Literal, get_args

from pydantic import Field, PlainValidator, WithJsonSchema

from exporter import yaml_reader
from exporter.knowledge.ocpp_enums import NO_ERROR, OCPP16_ERROR_CODES
from exporter.knowledge.severity import Severity
from exporter.yaml_reader import Document, DocumentError, Section, Steps, Text

CHARGEX = "chargex"
EVGO = "evgo"
CHARIN_UEC = "charin-uec"
STANDARD_SCHEMES = (CHARGEX, EVGO, CHARIN_UEC)

#: Who must act, in the order the knowledge base lists them (the first one acts first).
Responsible = Literal["ev_driver", "operator", "maintenance", "vehicle"]
RESPONSIBLE: tuple[str, ...] = get_args(Responsible)
#: A code whose first responsible party is one of these may page; the others never do
#: (alerting/alertmanager.yml routes on the first entry of the `responsible` label).
PAGING_RESPONSIBLE = ("operator", "maintenance")
#: The Alertmanager matcher of the alerts that never page: the first party is not in
#: PAGING_RESPONSIBLE (a unit test holds alerting/alertmanager.yml to it).
NEVER_PAGES_MATCHER = (
    'responsible=~"(' + "|".join(r for r in RESPONSIBLE if r not in PAGING_RESPONSIBLE) + ')(,.*)?"'
)

#: Codes kept from one compound `vendorErrorCode`; more are dropped (and counted), so a station
#: cannot make one message into unbounded notifications and series.
MAX_COMPOUND_CODES = 8

#: OCPP 1.6 error codes a vendor code may imply (NoError excluded).
OCPP_ERROR_CODES = frozenset(OCPP16_ERROR_CODES) - {NO_ERROR}


class VendorCodesError(DocumentError):
    """The packaged vendor_codes.yaml is broken (a bug in the release, not in user input)."""


def _ocpp_error_code(value: Any) -> str:
    if value not in OCPP_ERROR_CODES:
        raise ValueError(f"expected an OCPP 1.6 error code other than NoError, got {value!r}")
    return str(value)


#: The OCPP 1.6 error code a vendor code is sent with (packaged schemes and operator catalogs).
OcppErrorCode = Annotated[
    str,
    PlainValidator(_ocpp_error_code),
    WithJsonSchema({"enum": sorted(OCPP_ERROR_CODES)}),
]


@dataclass(frozen=True)
class VendorCode:
    scheme: str
    #: The code as the scheme spells it (`CX014`), or an operator catalog's pattern.
    code: str
    title: str
    severity: str
    responsible: tuple[str, ...]
    description: str
    station_behaviour: str
    resolution: tuple[str, ...]
    ocpp_error_code: str
    runbook_url: str = ""
    #: The scheme's own name for the code (ChargeX `PilotFault`), if it has one.
    name: str = ""
    #: What the reading in `info` is, for codes that carry one (EVgo).
    reading: str = ""

    def resolution_text(self) -> str:
        """Numbered steps on one string, as labels and annotations carry them."""
        return "\n".join(f"{n}. {step}" for n, step in enumerate(self.resolution, 1))

    def responsible_text(self) -> str:
        """The label value: parties in order, comma-separated (routing looks at the first)."""
        return ",".join(self.responsible)

    def pages(self) -> bool:
        return self.responsible[0] in PAGING_RESPONSIBLE


@dataclass(frozen=True)
class Scheme:
    name: str
    title: str
    url: str
    #: OCPP 1.6 `vendorId` values that announce the scheme, lower case.
    vendor_ids: tuple[str, ...]
    #: Upper-case code -> entry (codes are CiStrings: matched case-insensitively).
    codes: Mapping[str, VendorCode]

    def find(self, code: str) -> VendorCode | None:
        return self.codes.get(code.strip().upper())


@dataclass(frozen=True)
class OperatorCatalog:
    """An operator's own codes for some stations (configuration `vendor_catalogs`)."""

    name: str
    #: Empty matches any; else compared case-insensitively with the 1.6 `vendorId`.
    vendor_id: str = ""
    #: Empty matches any; else compared case-insensitively with the BootNotification's vendor.
    station_vendor: str = ""
    #: Empty matches any; else compared case-insensitively with the BootNotification's model.
    model: str = ""
    codes: Mapping[str, VendorCode] = field(default_factory=dict)
    patterns: tuple[tuple[re.Pattern[str], VendorCode], ...] = ()

    def applies(self, vendor_id: str, station_vendor: str, model: str) -> bool:
        return all(
            not want or want.casefold() == have.strip().casefold()
            for want, have in (
                (self.vendor_id, vendor_id),
                (self.station_vendor, station_vendor),
                (self.model, model),
            )
        )

    def find(self, code: str) -> VendorCode | None:
        code = code.strip()
        exact = self.codes.get(code.upper())
        if exact is not None:
            return exact
        return next((entry for pattern, entry in self.patterns if pattern.fullmatch(code)), None)

    def entries(self) -> Iterator[VendorCode]:
        yield from self.codes.values()
        yield from (entry for _, entry in self.patterns)


@dataclass(frozen=True)
class CodeBook:
    schemes: Mapping[str, Scheme] = field(default_factory=dict)
    operator: tuple[OperatorCatalog, ...] = ()

    def scheme_for_vendor_id(self, vendor_id: str) -> Scheme | None:
        wanted = vendor_id.strip().casefold()
        return next((s for s in self.schemes.values() if wanted in s.vendor_ids), None)

    def entry(self, scheme: str, code: str) -> VendorCode | None:
        """The text for a code recorded under `scheme` (a standard scheme or a catalog name)."""
        standard = self.schemes.get(scheme)
        if standard is not None:
            return standard.find(code)
        for catalog in self.operator:
            if catalog.name == scheme:
                found = catalog.find(code)
                if found is not None:
                    return found
        return None

    def entries(self) -> Iterator[VendorCode]:
        """Every standard and configured code, standard schemes first."""
        for scheme in self.schemes.values():
            yield from scheme.codes.values()
        for catalog in self.operator:
            yield from catalog.entries()

    def with_operator(self, catalogs: tuple[OperatorCatalog, ...]) -> CodeBook:
        return CodeBook(schemes=self.schemes, operator=catalogs)


def anchor(scheme: str, code: str) -> str:
    """The heading anchor of a code in docs/error-codes.md."""
    return re.sub(r"[^a-z0-9-]+", "-", f"{scheme}-{code}".lower()).strip("-")


def error_codes_url(runbook_base: str, scheme: str, code: str) -> str:
    """docs/error-codes.md next to the alerts runbook the base URL points at."""
    folder = runbook_base.rsplit("/", 1)[0] if "/" in runbook_base else "docs"
    return f"{folder}/error-codes.md#{anchor(scheme, code)}"


def _text(value: str) -> str:
    return " ".join(value.split())


@dataclass(frozen=True)
class _CodeSection(Section):
    """One code of a standard scheme in vendor_codes.yaml."""

    title: Text
    severity: Severity
    responsible: Annotated[tuple[Responsible, ...], Field(min_length=1)]
    description: Text
    station_behaviour: Text
    resolution: Steps
    ocpp_error_code: OcppErrorCode
    name: Text | None = None
    reading: Text = ""


@dataclass(frozen=True)
class _SchemeSection(Section):
    title: Text
    url: Text
    vendor_ids: tuple[Text, ...]
    codes: dict[str, _CodeSection]


@dataclass(frozen=True)
class _VendorCodesFile(Section):
    schemes: dict[str, _SchemeSection]


def _code(scheme: str, code: str, data: _CodeSection, runbook_base: str) -> VendorCode:
    return VendorCode(
        scheme=scheme,
        code=code,
        name=data.name or code,
        title=_text(data.title),
        severity=data.severity,
        responsible=data.responsible,
        description=_text(data.description),
        station_behaviour=_text(data.station_behaviour),
        resolution=tuple(_text(step) for step in data.resolution),
        ocpp_error_code=data.ocpp_error_code,
        runbook_url=error_codes_url(runbook_base, scheme, code),
        reading=data.reading,
    )


def parse(data: Any, runbook_base: str) -> CodeBook:
    """A vendor_codes.yaml document already loaded (tests build broken ones)."""
    doc = Document("vendor_codes.yaml", data, error_type=VendorCodesError)
    return _parse(doc, runbook_base)


def _parse(doc: Document, runbook_base: str) -> CodeBook:
    schemes_data = doc.data.get("schemes") if isinstance(doc.data, dict) else None
    if not isinstance(schemes_data, dict) or sorted(schemes_data) != sorted(STANDARD_SCHEMES):
        raise doc.error(("schemes",), f"must be exactly {', '.join(STANDARD_SCHEMES)}")
    file = doc.read(_VendorCodesFile)
    schemes: dict[str, Scheme] = {}
    for name in STANDARD_SCHEMES:
        raw = file.schemes[name]
        schemes[name] = Scheme(
            name=name,
            title=raw.title,
            url=raw.url,
            vendor_ids=tuple(v.casefold() for v in raw.vendor_ids),
            codes={
                code.upper(): _code(name, code, entry, runbook_base)
                for code, entry in raw.codes.items()
            },
        )
    return CodeBook(schemes=schemes)


def load(runbook_base: str) -> CodeBook:
    """The packaged vendor_codes.yaml."""
    text = resources.files(__package__).joinpath("vendor_codes.yaml").read_text(encoding="utf-8")
    return _parse(yaml_reader.loads(text, "vendor_codes.yaml", VendorCodesError), runbook_base)
