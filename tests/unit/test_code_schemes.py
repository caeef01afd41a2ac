"""Recognition of standard and operator codes in what stations send, and the knowledge base
that gives them text. Pure: no sockets."""

from __future__ import annotations

import re

import pytest

from exporter.knowledge import catalog as catalog_module
from exporter.knowledge import vendor_codes
from exporter.knowledge.vendor_codes import (
    MAX_COMPOUND_CODES,
    PAGING_RESPONSIBLE,
    RESPONSIBLE,
    CodeBook,
    OperatorCatalog,
    VendorCode,
    VendorCodesError,
)
from exporter.protocol import code_schemes
from exporter.protocol.code_schemes import Station

CHARGEX_ID = "https://chargex.inl.gov"
BOOK = catalog_module.load().codes


def test_knowledge_base_covers_the_three_standard_schemes():
    assert sorted(BOOK.schemes["chargex"].codes) == [f"CX{n:03d}" for n in range(1, 27)]
    evgo = sorted(BOOK.schemes["evgo"].codes)
    assert evgo == [f"A00{n}" for n in range(6)] + [f"F{n:03d}" for n in range(11)]
    assert "POWERMODULEFAULT" in BOOK.schemes["charin-uec"].codes
    for entry in BOOK.entries():
        assert entry.resolution and entry.title and entry.description and entry.station_behaviour
        assert set(entry.responsible) <= set(RESPONSIBLE)
        assert entry.runbook_url.endswith(
            f"error-codes.md#{vendor_codes.anchor(entry.scheme, entry.code)}"
        )


def test_driver_side_codes_never_page_and_the_pilot_fault_does():
    assert BOOK.entry("chargex", "CX014").pages()
    assert BOOK.entry("chargex", "CX014").severity == "critical"
    assert not BOOK.entry("chargex", "CX010").pages()
    assert BOOK.entry("chargex", "CX010").responsible == ("ev_driver",)
    assert BOOK.entry("chargex", "cx002").ocpp_error_code == "GroundFailure"
    assert set(PAGING_RESPONSIBLE) == {"operator", "maintenance"}


def test_a_broken_packaged_file_is_a_specific_error():
    data = {"schemes": {"chargex": {}, "evgo": {}}}
    with pytest.raises(VendorCodesError, match="exactly"):
        vendor_codes.parse(data, "")
    bad = {
        "title": "t",
        "severity": "urgent",
        "responsible": ["operator"],
        "description": "d",
        "station_behaviour": "b",
        "resolution": ["x"],
        "ocpp_error_code": "OtherError",
    }
    schemes = {
        name: {"title": name, "url": "u", "vendor_ids": [name], "codes": {}}
        for name in vendor_codes.STANDARD_SCHEMES
    }
    schemes["evgo"]["codes"] = {"A000": bad}
    with pytest.raises(VendorCodesError) as refused:
        vendor_codes.parse({"schemes": schemes}, "")
    assert refused.value.key == "schemes.evgo.codes.A000.severity"
    assert refused.value.problem == "expected one of critical, warning, info, got 'urgent'"
    schemes["evgo"]["codes"] = {"A000": {**bad, "severity": "info", "responsible": ["cpo"]}}
    with pytest.raises(VendorCodesError) as refused:
        vendor_codes.parse({"schemes": schemes}, "")
    assert refused.value.key == "schemes.evgo.codes.A000.responsible[0]"
    schemes["evgo"]["codes"] = {"A000": {**bad, "severity": "info", "responsible": []}}
    with pytest.raises(VendorCodesError) as refused:
        vendor_codes.parse({"schemes": schemes}, "")
    assert refused.value.key == "schemes.evgo.codes.A000.responsible"


@pytest.mark.parametrize(
    ("vendor_id", "code"),
    [(CHARGEX_ID, "CX014"), ("HTTPS://ChargeX.INL.gov", "cx014"), (CHARGEX_ID, " Cx014 ")],
)
def test_chargex_over_16_is_recognised_case_insensitively(vendor_id, code):
    found = code_schemes.recognise_v16(BOOK, vendor_id, code, "")
    assert found is not None
    assert (found.scheme, found.codes, found.resolved) == ("chargex", ("CX014",), False)
    assert found.implied_error_code == "OtherError"


def test_an_unknown_vendor_id_is_not_a_scheme():
    # EVerest puts the error message into vendorId for errors outside MREC.
    assert code_schemes.recognise_v16(BOOK, "Pilot fault detected", "CX014", "") is None
    assert code_schemes.recognise_v16(BOOK, "", "CX014", "") is None
    # A known scheme with a code it does not define: no text of its own.
    assert code_schemes.recognise_v16(BOOK, CHARGEX_ID, "CX099", "") is None
    assert code_schemes.recognise_v16(BOOK, CHARGEX_ID, "", "") is None


def test_evgo_compound_codes_pair_with_their_readings():
    found = code_schemes.recognise_v16(BOOK, "com.evgo.mrec", "F000,F002", "1.95,6.90")
    assert found is not None
    assert found.scheme == "evgo"
    assert found.codes == ("F000", "F002")
    assert found.readings == ("1.95", "6.90")
    empty_slot = code_schemes.recognise_v16(BOOK, "COM.EVGO.MREC", "f000, f002", ",6.90")
    assert empty_slot.codes == ("F000", "F002") and empty_slot.readings == ("", "6.90")
    missing = code_schemes.recognise_v16(BOOK, "com.evgo.mrec", "A001,F009", "")
    assert missing.readings == ("", "")
    # An unknown code inside a compound is left out, the known ones stay.
    partly = code_schemes.recognise_v16(BOOK, "com.evgo.mrec", "F0FF,F009", "1,96")
    assert partly.codes == ("F009",) and partly.readings == ("96",)


def test_compound_codes_are_capped():
    codes = ",".join(["F000"] * (MAX_COMPOUND_CODES + 5))
    found = code_schemes.recognise_v16(BOOK, "com.evgo.mrec", codes, "")
    assert len(found.codes) == MAX_COMPOUND_CODES
    assert found.dropped == 5


def test_a_single_code_keeps_its_whole_info_as_the_reading():
    found = code_schemes.recognise_v16(BOOK, CHARGEX_ID, "CX019", "98")
    assert found.readings == ("98",)


def test_everest_resolved_info_is_a_clear_of_that_code():
    found = code_schemes.recognise_v16(BOOK, CHARGEX_ID, "CX014", "CX014 resolved")
    assert found is not None and found.resolved and found.codes == ("CX014",)
    assert found.readings == ("",)
    assert code_schemes.recognise_v16(BOOK, CHARGEX_ID, "CX014", "Error cx014 RESOLVED").resolved
    # "resolved" about another code is not a clear of this one.
    assert not code_schemes.recognise_v16(BOOK, CHARGEX_ID, "CX014", "CX002 resolved").resolved


def test_uec_over_16_and_201():
    found = code_schemes.recognise_v16(BOOK, "org.charin.uec.v1", "PowerModuleFault", "")
    assert (found.scheme, found.codes, found.implied_error_code) == (
        "charin-uec",
        ("PowerModuleFault",),
        "InternalError",
    )
    over_201 = code_schemes.recognise_v201(BOOK, "powermodulefault")
    assert over_201.scheme == "charin-uec" and over_201.codes == ("PowerModuleFault",)


def test_chargex_over_201_including_everest_fallback():
    found = code_schemes.recognise_v201(BOOK, "CX002")
    assert (found.scheme, found.codes, found.implied_error_code) == (
        "chargex",
        ("CX002",),
        "GroundFailure",
    )
    fallback = code_schemes.recognise_v201(BOOK, "evse_manager/MREC9AuthorizationTimeout")
    assert fallback.codes == ("CX009",)
    assert code_schemes.recognise_v201(BOOK, "MREC14PilotFault").codes == ("CX014",)
    assert code_schemes.recognise_v201(BOOK, "evse_manager/MREC99Whatever") is None
    assert code_schemes.recognise_v201(BOOK, "powermeter/CommunicationFault") is None
    assert code_schemes.recognise_v201(BOOK, "") is None
    assert code_schemes.recognise_v201(BOOK, "CX019", code_schemes.reading("105")).readings == (
        "105",
    )
    assert code_schemes.reading("TRUE") == ""


def _entry(code: str, title: str) -> VendorCode:
    return VendorCode(
        scheme="acme",
        code=code,
        title=title,
        severity="critical",
        responsible=("maintenance",),
        description="d",
        station_behaviour="b",
        resolution=("step",),
        ocpp_error_code="GroundFailure",
        runbook_url="https://wiki/acme",
    )


def test_operator_catalogs_match_exact_or_pattern_for_their_stations_first():
    acme = OperatorCatalog(
        name="acme",
        station_vendor="Acme Charging",
        codes={"E-0417": _entry("E-0417", "RCD self-test failed")},
        patterns=((re.compile(r"E-05\d\d", re.IGNORECASE), _entry("E-05\\d\\d", "Power stage")),),
    )
    override = OperatorCatalog(
        name="site-notes", vendor_id=CHARGEX_ID, codes={"CX014": _entry("CX014", "Ours")}
    )
    book = CodeBook(schemes=BOOK.schemes, operator=(acme, override))
    acme_station = Station(vendor="ACME charging", model="X")
    found = code_schemes.recognise_v16(book, "AcmeVendor", "e-0417", "", acme_station)
    assert found.scheme == "acme" and found.codes == ("e-0417",)
    assert book.entry("acme", "e-0417").title == "RCD self-test failed"
    assert code_schemes.recognise_v16(book, "", "E-0512", "", acme_station).scheme == "acme"
    assert book.entry("acme", "E-0512").title == "Power stage"
    # Another vendor's station does not get Acme's text.
    assert code_schemes.recognise_v16(book, "", "E-0417", "", Station(vendor="Other")) is None
    # The operator's entry wins over the standard one for the stations it applies to.
    assert code_schemes.recognise_v16(book, CHARGEX_ID, "CX014", "").scheme == "site-notes"
    assert code_schemes.recognise_v201(book, "E-0417", station=acme_station).scheme == "acme"
