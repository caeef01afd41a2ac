"""Standard error-code schemes over real websockets: `ocpp`-package stations (1.6 and 2.0.1)
send ChargeX, EVgo compound and CharIN UEC codes and EVerest's clears; /api/v1/notifications and
/metrics show the specific text and the clears work."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from exporter.config import model as config_module
from tests.support.in_process import Running, loopback_config
from tests.support.ocpp201_station import connect_station201, event
from tests.support.scrape import samples
from tests.support.waiting import eventually

CHARGEX = "https://chargex.inl.gov"


async def errors_of(exporter: Running, station: str) -> list[dict[str, Any]]:
    return [n for n in await exporter.notifications(kind="ocpp_error") if n["station"] == station]


def vendor_codes(notes: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
    return {
        (n["connector"], n["error_code"], n["vendor"]["code"] if n["vendor"] else "") for n in notes
    }


async def test_chargex_pilot_fault_over_16_gets_its_own_text_and_everest_clears(exporter):
    book = exporter.svc.catalog.codes
    station = await exporter.station("EVR-16")
    try:
        await station.boot(vendor="Pionix", model="BelayBox")
        # EVerest default: the code comes with the connector's current status, not Faulted.
        await station.status(
            2, "Preparing", "OtherError", vendor_id=CHARGEX, vendor_error_code="CX014"
        )

        async def pilot_fault():
            (note,) = await errors_of(exporter, "EVR-16")
            return note

        note = await eventually(pilot_fault)
        pilot = book.entry("chargex", "CX014")
        assert note["error_code"] == "OtherError" and note["status"] == "Preparing"
        assert note["severity"] == "critical"
        assert note["vendor"]["scheme"] == "chargex" and note["vendor"]["code"] == "CX014"
        assert note["vendor"]["title"] == pilot.title == "Control pilot fault"
        assert note["vendor"]["resolution"] == list(pilot.resolution)
        assert note["vendor"]["responsible"] == ["maintenance", "vehicle"]
        assert note["vendor"]["description"] == pilot.description
        scrape = await exporter.scrape()
        ((code, _),) = samples(scrape, "ocpp_connector_vendor_code", station="EVR-16")
        assert (code["connector"], code["scheme"], code["code"]) == ("2", "chargex", "CX014")
        ((text, value),) = samples(scrape, "ocpp_vendor_code_info", scheme="chargex", code="CX014")
        assert value == 1
        assert text["title"] == pilot.title and text["resolution"] == pilot.resolution_text()
        assert (text["severity"], text["responsible"]) == ("critical", "maintenance,vehicle")
        assert len(samples(scrape, "ocpp_vendor_code_info")) == len(list(book.entries())) == 51

        # A second fault: EVerest sends one StatusNotification per error (it replaces CX014
        # as the connector's current error).
        await station.status(
            2, "Preparing", "GroundFailure", vendor_id=CHARGEX, vendor_error_code="cx002"
        )
        # ReportClearedErrors=true: the clear of CX014 names the still active GroundFailure.
        await station.status(
            2,
            "Preparing",
            "GroundFailure",
            vendor_id=CHARGEX,
            vendor_error_code="CX014",
            info="CX014 resolved",
        )

        async def ground_fault_only():
            notes = await errors_of(exporter, "EVR-16")
            assert vendor_codes(notes) == {("2", "GroundFailure", "CX002")}
            return notes

        (ground,) = await eventually(ground_fault_only)
        assert ground["vendor"]["title"] == book.entry("chargex", "CX002").title
        await station.status(
            2,
            "Preparing",
            "NoError",
            vendor_id=CHARGEX,
            vendor_error_code="CX002",
            info="CX002 resolved",
        )

        async def cleared():
            assert await errors_of(exporter, "EVR-16") == []

        await eventually(cleared)
    finally:
        await station.close()


async def test_evgo_compound_code_gives_one_entry_per_code_with_its_reading(exporter):
    station = await exporter.station("EVGO-1")
    try:
        await station.boot()
        await station.status(
            1,
            "Finishing",
            "OtherError",
            vendor_id="com.evgo.mrec",
            vendor_error_code="F000,F002",
            info="1.95,6.90",
        )

        async def two_entries():
            notes = await errors_of(exporter, "EVGO-1")
            assert vendor_codes(notes) == {("1", "OtherError", "F000"), ("1", "OtherError", "F002")}
            return notes

        notes = await eventually(two_entries)
        by_code = {n["vendor"]["code"]: n["vendor"] for n in notes}
        assert by_code["F000"]["reading"] == "1.95"
        assert by_code["F002"]["reading"] == "6.90"
        assert by_code["F002"]["title"] == "Pilot voltage high"
        assert all(n["vendor_error_code"] == "F000,F002" for n in notes)
        scrape = await exporter.scrape()
        codes = samples(scrape, "ocpp_connector_vendor_code", station="EVGO-1")
        assert {(lab["error_code"], lab["scheme"], lab["code"]) for lab, _ in codes} == {
            ("OtherError", "evgo", "F000"),
            ("OtherError", "evgo", "F002"),
        }
        ((info, _),) = samples(scrape, "ocpp_connector_error_info", station="EVGO-1")
        assert (info["scheme"], info["vendor_error_code"], info["info"]) == (
            "evgo",
            "F000,F002",
            "1.95,6.90",
        )

        # A "resolved" for one of them keeps the other.
        await station.status(
            1,
            "Finishing",
            "OtherError",
            vendor_id="com.evgo.mrec",
            vendor_error_code="F000",
            info="F000 resolved",
        )

        async def one_left():
            notes = await errors_of(exporter, "EVGO-1")
            assert vendor_codes(notes) == {("1", "OtherError", "F002")}

        await eventually(one_left)
        await station.status(1, "Available", "NoError")

        async def none_left():
            assert await errors_of(exporter, "EVGO-1") == []

        await eventually(none_left)
    finally:
        await station.close()


async def test_uec_over_16_and_unknown_vendor_ids_stay_unrecognised(exporter):
    station = await exporter.station("UEC-1")
    try:
        await station.boot()
        await station.status(
            1,
            "Faulted",
            "InternalError",
            vendor_id="org.charin.uec.v1",
            vendor_error_code="PowerModuleFault",
        )
        # EVerest's non-MREC errors: free text in vendorId is no scheme.
        await station.status(
            2,
            "Available",
            "OtherError",
            vendor_id="Pilot voltage out of range",
            vendor_error_code="CX014",
        )

        async def check():
            notes = {n["connector"]: n for n in await errors_of(exporter, "UEC-1")}
            assert set(notes) == {"1", "2"}
            return notes

        notes = await eventually(check)
        assert notes["1"]["vendor"]["scheme"] == "charin-uec"
        assert notes["1"]["vendor"]["title"] == "Power module fault"
        assert notes["2"]["vendor"] is None
        scrape = await exporter.scrape()
        schemes = {
            lab["connector"]: lab["scheme"]
            for lab, _ in samples(scrape, "ocpp_connector_error_info", station="UEC-1")
        }
        assert schemes == {"1": "charin-uec", "2": ""}
        assert notes["2"]["severity"] == "warning"  # OtherError's own
    finally:
        await station.close()


async def test_201_techcodes_chargex_everest_fallback_uec_and_cleared(exporter):
    station = await connect_station201(exporter.ocpp_url, "EVR-201")
    try:
        await station.boot()
        await station.status(1, 1, "Available")
        await station.status(2, 1, "Available")
        await station.notify(
            event("EVSE", "Problem", connector=1, techCode="CX002", event_id=41),
            event(
                "EVSE",
                "Problem",
                evse=2,
                connector=1,
                techCode="evse_manager/MREC9AuthorizationTimeout",
                event_id=42,
            ),
            event("AcDcConverter", "Problem", evse=None, techCode="PowerModuleFault", event_id=43),
        )

        async def raised():
            notes = await errors_of(exporter, "EVR-201")
            assert vendor_codes(notes) == {
                ("1", "GroundFailure", "CX002"),
                ("2", "OtherError", "CX009"),
                ("0", "InternalError", "PowerModuleFault"),
            }
            return notes

        await eventually(raised)
        # EVerest's clear: the same component, variable and techCode, cleared: true.
        await station.notify(
            event(
                "EVSE",
                "Problem",
                "false",
                connector=1,
                techCode="cx002",
                cleared=True,
                event_id=44,
            )
        )

        async def cleared():
            notes = await errors_of(exporter, "EVR-201")
            assert vendor_codes(notes) == {
                ("2", "OtherError", "CX009"),
                ("0", "InternalError", "PowerModuleFault"),
            }

        await eventually(cleared)
        scrape = await exporter.scrape()
        assert {
            lab["error_code"]
            for lab, _ in samples(scrape, "ocpp_connector_error", station="EVR-201")
        } == {"OtherError", "InternalError"}
    finally:
        await station.close()


async def test_201_code_raised_while_faulted_goes_when_the_connector_recovers(exporter):
    station = await connect_station201(exporter.ocpp_url, "EVR-F")
    try:
        await station.boot()
        await station.status(1, 1, "Faulted")
        await station.notify(event("EVSE", "Problem", connector=1, techCode="CX017"))

        async def raised():
            notes = await errors_of(exporter, "EVR-F")
            assert vendor_codes(notes) == {("1", "OtherError", "CX017")}

        await eventually(raised)
        await station.status(1, 1, "Available")

        async def gone():
            assert await errors_of(exporter, "EVR-F") == []

        await eventually(gone)
    finally:
        await station.close()


async def test_operator_catalog_text_reaches_the_notification_and_the_metrics(
    exporter_factory, tmp_path
):
    (tmp_path / "exporter.yml").write_text(
        "catalog:\n"
        "  vendor_catalogs:\n"
        "    - name: acme\n"
        "      station_vendor: Acme Charging\n"
        "      codes:\n"
        "        - code: E-0417\n"
        "          title: RCD self-test failed\n"
        "          severity: critical\n"
        "          responsible: [maintenance]\n"
        "          ocpp_error_code: GroundFailure\n"
        "          description: The residual current device failed its daily self test.\n"
        "          resolution: [Keep the connector out of service, Replace the RCD]\n"
        "          runbook_url: https://wiki.example.org/acme/e-0417\n",
        encoding="utf-8",
    )
    loaded = config_module.load(tmp_path / "exporter.yml")
    running = await exporter_factory(
        replace(loopback_config(), vendor_catalogs=loaded.vendor_catalogs)
    )
    station = await running.station("ACME-1")
    other = await running.station("OTHER-1")
    try:
        await station.boot(vendor="Acme Charging", model="W2")
        await other.boot(vendor="Someone Else", model="W2")
        for s in (station, other):
            await s.status(
                1, "Faulted", "GroundFailure", vendor_id="AcmeRCD", vendor_error_code="e-0417"
            )

        async def both():
            notes = {n["station"]: n for n in await errors_of(running, "ACME-1")}
            notes.update({n["station"]: n for n in await errors_of(running, "OTHER-1")})
            assert set(notes) == {"ACME-1", "OTHER-1"}
            return notes

        notes = await eventually(both)
        vendor = notes["ACME-1"]["vendor"]
        assert (vendor["scheme"], vendor["code"], vendor["title"]) == (
            "acme",
            "e-0417",
            "RCD self-test failed",
        )
        assert vendor["resolution"] == ["Keep the connector out of service", "Replace the RCD"]
        assert vendor["responsible"] == ["maintenance"]
        assert vendor["runbook_url"] == "https://wiki.example.org/acme/e-0417"
        # The catalog applies to Acme's stations only.
        assert notes["OTHER-1"]["vendor"] is None
        scrape = await running.scrape()
        ((code, _),) = samples(scrape, "ocpp_connector_vendor_code", station="ACME-1")
        assert (code["scheme"], code["code"]) == ("acme", "E-0417")
        ((text, _),) = samples(scrape, "ocpp_vendor_code_info", scheme="acme")
        assert text["title"] == "RCD self-test failed"
        assert text["resolution"] == "1. Keep the connector out of service\n2. Replace the RCD"
        assert (text["severity"], text["responsible"]) == ("critical", "maintenance")
        assert samples(scrape, "ocpp_connector_vendor_code", station="OTHER-1") == []
    finally:
        await station.close()
        await other.close()
