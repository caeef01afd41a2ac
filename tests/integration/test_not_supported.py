"""Which station-initiated actions get NotSupported: exactly the ones docs/ocpp-actions.md lists,
the same in 1.6, 2.0.1 and 2.1, over real websockets; every other action a station may send is
answered (a CALLRESULT, or a schema error for the empty payload sent here, never NotSupported)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import websockets

ROOT = Path(__file__).resolve().parents[2]

#: The actions a station sends, per version, from the specifications (1.6 edition 2 with the
#: security whitepaper; 2.0.1 part 2; 2.1 part 2), written out here rather than read from the
#: exporter.
STATION_ACTIONS = {
    "ocpp1.6": [
        "Authorize",
        "BootNotification",
        "DataTransfer",
        "DiagnosticsStatusNotification",
        "FirmwareStatusNotification",
        "Heartbeat",
        "MeterValues",
        "StartTransaction",
        "StatusNotification",
        "StopTransaction",
        "LogStatusNotification",
        "SecurityEventNotification",
        "SignCertificate",
        "SignedFirmwareStatusNotification",
    ],
    "ocpp2.0.1": [
        "Authorize",
        "BootNotification",
        "ClearedChargingLimit",
        "DataTransfer",
        "FirmwareStatusNotification",
        "Get15118EVCertificate",
        "GetCertificateStatus",
        "Heartbeat",
        "LogStatusNotification",
        "MeterValues",
        "NotifyChargingLimit",
        "NotifyCustomerInformation",
        "NotifyDisplayMessages",
        "NotifyEVChargingNeeds",
        "NotifyEVChargingSchedule",
        "NotifyEvent",
        "NotifyMonitoringReport",
        "NotifyReport",
        "PublishFirmwareStatusNotification",
        "ReportChargingProfiles",
        "ReservationStatusUpdate",
        "SecurityEventNotification",
        "SignCertificate",
        "StatusNotification",
        "TransactionEvent",
    ],
}
STATION_ACTIONS["ocpp2.1"] = sorted(
    [
        *STATION_ACTIONS["ocpp2.0.1"],
        "BatterySwap",
        "ClosePeriodicEventStream",
        "GetCertificateChainStatus",
        "NotifyDERAlarm",
        "NotifyDERStartStop",
        "NotifyPriorityCharging",
        "NotifySettlement",
        "OpenPeriodicEventStream",
        "PullDynamicScheduleUpdate",
        "ReportDERControl",
        "VatNumberValidation",
    ]
)
VERSION_OF = {"ocpp1.6": "1.6", "ocpp2.0.1": "2.0.1", "ocpp2.1": "2.1"}


def documented() -> dict[str, set[str]]:
    """action -> the versions docs/ocpp-actions.md says answer it with NotSupported."""
    text = (ROOT / "docs" / "ocpp-actions.md").read_text()
    section = text.split("## Answered with `NotSupported`", 1)[1].split("\n## ", 1)[0]
    out: dict[str, set[str]] = {}
    for action, versions in re.findall(r"^\| `(\w+)` \| ([^|]+) \|", section, re.M):
        out[action] = set(re.findall(r"\b(1\.6|2\.0\.1|2\.1)\b", versions))
    return out


async def answer(ws: websockets.ClientConnection, action: str) -> list:
    await ws.send(json.dumps([2, f"id-{action}", action, {}]))
    while True:
        reply = json.loads(await ws.recv())
        if reply[0] == 2:  # the exporter's own TriggerMessage after the connect
            await ws.send(json.dumps([3, reply[1], {"status": "Rejected"}]))
            continue
        assert reply[1] == f"id-{action}", reply
        return reply


async def test_not_supported_is_exactly_what_the_docs_list_in_every_version(exporter):
    docs = documented()
    assert docs, "docs/ocpp-actions.md lists no NotSupported action"
    # Consistent across versions: an action declined in one is declined in every version
    # that has it.
    for action, versions in docs.items():
        having = {VERSION_OF[p] for p, actions in STATION_ACTIONS.items() if action in actions}
        assert versions == having, (action, versions, having)
    for protocol, actions in STATION_ACTIONS.items():
        url = f"{exporter.ocpp_url}/CP-ACTIONS-{protocol[-3:]}"
        async with websockets.connect(url, subprotocols=[protocol]) as ws:
            for action in actions:
                reply = await answer(ws, action)
                declined = reply[0] == 4 and reply[2] == "NotSupported"
                expected = VERSION_OF[protocol] in docs.get(action, set())
                assert declined == expected, (protocol, action, reply)
                if declined:
                    assert "monitoring endpoint" in reply[3], reply
                else:
                    assert reply[0] == 3 or reply[2] != "NotImplemented", (protocol, action, reply)
