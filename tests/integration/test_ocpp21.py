"""OCPP 2.1 stations end to end: the `ocpp` package's v21 ChargePoint over real websockets
against a real exporter (the package checks every answer against the 2.1 schemas), read back
through the real /metrics and notifications API."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from typing import Any

import pytest
import websockets
from ocpp.messages import CallResult as PackageCallResult
from ocpp.messages import validate_payload
from ocpp.v21 import call

from exporter.config.model import Config, RelaySettings
from tests.support.in_process import loopback_config
from tests.support.ocpp21_station import (
    AVAILABILITY_STATE,
    STATUS_NOTIFICATION,
    availability,
    connect_station21,
)
from tests.support.ocpp201_station import connect_station201, event, now
from tests.support.relay_csms import Csms
from tests.support.scrape import samples
from tests.support.waiting import eventually


def statuses(scrape: dict[str, Any], station: str) -> dict[str, str]:
    return {
        lab["connector"]: lab["status"]
        for lab, _ in samples(scrape, "ocpp_connector_status", station=station)
    }


def errors(scrape: dict[str, Any], station: str) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for labels, _ in samples(scrape, "ocpp_connector_error", station=station):
        out.setdefault(labels["connector"], set()).add(labels["error_code"])
    return out


async def test_a_21_station_reports_raises_clears_and_is_resynced(exporter):
    station = await connect_station21(exporter.ocpp_url, "CS-21")
    try:
        boot = await station.boot(vendor="Everest", model="Yak", firmwareVersion="2026.1")
        assert boot.status == "Accepted" and boot.interval > 0
        # One connector by StatusNotification, the others only by AvailabilityState events.
        await station.status(1, 1, "Occupied", remember=False)
        await station.availability(2, 1, "Available")
        await station.availability(2, 2, "Faulted")
        await station.availability(3, 1, "Charging")  # outside the 2.x enum

        async def reported():
            scrape = await exporter.scrape()
            info = samples(scrape, "ocpp_station_info", station="CS-21")
            assert info and info[0][0]["ocpp_version"] == "2.1"
            assert info[0][0]["vendor"] == "Everest"
            assert statuses(scrape, "CS-21") == {
                "1": "Occupied",
                "2": "Available",
                "2/2": "Faulted",
                "3": "Unknown",
            }
            # Faulted without a cause pages, exactly as from a StatusNotification.
            assert errors(scrape, "CS-21") == {"2/2": {"Unknown"}}

        await eventually(reported)

        # A problem names the cause; the station's severity rates an OtherError.
        await station.notify(
            event("RCD", "Tripped", evse=2, connector=2, event_id=1, severity=5),
            event("EmergencyStopSensor", "Tripped", evse=1, event_id=2, severity=1),
        )

        async def raised():
            scrape = await exporter.scrape()
            assert errors(scrape, "CS-21") == {"2/2": {"GroundFailure"}, "1": {"OtherError"}}
            notes = await exporter.notifications(kind="ocpp_error", station="CS-21")
            return {n["error_code"]: n["severity"] for n in notes}

        severities = await eventually(raised)
        # GroundFailure's severity is the code's own; the OtherError takes the event's 1.
        assert severities == {"GroundFailure": "critical", "OtherError": "critical"}

        await station.notify(
            event("EmergencyStopSensor", "Tripped", "false", evse=1, event_id=3, severity=1)
        )

        async def cleared():
            assert errors(await exporter.scrape(), "CS-21") == {"2/2": {"GroundFailure"}}

        await eventually(cleared)
    finally:
        await station.close()

    # Back online after repairs: 2/2 is Available again, 2 went Unavailable meanwhile.
    again = await connect_station21(exporter.ocpp_url, "CS-21")
    again.current = {(2, 1): "Unavailable", (2, 2): "Available", (3, 1): "Occupied"}
    try:

        async def resynced():
            scrape = await exporter.scrape()
            assert samples(scrape, "ocpp_exporter_resyncs_total", result="completed")
            assert statuses(scrape, "CS-21") == {
                "1": "Occupied",
                "2": "Unavailable",
                "2/2": "Available",
                "3": "Occupied",
            }
            # The event-raised problem stays until the station clears it (as in 2.0.1).
            assert errors(scrape, "CS-21") == {"2/2": {"GroundFailure"}}

        await eventually(resynced)
        # It asked for what the station uses, for every connector it knows, and nothing else.
        assert [kind for kind, _ in again.asked] == ["GetVariables"]
        assert sorted(again.asked[0][1]) == [
            ("Connector", 1, 1, AVAILABILITY_STATE),
            ("Connector", 2, 1, AVAILABILITY_STATE),
            ("Connector", 2, 2, AVAILABILITY_STATE),
            ("Connector", 3, 1, AVAILABILITY_STATE),
        ]
        await again.notify(
            event("RCD", "Tripped", "false", evse=2, connector=2, cleared=True, event_id=4)
        )

        async def none_left():
            assert errors(await exporter.scrape(), "CS-21") == {}

        await eventually(none_left)
    finally:
        await again.close()


async def test_a_station_on_status_notification_is_resynced_by_trigger_message(exporter):
    station = await connect_station21(exporter.ocpp_url, "CS-21SN", reports=STATUS_NOTIFICATION)
    await station.boot()
    await station.status(1, 1, "Faulted")
    await station.status(2, 1, "Faulted")

    async def faulted():
        assert errors(await exporter.scrape(), "CS-21SN") == {"1": {"Unknown"}, "2": {"Unknown"}}

    await eventually(faulted)
    await station.close()
    again = await connect_station21(exporter.ocpp_url, "CS-21SN", reports=STATUS_NOTIFICATION)
    again.current = {(1, 1): "Faulted"}
    try:

        async def resynced():
            scrape = await exporter.scrape()
            assert samples(scrape, "ocpp_exporter_resyncs_total", result="completed")
            # EVSE 2 did not re-report: its Faulted-without-cause goes.
            assert errors(scrape, "CS-21SN") == {"1": {"Unknown"}}

        await eventually(resynced)
        # One trigger per connector it had reported, each naming it (F06.FR.13).
        assert again.asked == [
            ("TriggerMessage", (STATUS_NOTIFICATION, (1, 1))),
            ("TriggerMessage", (STATUS_NOTIFICATION, (2, 1))),
        ]
    finally:
        await again.close()


async def test_a_station_refusing_get_variables_is_asked_by_trigger_message(exporter):
    station = await connect_station21(exporter.ocpp_url, "CS-21GV", answer_get_variables=False)
    await station.boot()
    await station.availability(1, 1, "Occupied")

    async def reported():
        assert statuses(await exporter.scrape(), "CS-21GV") == {"1": "Occupied"}

    await eventually(reported)
    await station.close()
    again = await connect_station21(
        exporter.ocpp_url, "CS-21GV", answer_get_variables=False, accept_trigger=False
    )
    try:

        async def refused():
            scrape = await exporter.scrape()
            # Both sessions' re-syncs were refused: the first connect's trigger (the station
            # was not known yet), and this one's GetVariables and then its trigger.
            rejected = samples(scrape, "ocpp_exporter_resyncs_total", result="rejected")
            assert rejected and rejected[0][1] == 2
            # Nothing re-reported, nothing lost: the last-known status stays.
            assert statuses(scrape, "CS-21GV") == {"1": "Occupied"}

        await eventually(refused)
        assert [kind for kind, _ in again.asked] == ["GetVariables", "TriggerMessage"]
        assert again.asked[1] == ("TriggerMessage", (STATUS_NOTIFICATION, (1, 1)))
    finally:
        await again.close()


async def test_station_and_evse_level_problems_land_on_their_labels(exporter):
    station = await connect_station21(exporter.ocpp_url, "CS-21L")
    try:
        await station.boot()
        await station.notify(
            event("ChargingStation", "Problem", evse=None, event_id=1, severity=7),
            event("EVSE", "Problem", evse=2, event_id=2),
            event("EVSE", AVAILABILITY_STATE, "Faulted", evse=2, trigger="Delta", event_id=3),
            event("ChargingStation", AVAILABILITY_STATE, "Unavailable", evse=None, event_id=4),
        )

        async def placed():
            scrape = await exporter.scrape()
            assert errors(scrape, "CS-21L") == {"0": {"OtherError"}, "2": {"OtherError"}}
            # The station's own availability is connector 0's status; an EVSE's is not used.
            assert statuses(scrape, "CS-21L") == {"0": "Unavailable"}
            ignored = samples(
                scrape, "ocpp_exporter_events_ignored_total", reason="evse_availability_state"
            )
            assert ignored and ignored[0][1] == 1
            notes = await exporter.notifications(kind="ocpp_error", station="CS-21L")
            return {n["connector"]: n["severity"] for n in notes}

        # Severity 7 (Notice) rates the station-level OtherError as info; without a severity
        # the catalog's warning stays.
        assert await eventually(placed) == {"0": "info", "2": "warning"}
    finally:
        await station.close()


async def test_a_201_station_reporting_by_availability_state(exporter):
    station = await connect_station201(exporter.ocpp_url, "CS-201AV")
    try:
        await station.boot()
        await station.notify(availability(1, 1, "Faulted", 1), availability(1, 2, "Occupied", 2))

        async def reported():
            scrape = await exporter.scrape()
            assert statuses(scrape, "CS-201AV") == {"1": "Faulted", "1/2": "Occupied"}
            assert errors(scrape, "CS-201AV") == {"1": {"Unknown"}}

        await eventually(reported)
        await station.notify(event("PowerContactor", "Problem", evse=1, event_id=3))

        async def cause():
            assert errors(await exporter.scrape(), "CS-201AV") == {"1": {"PowerSwitchFailure"}}

        await eventually(cause)
    finally:
        await station.close()


# Every action a 2.1 Charging Station may send, with a minimal valid payload; `None` for the
# ones the docs say are refused with NotSupported (the payload is not looked at).
TOKEN = {"idToken": "04A2B3C4", "type": "ISO14443"}
STATION_ACTIONS: dict[str, dict[str, Any] | None] = {
    "Authorize": {"idToken": TOKEN},
    "BatterySwap": {
        "batteryData": [{"evseId": 1, "serialNumber": "B1", "soC": 40.0, "soH": 90.0}],
        "eventType": "BatteryIn",
        "idToken": TOKEN,
        "requestId": 1,
    },
    "BootNotification": {"reason": "PowerUp", "chargingStation": {"model": "m", "vendorName": "v"}},
    "ClearedChargingLimit": {"chargingLimitSource": "EMS"},
    "ClosePeriodicEventStream": {"id": 1},
    "DataTransfer": {"vendorId": "com.example"},
    "FirmwareStatusNotification": {"status": "Downloaded"},
    "Heartbeat": {},
    "LogStatusNotification": {"status": "Uploaded"},
    "MeterValues": {
        "evseId": 1,
        "meterValue": [{"timestamp": now(), "sampledValue": [{"value": 1.0}]}],
    },
    "NotifyChargingLimit": {"chargingLimit": {"chargingLimitSource": "EMS"}},
    "NotifyCustomerInformation": {"data": "x", "seqNo": 0, "generatedAt": now(), "requestId": 1},
    "NotifyDERAlarm": {"controlType": "EnterService", "timestamp": now()},
    "NotifyDERStartStop": {"controlId": "c1", "started": True, "timestamp": now()},
    "NotifyDisplayMessages": {"requestId": 1},
    "NotifyEVChargingSchedule": {
        "timeBase": now(),
        "evseId": 1,
        "chargingSchedule": {
            "id": 1,
            "chargingRateUnit": "W",
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 1000.0}],
        },
    },
    "NotifyEvent": {
        "generatedAt": now(),
        "seqNo": 0,
        "eventData": [availability(1, 1, "Available", 1)],
    },
    "NotifyMonitoringReport": {"requestId": 1, "seqNo": 0, "generatedAt": now()},
    "NotifyPriorityCharging": {"transactionId": "t1", "activated": True},
    "NotifyReport": {"requestId": 1, "generatedAt": now(), "seqNo": 0},
    "NotifySettlement": {
        "pspRef": "p1",
        "status": "Settled",
        "settlementAmount": 10.0,
        "settlementTime": now(),
    },
    "OpenPeriodicEventStream": {
        "constantStreamData": {
            "id": 1,
            "params": {},
            "variableMonitoringId": 1,
        }
    },
    "PublishFirmwareStatusNotification": {"status": "Published"},
    "ReportChargingProfiles": {
        "requestId": 1,
        "chargingLimitSource": "EMS",
        "evseId": 1,
        "chargingProfile": [
            {
                "id": 1,
                "stackLevel": 0,
                "chargingProfilePurpose": "TxDefaultProfile",
                "chargingProfileKind": "Absolute",
                "chargingSchedule": [
                    {
                        "id": 1,
                        "chargingRateUnit": "W",
                        "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 1000.0}],
                    }
                ],
            }
        ],
    },
    "ReportDERControl": {"requestId": 1},
    "ReservationStatusUpdate": {"reservationId": 1, "reservationUpdateStatus": "Expired"},
    "SecurityEventNotification": {"type": "FirmwareUpdated", "timestamp": now()},
    "StatusNotification": {
        "timestamp": now(),
        "connectorStatus": "Available",
        "evseId": 1,
        "connectorId": 1,
    },
    "TransactionEvent": {
        "eventType": "Started",
        "timestamp": now(),
        "triggerReason": "Authorized",
        "seqNo": 0,
        "transactionInfo": {"transactionId": "tx-1"},
        "idToken": TOKEN,
    },
    # Certificates, ISO 15118, smart-charging schedules and payment belong to the CSMS.
    "Get15118EVCertificate": None,
    "GetCertificateChainStatus": None,
    "GetCertificateStatus": None,
    "NotifyEVChargingNeeds": None,
    "PullDynamicScheduleUpdate": None,
    "SignCertificate": None,
    "VatNumberValidation": None,
}


async def _answer(ws: Any, frame: list[Any], timeout: float = 5) -> list[Any]:
    """Send one frame, return the answer to it (skipping the exporter's own CALLs)."""
    await ws.send(json.dumps(frame))
    async with asyncio.timeout(timeout):
        while True:
            message = json.loads(await ws.recv())
            if message[0] != 2 and message[1] == frame[1]:
                return message


async def test_every_station_initiated_21_action_is_answered_schema_valid(exporter):
    async with websockets.connect(f"{exporter.ocpp_url}/CS-21ALL", subprotocols=["ocpp2.1"]) as ws:
        for n, (action, payload) in enumerate(STATION_ACTIONS.items()):
            unique_id = f"a{n}"
            answer = await _answer(ws, [2, unique_id, action, payload or {}])
            if payload is None:
                assert answer[0] == 4 and answer[2] == "NotSupported", (action, answer)
                continue
            assert answer[0] == 3, (action, answer)
            # The package's own 2.1 response schema for the action.
            await validate_payload(PackageCallResult(unique_id, answer[2], action), "2.1")
    scrape = await exporter.scrape()
    assert not samples(scrape, "ocpp_exporter_frames_total", result="internal_error")
    refused = samples(scrape, "ocpp_exporter_frames_total", action="OpenPeriodicEventStream")
    assert refused == [({"action": "OpenPeriodicEventStream", "result": "accepted"}, 1.0)]


async def test_sends_are_never_answered(exporter):
    station = await connect_station21(exporter.ocpp_url, "CS-21SEND")
    try:
        await station.boot()
        stream = {"id": 1, "pending": 0, "basetime": now(), "data": [{"t": 0, "v": "230.4"}]}
        await station.send_unconfirmed("NotifyPeriodicEventStream", stream)
        await station.send_unconfirmed("NotifyPeriodicEventStream", {"id": "not a number"})
        await station.send_unconfirmed("NoSuchStream", {})
        # The next CALL's answer is the next frame the exporter sends: nothing answered a SEND.
        heartbeat = await station.call(call.Heartbeat())
        assert heartbeat.current_time

        async def counted():
            scrape = await exporter.scrape()
            frames = {
                (lab["action"], lab["result"]): v
                for lab, v in samples(scrape, "ocpp_exporter_frames_total")
                if lab["action"] in ("NotifyPeriodicEventStream", "unknown")
            }
            assert frames == {
                ("NotifyPeriodicEventStream", "accepted"): 1,
                ("NotifyPeriodicEventStream", "invalid"): 1,
                ("unknown", "invalid"): 1,
            }

        await eventually(counted)
    finally:
        await station.close()


@pytest.mark.parametrize(
    ("frame", "answer"),
    [
        # OCPP-J 2.x 4.2.3: a CALL whose message id cannot be read is answered with id "-1".
        ([2, 42, "Heartbeat", {}], ["-1", "RpcFrameworkError"]),
        ([2, None, "Heartbeat", {}], ["-1", "RpcFrameworkError"]),
        ([2, "x" * 37, "Heartbeat", {}], ["-1", "RpcFrameworkError"]),
        ("[2, not json", ["-1", "FormatViolation"]),
        ({"messageTypeId": 2}, ["-1", "RpcFrameworkError"]),
        ([2, "r1", "Heartbeat"], ["r1", "RpcFrameworkError"]),
        ([9, "r2", {}], ["r2", "MessageTypeNotSupported"]),
        ([2, "r3", "NoSuchAction", {}], ["r3", "NotImplemented"]),
        ([2, "r4", "SignCertificate", {"csr": "x"}], ["r4", "NotSupported"]),
        ([2, "r5", "NotifyWebPaymentStarted", {"evseId": 1, "timeout": 1}], ["r5", "NotSupported"]),
    ],
)
@pytest.mark.parametrize("subprotocol", ["ocpp2.1", "ocpp2.0.1"])
async def test_bad_frames_get_2x_answers(exporter, subprotocol, frame, answer):
    if subprotocol == "ocpp2.0.1" and "NotifyWebPaymentStarted" in str(frame):
        answer = [answer[0], "NotImplemented"]  # not a 2.0.1 action at all
    async with websockets.connect(
        f"{exporter.ocpp_url}/CS-21BAD", subprotocols=[subprotocol]
    ) as ws:
        text = frame if isinstance(frame, str) else json.dumps(frame)
        await ws.send(text)
        async with asyncio.timeout(5):
            while (message := json.loads(await ws.recv()))[0] == 2:
                pass  # the exporter's own re-sync CALL
        assert message[0] == 4
        assert message[1:3] == answer
        assert isinstance(message[3], str) and message[4] == {}


async def test_16_does_not_answer_a_call_whose_id_cannot_be_read(exporter):
    # OCPP-J 1.6 4.2.3: a CallError carries the call's own UniqueId and no substitute exists.
    async with websockets.connect(f"{exporter.ocpp_url}/CP-16ID", subprotocols=["ocpp1.6"]) as ws:
        await ws.send(json.dumps([2, 42, "Heartbeat", {}]))
        await ws.send(json.dumps([2, "h1", "Heartbeat", {}]))
        async with asyncio.timeout(5):
            while (message := json.loads(await ws.recv()))[0] == 2:
                pass
        assert message[:2] == [3, "h1"]
    scrape = await exporter.scrape()
    assert samples(scrape, "ocpp_exporter_protocol_errors_total", reason="bad_unique_id")


async def test_a_callresulterror_is_counted_not_answered(exporter):
    async with websockets.connect(f"{exporter.ocpp_url}/CS-21CRE", subprotocols=["ocpp2.1"]) as ws:
        await ws.send(json.dumps([5, "e1", "FormatViolation", "bad answer", {}]))
        # A code outside the spec's list must not become a label value of its own.
        await ws.send(json.dumps([5, "e2", "Gremlins-" + "x" * 30, "bad answer", {}]))
        answer = await _answer(ws, [2, "h1", "Heartbeat", {}])
        assert answer[0] == 3
    scrape = await exporter.scrape()
    reasons = {
        lab["reason"]: v
        for lab, v in samples(scrape, "ocpp_exporter_protocol_errors_total")
        if lab["reason"].startswith("callresulterror_")
    }
    assert reasons == {"callresulterror_FormatViolation": 1, "callresulterror_other": 1}


def relay_to(upstream_url: str) -> Config:
    return replace(
        loopback_config(),
        mode="relay",
        relay=RelaySettings(upstream_url=upstream_url, connect_timeout=5.0),
    )


async def test_relay_forwards_ocpp21_and_observes_it(exporter_factory):
    """Station -> relay exporter -> standalone exporter as the central system, in 2.1."""
    upstream = await exporter_factory()
    relay = await exporter_factory(relay_to(upstream.ocpp_url))
    station = await connect_station21(relay.ocpp_url, "CS-21R")
    try:
        await station.boot(vendor="Relayed")
        await station.availability(1, 1, "Faulted")
        await station.notify(event("RCD", "Tripped", event_id=7))
        stream = {"id": 1, "pending": 0, "basetime": now(), "data": [{"t": 0, "v": "1"}]}
        await station.send_unconfirmed("NotifyPeriodicEventStream", stream)

        async def both_see_it(running):
            scrape = await running.scrape()
            info = samples(scrape, "ocpp_station_info", station="CS-21R")
            assert info and info[0][0]["ocpp_version"] == "2.1"
            assert statuses(scrape, "CS-21R") == {"1": "Faulted"}
            assert errors(scrape, "CS-21R") == {"1": {"GroundFailure"}}

        await eventually(lambda: both_see_it(upstream))
        await eventually(lambda: both_see_it(relay))

        async def upstream_got_the_send():
            sent = samples(
                await upstream.scrape(),
                "ocpp_exporter_frames_total",
                action="NotifyPeriodicEventStream",
            )
            assert sent == [({"action": "NotifyPeriodicEventStream", "result": "accepted"}, 1.0)]

        await eventually(upstream_got_the_send)
        # The relay neither answered nor miscounted the SEND as an unpaired response.
        unpaired = samples(
            await relay.scrape(),
            "ocpp_exporter_relay_unobserved_frames_total",
            reason="unexpected_response",
        )
        assert not unpaired
    finally:
        await station.close()


async def test_relay_offers_the_supported_subprotocols_in_the_stations_order(exporter_factory):
    csms = Csms()  # a 1.6-only central system
    await csms.start()
    try:
        relay = await exporter_factory(relay_to(csms.url))
        offered = ["ocpp2.1", "ocpp9.9", "ocpp1.6", "ocpp2.0.1"]
        async with websockets.connect(f"{relay.ocpp_url}/CP-21OFFER", subprotocols=offered) as ws:
            # The CSMS chose among what the relay forwarded; the station gets its choice.
            assert ws.subprotocol == "ocpp1.6"
        leg = csms.leg("CP-21OFFER")
        forwarded = [p.strip() for p in leg.headers["Sec-WebSocket-Protocol"].split(",")]
        assert forwarded == ["ocpp2.1", "ocpp1.6", "ocpp2.0.1"]
    finally:
        await csms.stop()
