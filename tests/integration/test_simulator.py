"""The fleet simulator against the real exporter: scripted faults, offline periods and reboots
show up in /metrics and the notifications API and clear again; TriggerMessage is answered; the
CLI stops cleanly on Ctrl-C."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import yaml

from exporter.simulator.fleet import (
    Simulator,
    parse_scenario,
)
from tests.support.in_process import Running
from tests.support.scrape import samples
from tests.support.waiting import eventually

ROOT = Path(__file__).resolve().parents[2]

SCENARIO = """
events:
  - at: 0.5s
    station: 1
    connector: 1
    error_code: GroundFailure
    status: Available
    vendor_id: SimCharge
    vendor_error_code: GF-017
    info: residual current monitor tripped
    duration: 3s
  - at: 0.5s
    station: 2
    offline: 2s
  - at: 0.5s
    station: 3
    reboot: true
"""


@contextlib.asynccontextmanager
async def simulated(running: Running, scenario: str, stations: int = 3) -> AsyncIterator[Simulator]:
    sim = Simulator(
        url=running.ocpp_url,
        stations=stations,
        connectors=2,
        scenario=parse_scenario(yaml.safe_load(scenario), "<test>"),
        reconnect_delay=0.2,
    )
    stop = asyncio.Event()
    task = asyncio.create_task(sim.run(stop))
    try:
        yield sim
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


def connector_errors(scrape, station: str) -> list[str]:
    return [
        lab["error_code"] for lab, _ in samples(scrape, "ocpp_connector_error", station=station)
    ]


async def test_scenario_faults_show_up_and_clear(exporter):
    async with simulated(exporter, SCENARIO):

        async def fault_raised():
            scrape = await exporter.scrape()
            assert connector_errors(scrape, "SIM-0001") == ["GroundFailure"]
            details = samples(scrape, "ocpp_connector_error_info", station="SIM-0001")
            assert len(details) == 1
            labels = details[0][0]
            assert labels["vendor_error_code"] == "GF-017"
            assert labels["status"] == "Available"
            notes = await exporter.notifications(kind="ocpp_error", station="SIM-0001")
            assert [(n["error_code"], n["status"], n["connector"]) for n in notes] == [
                ("GroundFailure", "Available", "1")
            ]

        await eventually(fault_raised, timeout=15)

        async def station_offline():
            scrape = await exporter.scrape()
            assert samples(scrape, "ocpp_station_connected", station="SIM-0002")[0][1] == 0

        await eventually(station_offline, timeout=15)

        async def rebooted_and_back():
            scrape = await exporter.scrape()
            boots = samples(scrape, "ocpp_station_boots_total", station="SIM-0003")
            assert boots[0][1] == 2
            assert samples(scrape, "ocpp_station_connected", station="SIM-0002")[0][1] == 1
            assert samples(scrape, "ocpp_station_connected", station="SIM-0003")[0][1] == 1

        await eventually(rebooted_and_back, timeout=20)

        async def fault_cleared():
            scrape = await exporter.scrape()
            assert connector_errors(scrape, "SIM-0001") == []
            status = samples(scrape, "ocpp_connector_status", station="SIM-0001", connector="1")
            assert [lab["status"] for lab, _ in status] == ["Available"]
            assert await exporter.notifications(kind="ocpp_error") == []

        await eventually(fault_cleared, timeout=15)


async def test_stations_boot_report_every_connector_and_answer_trigger_message(exporter):
    async with simulated(exporter, "", stations=2) as sim:

        async def all_reported():
            scrape = await exporter.scrape()
            for sid in ("SIM-0001", "SIM-0002"):
                infos = samples(scrape, "ocpp_station_info", station=sid)
                assert len(infos) == 1
                info = infos[0][0]
                assert info["vendor"] == "SimCharge"
                assert info["serial_number"] == f"SN-{sid}"
                status = samples(scrape, "ocpp_connector_status", station=sid)
                assert sorted(lab["connector"] for lab, _ in status) == ["0", "1", "2"]

        await eventually(all_reported, timeout=15)
        session = exporter.svc.ocpp.sessions["SIM-0001"]
        answer = await session.call("TriggerMessage", {"requestedMessage": "StatusNotification"})
        assert answer == {"status": "Accepted"}
        refused = await session.call("TriggerMessage", {"requestedMessage": "MeterValues"})
        assert refused == {"status": "NotImplemented"}

        async def answered():
            # The exporter's re-sync after each connect (2) and our two.
            assert sim.counters.triggers >= 4
            frames = await exporter.scrape()
            accepted = samples(
                frames,
                "ocpp_exporter_frames_total",
                action="StatusNotification",
                result="accepted",
            )
            # 2 stations x 3 connectors at boot, the exporter's own re-sync triggers, and ours.
            assert accepted[0][1] >= 6 + 3

        await eventually(answered, timeout=10)


async def test_fault_reported_while_offline_reaches_the_exporter_on_resync(exporter):
    scenario = """
events:
  - {at: 0.3s, station: 1, offline: 2s}
  - {at: 0.8s, station: 1, connector: 2, error_code: HighTemperature, status: Faulted}
"""
    async with simulated(exporter, scenario, stations=1):

        async def raised():
            scrape = await exporter.scrape()
            assert connector_errors(scrape, "SIM-0001") == ["HighTemperature"]
            assert samples(scrape, "ocpp_station_connected", station="SIM-0001")[0][1] == 1

        await eventually(raised, timeout=20)


async def test_cli_runs_a_fleet_and_stops_cleanly_on_sigint(exporter):
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "exporter",
        "simulate",
        "--url",
        exporter.ocpp_url,
        "--stations",
        "3",
        "--scenario",
        str(ROOT / "scenarios" / "demo.yaml"),
        "--progress",
        "0.5",
        cwd=ROOT,
        stderr=subprocess.PIPE,
    )
    try:

        async def connected():
            scrape = await exporter.scrape()
            up = [v for _, v in samples(scrape, "ocpp_station_connected") if v == 1]
            assert len(up) == 3

        await eventually(connected, timeout=20)
        assert proc.stderr is not None
        line = await asyncio.wait_for(proc.stderr.readline(), 10)
        assert b"stations connected" in line and b"frames/s" in line
        proc.send_signal(signal.SIGINT)
        rc = await asyncio.wait_for(proc.wait(), 15)
        rest = (await proc.stderr.read()).decode()
        assert rc == 0, rest
        assert "simulate: stopped" in rest
        assert "Traceback" not in rest

        async def disconnected():
            scrape = await exporter.scrape()
            assert [v for _, v in samples(scrape, "ocpp_station_connected")] == [0, 0, 0]

        await eventually(disconnected, timeout=10)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


CODED = """
ocpp201_stations: [2]
events:
  # ChargeX over 1.6, as EVerest sends it: the connector's status, not Faulted.
  - at: 0.2s
    station: 1
    connector: 1
    scheme: chargex
    code: cx014
    status: Preparing
    duration: 3s
  # EVgo compound with the readings paired by position.
  - at: 0.2s
    station: 1
    connector: 2
    scheme: evgo
    code: F000,F002
    info: "1.95,6.90"
    status: Finishing
  # The same scheme over 2.0.1: a NotifyEvent with techCode, cleared with cleared: true.
  - at: 0.2s
    station: 2
    connector: 1
    scheme: chargex
    code: CX002
    status: Faulted
    duration: 3s
"""


async def test_scheme_codes_over_16_and_201_show_their_own_text_and_clear(exporter):
    async with simulated(exporter, CODED, stations=2) as sim:
        assert sim.fleet["SIM-0002"].ocpp_version == "2.0.1"

        async def raised():
            notes = await exporter.notifications(kind="ocpp_error")
            found = {
                (n["station"], n["connector"], n["error_code"], n["vendor"]["code"]) for n in notes
            }
            assert found == {
                ("SIM-0001", "1", "OtherError", "CX014"),
                ("SIM-0001", "2", "OtherError", "F000"),
                ("SIM-0001", "2", "OtherError", "F002"),
                ("SIM-0002", "1", "GroundFailure", "CX002"),
            }
            return notes

        notes = await eventually(raised, timeout=15)
        readings = {n["vendor"]["code"]: n["vendor"]["reading"] for n in notes}
        assert (readings["F000"], readings["F002"]) == ("1.95", "6.90")
        scrape = await exporter.scrape()
        ((info, _),) = samples(scrape, "ocpp_station_info", station="SIM-0002")
        assert info["ocpp_version"] == "2.0.1"

        async def timed_faults_cleared():
            notes = await exporter.notifications(kind="ocpp_error")
            assert {(n["station"], n["vendor"]["code"]) for n in notes} == {
                ("SIM-0001", "F000"),
                ("SIM-0001", "F002"),
            }

        await eventually(timed_faults_cleared, timeout=15)


TWO_X = """
ocpp201_stations: [1]
ocpp21_stations: [2, 3]
availability_state_stations: [1, 2]
events:
  - {at: 0.3s, station: 1, connector: 1, error_code: GroundFailure, status: Faulted, duration: 2s}
  # SIM-0002 is offline when its connector 2 faults: only the re-sync (GetVariables, since it
  # reports by AvailabilityState events) can tell the exporter.
  - {at: 0.3s, station: 2, offline: 2s}
  - {at: 0.8s, station: 2, connector: 2, error_code: HighTemperature, status: Faulted}
"""


async def test_2x_stations_report_by_status_notification_or_availability_state(exporter):
    async with simulated(exporter, TWO_X, stations=3) as sim:
        assert [s.ocpp_version for s in sim.fleet.values()] == ["2.0.1", "2.1", "2.1"]

        def statuses(scrape, station: str) -> dict[str, str]:
            return {
                lab["connector"]: lab["status"]
                for lab, _ in samples(scrape, "ocpp_connector_status", station=station)
            }

        async def faulted_and_resynced():
            scrape = await exporter.scrape()
            versions = {
                lab["station"]: lab["ocpp_version"]
                for lab, _ in samples(scrape, "ocpp_station_info")
            }
            assert versions == {"SIM-0001": "2.0.1", "SIM-0002": "2.1", "SIM-0003": "2.1"}
            assert statuses(scrape, "SIM-0002") == {"1": "Available", "2": "Faulted"}
            # Faulted without a cause the station re-sent: it pages as Unknown.
            assert connector_errors(scrape, "SIM-0002") == ["Unknown"]
            assert statuses(scrape, "SIM-0003") == {"1": "Available", "2": "Available"}
            assert samples(scrape, "ocpp_station_connected", station="SIM-0002")[0][1] == 1

        await eventually(faulted_and_resynced, timeout=20)

        async def cleared():
            scrape = await exporter.scrape()
            assert statuses(scrape, "SIM-0001") == {"1": "Available", "2": "Available"}
            assert connector_errors(scrape, "SIM-0001") == []

        await eventually(cleared, timeout=15)
