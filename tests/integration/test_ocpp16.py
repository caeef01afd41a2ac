"""OCPP 1.6J over real websockets: the `ocpp` package's ChargePoint on the station side, the
real /metrics and /api/v1/notifications on the other."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from ocpp.v16 import call

from exporter.config.model import Site
from tests.support.in_process import loopback_config
from tests.support.scrape import samples
from tests.support.waiting import eventually


def error_series(scrape, station):
    return {
        (lab["connector"], lab["error_code"])
        for lab, _ in samples(scrape, "ocpp_connector_error", station=station)
    }


async def test_ground_failure_while_available_is_active_with_its_text(exporter):
    station = await exporter.station("CP-1")
    try:
        await station.boot(firmware_version="1.2.3", charge_point_serial_number="SN-9")
        await station.status(1, "Available", "GroundFailure", vendor_error_code="E42", info="RCD")

        async def check():
            scrape = await exporter.scrape()
            assert error_series(scrape, "CP-1") == {("1", "GroundFailure")}
            return scrape

        scrape = await eventually(check)
        assert (
            samples(scrape, "ocpp_connector_status", station="CP-1", connector="1")[0][0]["status"]
            == "Available"
        )
        ((info_labels, _),) = samples(scrape, "ocpp_connector_error_info", station="CP-1")
        assert info_labels["vendor_error_code"] == "E42" and info_labels["info"] == "RCD"
        ((station_info, _),) = samples(scrape, "ocpp_station_info", station="CP-1")
        assert station_info["firmware_version"] == "1.2.3"
        assert station_info["serial_number"] == "SN-9"
        assert station_info["ocpp_version"] == "1.6"
        assert samples(scrape, "ocpp_station_connected", station="CP-1")[0][1] == 1
        since = samples(scrape, "ocpp_connector_error_since_timestamp_seconds", station="CP-1")
        assert since and since[0][1] > 1_700_000_000

        (note,) = await exporter.notifications(kind="ocpp_error")
        assert note["station"] == "CP-1" and note["connector"] == "1"
        assert note["error_code"] == "GroundFailure" and note["status"] == "Available"
        assert note["severity"] == "critical"
        catalog = exporter.svc.catalog.errors["GroundFailure"]
        assert note["resolution"] == list(catalog.resolution)
        assert note["description"] == catalog.description
        assert note["since"].endswith("Z")
    finally:
        await station.close()


async def test_no_error_clears_at_once_and_same_code_keeps_since(exporter):
    station = await exporter.station("CP-2")
    try:
        await station.status(1, "Available", "HighTemperature")
        first = await eventually(lambda: _since(exporter, "CP-2"))
        # `since` has sub-second resolution, and a scrape has passed: a `since` taken from this
        # second report would differ from the first.
        await station.status(1, "Faulted", "HighTemperature")
        assert await _since(exporter, "CP-2") == first
        await station.status(1, "Available", "NoError")
        scrape = await exporter.scrape()
        assert error_series(scrape, "CP-2") == set()
        assert not samples(scrape, "ocpp_connector_error_info", station="CP-2")
        assert await exporter.notifications(kind="ocpp_error") == []
        names = {lab.get("error_code") for lab, _ in scrape.get("ocpp_connector_error", [])}
        assert "NoError" not in names
    finally:
        await station.close()


async def _since(exporter, station_id):
    scrape = await exporter.scrape()
    values = samples(scrape, "ocpp_connector_error_since_timestamp_seconds", station=station_id)
    assert values
    return values[0][1]


async def test_another_code_replaces_the_current_one(exporter):
    station = await exporter.station("CP-3")
    try:
        await station.status(2, "Faulted", "GroundFailure")
        await station.status(2, "Faulted", "OverCurrentFailure")
        assert error_series(await exporter.scrape(), "CP-3") == {("2", "OverCurrentFailure")}
    finally:
        await station.close()


async def test_boot_notification_clears_what_the_station_reported_before(exporter):
    station = await exporter.station("CP-4")
    try:
        await station.status(1, "Faulted", "InternalError")
        assert error_series(await exporter.scrape(), "CP-4")
        await station.boot()
        scrape = await exporter.scrape()
        assert error_series(scrape, "CP-4") == set()
        assert not samples(scrape, "ocpp_connector_status", station="CP-4")
        assert samples(scrape, "ocpp_station_boots_total", station="CP-4")[0][1] == 1
    finally:
        await station.close()


async def test_reconnect_resync_clears_errors_the_station_no_longer_reports(exporter):
    station = await exporter.station("CP-5")
    await station.status(1, "Available", "GroundFailure")
    await station.status(2, "Faulted", "HighTemperature")
    await station.close()
    # Reconnected, the station answers the trigger: connector 2 still hot, connector 1 is fine
    # and (like many real stations) it only re-reports connectors with something to say.
    again = await exporter.station("CP-5")
    try:
        again.current = {2: ("Faulted", "HighTemperature")}

        async def check():
            assert error_series(await exporter.scrape(), "CP-5") == {("2", "HighTemperature")}

        await eventually(check)
        assert again.triggers == 1
    finally:
        await again.close()


async def test_a_station_that_rejects_the_trigger_keeps_its_last_known_state(exporter):
    station = await exporter.station("CP-6")
    await station.status(1, "Available", "GroundFailure")
    await station.close()
    again = await exporter.station("CP-6", accept_trigger=False)
    try:
        await eventually(lambda: _triggered(again))

        async def rejected():
            scrape = await exporter.scrape()
            assert samples(scrape, "ocpp_exporter_resyncs_total", result="rejected")[0][1] >= 1

        await eventually(rejected)
        # The scenario: the re-sync window passes. A rejected re-sync must not clear at its end.
        await asyncio.sleep(exporter.svc.config.ocpp.resync_window + 0.3)
        assert error_series(await exporter.scrape(), "CP-6") == {("1", "GroundFailure")}
    finally:
        await again.close()


async def _triggered(station):
    assert station.triggers >= 1


async def test_disconnect_shows_offline_at_once_and_keeps_errors(exporter):
    station = await exporter.station("CP-7")
    await station.status(1, "Available", "GroundFailure")
    await station.close()

    async def check():
        scrape = await exporter.scrape()
        assert samples(scrape, "ocpp_station_connected", station="CP-7")[0][1] == 0
        return scrape

    scrape = await eventually(check)
    assert error_series(scrape, "CP-7") == {("1", "GroundFailure")}
    kinds = {n["kind"] for n in await exporter.notifications(station="CP-7")}
    assert kinds == {"station_offline", "ocpp_error"}
    first = (await exporter.notifications(station="CP-7"))[0]
    assert first["kind"] == "station_offline"  # the more important one comes first


async def test_a_second_connection_replaces_the_first_without_a_gap(exporter):
    first = await exporter.station("CP-8")
    await first.status(1, "Available", "NoError")
    second = await exporter.station("CP-8")
    try:
        # The old socket is closed by the exporter; the station stays connected throughout.
        await eventually(lambda: _closed(first))
        for _ in range(5):
            scrape = await exporter.scrape()
            assert samples(scrape, "ocpp_station_connected", station="CP-8")[0][1] == 1
            await asyncio.sleep(0.05)  # the scenario: watch for a gap over a while
        await second.status(1, "Charging", "NoError")
        scrape = await exporter.scrape()
        assert (
            samples(scrape, "ocpp_connector_status", station="CP-8")[0][0]["status"] == "Charging"
        )
        assert samples(scrape, "ocpp_exporter_disconnects_total", reason="replaced")
    finally:
        await first.close()
        await second.close()


async def _closed(station):
    assert station._connection.close_code is not None


async def test_every_charge_point_action_gets_a_schema_valid_answer(exporter):
    # The ocpp ChargePoint validates each CALLRESULT against the 1.6 schema and raises if not.
    station = await exporter.station("CP-9")
    try:
        boot = await station.boot()
        assert boot.status == "Accepted" and boot.interval == 60
        assert (await station.call(call.Heartbeat())).current_time
        auth = await station.call(call.Authorize(id_tag="TAG"))
        assert auth.id_tag_info["status"] == "Accepted"
        start = await station.call(
            call.StartTransaction(
                connector_id=1, id_tag="TAG", meter_start=0, timestamp="2026-01-01T00:00:00Z"
            )
        )
        assert start.transaction_id >= 1
        await station.call(
            call.MeterValues(
                connector_id=1,
                transaction_id=start.transaction_id,
                meter_value=[
                    {
                        "timestamp": "2026-01-01T00:01:00Z",
                        "sampledValue": [{"value": "12.5"}],
                    }
                ],
            )
        )
        await station.call(
            call.StopTransaction(
                meter_stop=100,
                timestamp="2026-01-01T00:02:00Z",
                transaction_id=start.transaction_id,
            )
        )
        data = await station.call(call.DataTransfer(vendor_id="ACME", data="x"))
        assert data.status == "UnknownVendorId"
        await station.call(call.DiagnosticsStatusNotification(status="Uploaded"))
        await station.call(call.FirmwareStatusNotification(status="Installing"))
        scrape = await exporter.scrape()
        assert (
            samples(scrape, "ocpp_station_firmware_update_in_progress", station="CP-9")[0][1] == 1
        )
        accepted = {
            lab["action"]
            for lab, v in samples(scrape, "ocpp_exporter_frames_total", result="accepted")
        }
        assert {"BootNotification", "StartTransaction", "FirmwareStatusNotification"} <= accepted
    finally:
        await station.close()


async def test_an_error_code_outside_the_enum_is_recorded_as_unknown(exporter):
    station = await exporter.station("CP-10")
    try:
        await station.call(
            call.StatusNotification(
                connector_id=1, error_code="BatteryOnFire", status="Occupied", info="x" * 300
            ),
            skip_schema_validation=True,
        )
        scrape = await exporter.scrape()
        assert error_series(scrape, "CP-10") == {("1", "Unknown")}
        ((labels, _),) = samples(scrape, "ocpp_connector_error_info", station="CP-10")
        assert labels["info"].startswith("errorCode=BatteryOnFire")
        assert len(labels["info"]) <= exporter.svc.config.limits.max_label_length
        assert labels["status"] == "Unknown"
        violations = {
            lab["field"]: v for lab, v in samples(scrape, "ocpp_exporter_schema_violations_total")
        }
        assert violations == {"errorCode": 1, "status": 1}
    finally:
        await station.close()


async def test_configured_stations_exist_before_connecting_and_others_are_unassigned(
    exporter_factory,
):
    config = replace(
        loopback_config(), sites=(Site("depot-north", ("CP-A",), controller="ctrl-north"),)
    )
    running = await exporter_factory(config)
    scrape = await running.scrape()
    ((labels, value),) = samples(scrape, "ocpp_station_connected", station="CP-A")
    assert value == 0 and labels["site"] == "depot-north" and labels["controller"] == "ctrl-north"
    station = await running.station("CP-B")
    try:
        await station.status(0, "Available", "NoError")
        scrape = await running.scrape()
        ((labels, value),) = samples(scrape, "ocpp_station_connected", station="CP-B")
        assert value == 1 and labels["site"] == "unassigned" and labels["controller"] == ""
        offline = await running.notifications(kind="station_offline")
        assert [n["station"] for n in offline] == ["CP-A"]
    finally:
        await station.close()


async def test_two_hundred_and_fifty_concurrent_stations(exporter):
    ids = [f"LOAD-{i:03d}" for i in range(250)]
    fleet = await asyncio.gather(*(exporter.station(i) for i in ids))
    try:
        await asyncio.gather(*(s.boot() for s in fleet))
        await asyncio.gather(
            *(
                s.status(1, "Available", "GroundFailure" if n % 10 == 0 else "NoError")
                for n, s in enumerate(fleet)
            )
        )
        scrape = await exporter.scrape()
        connected = samples(scrape, "ocpp_station_connected")
        assert sum(v for lab, v in connected if lab["station"].startswith("LOAD-")) == 250
        faulty = {lab["station"] for lab, _ in samples(scrape, "ocpp_connector_error")}
        assert faulty == {ids[n] for n in range(0, 250, 10)}
        assert samples(scrape, "ocpp_exporter_open_connections")[0][1] == 250
    finally:
        await asyncio.gather(*(s.close() for s in fleet))


async def test_without_authentication_an_inventory_does_not_lock_out_other_stations(
    exporter_factory,
):
    """The contract: a station not in the inventory gets site="unassigned" (profile 0)."""
    from exporter.config import model as config_module

    parsed = config_module.parse(
        {"inventory": {"sites": [{"name": "north", "stations": ["CP-IN"]}]}}, "test.yml"
    )
    base = loopback_config()
    running = await exporter_factory(
        replace(
            parsed, ocpp_listen=base.ocpp_listen, metrics_listen=base.metrics_listen, ocpp=base.ocpp
        )
    )
    station = await running.station("CP-OUT")
    try:
        await station.status(1, "Available", "GroundFailure")
        scrape = await running.scrape()
        ((labels, value),) = samples(scrape, "ocpp_station_connected", station="CP-OUT")
        assert value == 1 and labels["site"] == "unassigned"
        assert samples(scrape, "ocpp_station_connected", station="CP-IN")[0][1] == 0
    finally:
        await station.close()


async def test_the_negotiated_version_is_known_before_any_boot_notification(exporter):
    station = await exporter.station("CP-NOBOOT")
    try:
        await station.status(1, "Available", "NoError")
        ((labels, _),) = samples(await exporter.scrape(), "ocpp_station_info", station="CP-NOBOOT")
        assert labels["ocpp_version"] == "1.6"
    finally:
        await station.close()
