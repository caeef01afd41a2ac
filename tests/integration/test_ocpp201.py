"""OCPP 2.0.1 stations end to end: the `ocpp` package's v201 ChargePoint over websockets against
a real exporter, read back through the real /metrics and notifications API."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import websockets
from ocpp.v201 import call

from tests.support.ocpp201_mapping import RAISES
from tests.support.ocpp201_station import connect_station201, event, now
from tests.support.scrape import samples
from tests.support.waiting import eventually

ROOT = Path(__file__).resolve().parents[2]


def errors_by_connector(scrape: dict[str, Any], station: str) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for labels, value in samples(scrape, "ocpp_connector_error", station=station):
        assert value == 1
        out.setdefault(labels["connector"], set()).add(labels["error_code"])
    return out


async def test_boot_status_and_labels(exporter):
    station = await connect_station201(exporter.ocpp_url, "CS-201")
    try:
        boot = await station.boot(vendor="VoltCo", model="DC150", firmwareVersion="2.4.1")
        assert boot.status == "Accepted"
        heartbeat = await station.call(call.Heartbeat())
        assert heartbeat.current_time
        await station.status(1, 1, "Occupied")
        await station.status(2, 1, "Faulted")
        await station.status(2, 2, "Available")

        async def check():
            scrape = await exporter.scrape()
            info = samples(scrape, "ocpp_station_info", station="CS-201")
            assert info and info[0][0]["ocpp_version"] == "2.0.1"
            statuses = {
                lab["connector"]: lab["status"]
                for lab, _ in samples(scrape, "ocpp_connector_status", station="CS-201")
            }
            assert statuses == {"1": "Occupied", "2": "Faulted", "2/2": "Available"}
            return scrape, info[0][0]

        scrape, info = await eventually(check)
        assert (info["vendor"], info["model"], info["firmware_version"]) == (
            "VoltCo",
            "DC150",
            "2.4.1",
        )
        # Faulted without a NotifyEvent cause still pages, as Unknown.
        assert errors_by_connector(scrape, "CS-201") == {"2": {"Unknown"}}
    finally:
        await station.close()


async def test_every_mapping_in_the_table_then_clearing(exporter):
    placed: dict[str, str] = {}
    events = []
    for n, case in enumerate(RAISES):
        evse, connector = n // 2 + 1, n % 2 + 1
        label = str(evse) if connector == 1 else f"{evse}/{connector}"
        placed[label] = case.code
        events.append(case.event(evse=evse, connector=connector, event_id=n))
    # Not problems: a periodic report and a value moving by a delta.
    events.append(event("RCD", "Tripped", "true", evse=30, trigger="Periodic", event_id=900))
    events.append(event("TemperatureSensor", "Temperature", "40", evse=30, trigger="Delta"))
    station = await connect_station201(exporter.ocpp_url, "CS-MAP")
    try:
        await station.boot()
        await station.notify(*events)

        async def raised():
            scrape = await exporter.scrape()
            assert errors_by_connector(scrape, "CS-MAP") == {k: {v} for k, v in placed.items()}
            return scrape

        scrape = await eventually(raised)
        ignored = {
            lab["reason"]: v for lab, v in samples(scrape, "ocpp_exporter_events_ignored_total")
        }
        assert ignored == {"periodic": 1, "delta_not_a_problem": 1}
        # The component and variable are in the error info, the techCode is the vendor code.
        info = {
            lab["connector"]: lab
            for lab, _ in samples(scrape, "ocpp_connector_error_info", station="CS-MAP")
        }
        assert info["1"]["info"] == "ConnectorPlugRetentionLock.Problem=true"
        dc = next(
            lab for lab in info.values() if lab["info"].startswith("ElectricalFeed.DCVoltage")
        )
        assert dc["vendor_error_code"] == "UnderVoltage"
        notes = await exporter.notifications(kind="ocpp_error", station="CS-MAP")
        assert {n["connector"]: n["error_code"] for n in notes} == placed

        clears = [
            dict(e, cleared=True, eventId=1000 + i) for i, e in enumerate(events[: len(RAISES)])
        ]
        await station.notify(*clears)

        async def cleared():
            assert errors_by_connector(await exporter.scrape(), "CS-MAP") == {}

        await eventually(cleared)
    finally:
        await station.close()


async def test_concurrent_problems_on_one_connector_clear_independently(exporter):
    station = await connect_station201(exporter.ocpp_url, "CS-MULTI")
    try:
        await station.boot()
        await station.status(1, 1, "Faulted")
        await station.notify(
            event("RCD", "Tripped", event_id=1),
            event("ConnectorPlugRetentionLock", "Problem", event_id=2),
            event("TemperatureSensor", "Temperature", "95", event_id=3),
        )

        async def three():
            scrape = await exporter.scrape()
            assert errors_by_connector(scrape, "CS-MULTI") == {
                "1": {"GroundFailure", "ConnectorLockFailure", "HighTemperature"}
            }
            return scrape

        scrape = await eventually(three)
        since = samples(
            scrape,
            "ocpp_connector_error_since_timestamp_seconds",
            station="CS-MULTI",
            error_code="GroundFailure",
        )[0][1]
        # A second source behind the same code; the code stays until both sources clear.
        await station.notify(event("GroundIsolationProtection", "Problem", event_id=4))
        await station.notify(event("RCD", "Tripped", "false", trigger="Delta", event_id=5))
        await station.notify(
            event("ConnectorPlugRetentionLock", "Problem", "false", cleared=True, event_id=6)
        )

        async def one_left():
            scrape = await exporter.scrape()
            assert errors_by_connector(scrape, "CS-MULTI") == {
                "1": {"GroundFailure", "HighTemperature"}
            }
            return scrape

        scrape = await eventually(one_left)
        ground = samples(
            scrape, "ocpp_connector_error_info", station="CS-MULTI", error_code="GroundFailure"
        )
        assert ground[0][0]["info"] == "GroundIsolationProtection.Problem=true"
        # Regression: the code keeps the RCD's since, not the second source's later time.
        assert (
            samples(
                scrape,
                "ocpp_connector_error_since_timestamp_seconds",
                station="CS-MULTI",
                error_code="GroundFailure",
            )[0][1]
            == since
        )
        notes = await exporter.notifications(kind="ocpp_error", station="CS-MULTI")
        ground_note = next(n for n in notes if n["error_code"] == "GroundFailure")
        assert datetime.fromisoformat(ground_note["since"]).timestamp() == int(since)
        await station.notify(
            event("GroundIsolationProtection", "Problem", "false", event_id=7),
            event("TemperatureSensor", "Temperature", "60", cleared=True, event_id=8),
        )

        async def none_left():
            assert errors_by_connector(await exporter.scrape(), "CS-MULTI") == {}

        await eventually(none_left)
    finally:
        await station.close()


async def test_a_connector_status_outside_the_enum_is_recorded_as_unknown(exporter):
    # Regression: the schema relaxation edited the property, not the $ref'd enum definition, so
    # this was refused with PropertyConstraintViolation although the docs promise Unknown.
    async with websockets.connect(f"{exporter.ocpp_url}/CS-ODD", subprotocols=["ocpp2.0.1"]) as ws:
        status = {"timestamp": now(), "connectorStatus": "Charging", "evseId": 1, "connectorId": 1}
        answer = await _rpc(ws, [2, "s1", "StatusNotification", status])
        assert answer == [3, "s1", {}]

        async def unknown():
            scrape = await exporter.scrape()
            statuses = samples(scrape, "ocpp_connector_status", station="CS-ODD")
            assert [(lab["connector"], lab["status"]) for lab, _ in statuses] == [("1", "Unknown")]
            violations = samples(
                scrape,
                "ocpp_exporter_schema_violations_total",
                action="StatusNotification",
            )
            assert violations and violations[0][1] == 1

        await eventually(unknown)


async def test_faulted_status_yields_to_the_reported_cause(exporter):
    station = await connect_station201(exporter.ocpp_url, "CS-F")
    try:
        await station.boot()
        await station.status(1, 1, "Faulted")

        async def unknown():
            assert errors_by_connector(await exporter.scrape(), "CS-F") == {"1": {"Unknown"}}

        await eventually(unknown)
        await station.notify(event("OverCurrentProtection", "Operated"))

        async def cause():
            assert errors_by_connector(await exporter.scrape(), "CS-F") == {
                "1": {"OverCurrentFailure"}
            }

        await eventually(cause)
        # Back in service: the event-raised problem is cleared by its own event, not the status.
        await station.status(1, 1, "Available")
        await station.notify(event("OverCurrentProtection", "Operated", cleared=True))

        async def clear():
            assert errors_by_connector(await exporter.scrape(), "CS-F") == {}

        await eventually(clear)
    finally:
        await station.close()


async def test_a_16_and_a_201_station_side_by_side(exporter):
    old = await exporter.station("CP-16")
    new = await connect_station201(exporter.ocpp_url, "CS-201")
    try:
        await old.boot()
        await new.boot()
        await old.status(1, "Faulted", "GroundFailure")
        await new.status(1, 1, "Faulted")
        await new.notify(event("RCD", "Tripped"))

        async def both():
            scrape = await exporter.scrape()
            assert errors_by_connector(scrape, "CP-16") == {"1": {"GroundFailure"}}
            assert errors_by_connector(scrape, "CS-201") == {"1": {"GroundFailure"}}
            return scrape

        scrape = await eventually(both)
        versions = {
            lab["station"]: lab["ocpp_version"] for lab, _ in samples(scrape, "ocpp_station_info")
        }
        assert versions == {"CP-16": "1.6", "CS-201": "2.0.1"}
        # The same label set for both versions: one alert rule covers both.
        shapes = {lab["station"]: sorted(lab) for lab, _ in samples(scrape, "ocpp_connector_error")}
        assert shapes["CP-16"] == shapes["CS-201"]
        notes = {n["station"]: n for n in await exporter.notifications(kind="ocpp_error")}
        assert notes["CP-16"]["severity"] == notes["CS-201"]["severity"] == "critical"
        assert notes["CS-201"]["status"] == "Faulted"
    finally:
        await old.close()
        await new.close()


async def test_resync_after_reconnect_keeps_event_problems(exporter):
    station = await connect_station201(exporter.ocpp_url, "CS-RS")
    await station.boot()
    await station.status(1, 1, "Faulted")
    await station.status(2, 1, "Faulted")
    await station.notify(event("RCD", "Tripped", evse=1))

    async def before():
        assert errors_by_connector(await exporter.scrape(), "CS-RS") == {
            "1": {"GroundFailure"},
            "2": {"Unknown"},
        }

    await eventually(before)
    await station.close()
    # Back online: EVSE 1 re-reports, EVSE 2 was repaired while the link was down and says nothing.
    again = await connect_station201(exporter.ocpp_url, "CS-RS")
    again.current = {(1, 1): "Faulted"}
    try:

        async def after():
            scrape = await exporter.scrape()
            assert samples(scrape, "ocpp_exporter_resyncs_total", result="completed")
            assert errors_by_connector(scrape, "CS-RS") == {"1": {"GroundFailure"}}

        await eventually(after)
        # One trigger per connector it had reported, each naming it (F06.FR.13).
        assert again.triggers == ["StatusNotification", "StatusNotification"]
        assert again.trigger_evses == [(1, 1), (2, 1)]
    finally:
        await again.close()


async def test_other_actions_are_answered_schema_valid(exporter):
    # The ocpp client validates every CALLRESULT against the 2.0.1 response schemas.
    station = await connect_station201(exporter.ocpp_url, "CS-ACT")
    token = {"idToken": "04A2B3C4", "type": "ISO14443"}
    try:
        await station.boot()
        auth = await station.call(call.Authorize(id_token=token))
        assert auth.id_token_info["status"] == "Accepted"
        tx = await station.call(
            call.TransactionEvent(
                event_type="Started",
                timestamp=now(),
                trigger_reason="Authorized",
                seq_no=0,
                transaction_info={"transactionId": "tx-1"},
                id_token=token,
                evse={"id": 1, "connectorId": 1},
            )
        )
        assert tx.id_token_info["status"] == "Accepted"
        await station.call(
            call.MeterValues(
                evse_id=1, meter_value=[{"timestamp": now(), "sampledValue": [{"value": 7.2}]}]
            )
        )
        await station.call(call.FirmwareStatusNotification(status="Downloading"))
        for kind in ("TamperDetectionActivated", "TamperDetectionActivated", "FirmwareUpdated"):
            await station.call(call.SecurityEventNotification(type=kind, timestamp=now()))

        async def check():
            scrape = await exporter.scrape()
            counted = {
                lab["type"]: v for lab, v in samples(scrape, "ocpp_exporter_security_events_total")
            }
            assert counted == {"TamperDetectionActivated": 2, "FirmwareUpdated": 1}
            assert samples(
                scrape, "ocpp_station_firmware_update_in_progress", station="CS-ACT"
            ) == [({"station": "CS-ACT", "site": "unassigned"}, 1.0)]
            frames = {
                lab["action"]
                for lab, _ in samples(scrape, "ocpp_exporter_frames_total", result="accepted")
            }
            assert {
                "Authorize",
                "TransactionEvent",
                "MeterValues",
                "SecurityEventNotification",
            } <= frames

        await eventually(check)
    finally:
        await station.close()


async def _rpc(ws: Any, frame: list[Any]) -> list[Any]:
    """Send one frame, return the answer to it (skipping the exporter's own TriggerMessage)."""
    await ws.send(json.dumps(frame))
    while True:
        message = json.loads(await ws.recv())
        if message[0] != 2 and message[1] == frame[1]:
            return message


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ([2, "f1", "Heartbeat"], "RpcFrameworkError"),
        ([7, "f2", {}], "MessageTypeNotSupported"),
        ([2, "f3", "Heartbeat", []], "FormatViolation"),
        ([2, "f4", "StatusNotification", {"evseId": 1}], "OccurrenceConstraintViolation"),
        (
            [
                2,
                "f5",
                "BootNotification",
                {"reason": "PowerUp", "chargingStation": {"model": "m", "vendorName": "v", "x": 1}},
            ],
            "FormatViolation",
        ),
        (
            [
                2,
                "f6",
                "StatusNotification",
                {
                    "timestamp": "t",
                    "connectorStatus": "Available",
                    "evseId": "one",
                    "connectorId": 1,
                },
            ],
            "TypeConstraintViolation",
        ),
        ([2, "f7", "NoSuchAction", {}], "NotImplemented"),
        ([2, "f8", "SignCertificate", {"csr": "x"}], "NotSupported"),
    ],
)
async def test_bad_frames_get_201_error_codes(exporter, frame, code):
    async with websockets.connect(f"{exporter.ocpp_url}/CS-BAD", subprotocols=["ocpp2.0.1"]) as ws:
        answer = await _rpc(ws, frame)
    assert answer[0] == 4
    assert answer[2] == code


async def test_16_keeps_its_own_error_spellings(exporter):
    async with websockets.connect(f"{exporter.ocpp_url}/CP-BAD", subprotocols=["ocpp1.6"]) as ws:
        assert (await _rpc(ws, [2, "g1", "Heartbeat"]))[2] == "FormationViolation"
        assert (await _rpc(ws, [7, "g2", {}]))[2] == "ProtocolError"
        assert (await _rpc(ws, [2, "g3", "StatusNotification", {}]))[
            2
        ] == "OccurenceConstraintViolation"


@pytest.mark.parametrize(
    ("offered", "chosen", "version"),
    [
        (("ocpp2.0.1", "ocpp1.6"), "ocpp2.0.1", "2.0.1"),
        (("ocpp1.6", "ocpp2.0.1"), "ocpp1.6", "1.6"),
        (("ocpp2.1", "ocpp2.0.1"), "ocpp2.1", "2.1"),
        (("ocpp2.0.1", "ocpp2.1", "ocpp1.6"), "ocpp2.0.1", "2.0.1"),
        (("ocpp3.0", "ocpp1.6", "ocpp2.1"), "ocpp1.6", "1.6"),
    ],
)
async def test_the_client_order_of_preference_picks_the_version(exporter, offered, chosen, version):
    async with websockets.connect(f"{exporter.ocpp_url}/CS-PICK", subprotocols=list(offered)) as ws:
        assert ws.subprotocol == chosen
        boot = {
            "1.6": [
                2,
                "b1",
                "BootNotification",
                {"chargePointVendor": "v", "chargePointModel": "m"},
            ],
            "2.0.1": [
                2,
                "b1",
                "BootNotification",
                {"reason": "PowerUp", "chargingStation": {"vendorName": "v", "model": "m"}},
            ],
        }[version if version == "1.6" else "2.0.1"]
        answer = await _rpc(ws, boot)
        assert answer[0] == 3 and answer[2]["status"] == "Accepted"
    info = samples(await exporter.scrape(), "ocpp_station_info", station="CS-PICK")
    assert info[0][0]["ocpp_version"] == version
