"""The exporter a user would write instead: the `ocpp` package's central-system example on
`websockets`, with prometheus_client Gauges updated in the handlers (labels set and removed by
hand) and prometheus_client's own threaded HTTP server for /metrics.

It is deliberately the straightforward version, written the way the package's README and
examples show, so that the benchmark compares against a realistic alternative, not a strawman.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from datetime import UTC, datetime

import websockets
from ocpp.routing import on
from ocpp.v16 import ChargePoint as Cp
from ocpp.v16 import call_result
from ocpp.v16.enums import Action, RegistrationStatus
from prometheus_client import Gauge, start_http_server

CONNECTED = Gauge("ocpp_station_connected", "Station connected", ["station"])
INFO = Gauge(
    "ocpp_station_info", "Station identity", ["station", "vendor", "model", "firmware_version"]
)
LAST_SEEN = Gauge("ocpp_station_last_seen_timestamp_seconds", "Last frame", ["station"])
STATUS = Gauge("ocpp_connector_status", "Connector status", ["station", "connector", "status"])
ERROR = Gauge("ocpp_connector_error", "Active error", ["station", "connector", "error_code"])

# What the handlers last set, so that the old label set can be removed by hand.
last_status: dict[tuple[str, str], str] = {}
last_error: dict[tuple[str, str], str] = {}


def now() -> str:
    return datetime.now(UTC).isoformat()


class ChargePoint(Cp):
    @on(Action.boot_notification)
    def on_boot_notification(
        self, charge_point_vendor: str, charge_point_model: str, **kwargs: object
    ):
        INFO.labels(
            self.id,
            charge_point_vendor,
            charge_point_model,
            str(kwargs.get("firmware_version", "")),
        ).set(1)
        LAST_SEEN.labels(self.id).set_to_current_time()
        return call_result.BootNotification(
            current_time=now(), interval=60, status=RegistrationStatus.accepted
        )

    @on(Action.heartbeat)
    def on_heartbeat(self):
        LAST_SEEN.labels(self.id).set_to_current_time()
        return call_result.Heartbeat(current_time=now())

    @on(Action.status_notification)
    def on_status_notification(
        self, connector_id: int, error_code: str, status: str, **kwargs: object
    ):
        key = (self.id, str(connector_id))
        old = last_status.get(key)
        if old is not None and old != status:
            STATUS.remove(self.id, key[1], old)
        STATUS.labels(self.id, key[1], status).set(1)
        last_status[key] = status
        old_error = last_error.pop(key, None)
        if old_error is not None and old_error != error_code:
            ERROR.remove(self.id, key[1], old_error)
        if error_code != "NoError":
            ERROR.labels(self.id, key[1], error_code).set(1)
            last_error[key] = error_code
        LAST_SEEN.labels(self.id).set_to_current_time()
        return call_result.StatusNotification()


async def on_connect(websocket):
    try:
        requested = websocket.request.headers["Sec-WebSocket-Protocol"]
    except KeyError:
        return await websocket.close()
    if websocket.subprotocol is None:
        logging.warning("protocols mismatched: %s", requested)
        return await websocket.close()
    charge_point_id = websocket.request.path.strip("/").split("/")[-1]
    cp = ChargePoint(charge_point_id, websocket)
    CONNECTED.labels(charge_point_id).set(1)
    try:
        await cp.start()
    except websockets.ConnectionClosed:
        pass
    finally:
        CONNECTED.labels(charge_point_id).set(0)


async def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--metrics-port", type=int, required=True)
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING)
    start_http_server(args.metrics_port, addr="127.0.0.1")
    server = await websockets.serve(on_connect, "127.0.0.1", args.port, subprotocols=["ocpp1.6"])
    await server.wait_closed()


if __name__ == "__main__":
    asyncio.run(main())
