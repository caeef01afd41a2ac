"""Property-based fuzzing of OCPP-J frames and payloads against a live exporter.

The exporter runs on its own event loop in a thread; hypothesis drives a synchronous
`websockets` client. Properties: the service survives, every CALL gets the answer the OCPP-J
spec asks for (a CALLRESULT, or a CALLERROR with a spec error code and the same message id), a
witness station's state does not move, and the number of series stays bounded."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from exporter import service
from exporter.config.model import Limits
from exporter.persistence.store import encode
from exporter.protocol import v16, v21
from exporter.protocol.rpc import RPC_ERROR_CODES_2X
from tests.support.in_process import loopback_config as make_config
from tests.support.ports import bound_port
from tests.support.scrape import Scrape, fetch_blocking

SPEC_ERROR_CODES = {
    "NotImplemented",
    "NotSupported",
    "InternalError",
    "ProtocolError",
    "SecurityError",
    "FormationViolation",
    "PropertyConstraintViolation",
    "OccurenceConstraintViolation",
    "TypeConstraintViolation",
    "GenericError",
}
LIMITS = replace(
    Limits(),
    max_label_length=24,
    max_connectors_per_station=6,
    max_error_info_series=40,
    max_stations=50,
    max_messages_per_second=0,  # the fuzzer sends as fast as it can
)
FUZZ_SETTINGS = settings(
    max_examples=600,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@dataclass
class Live:
    svc: service.Service
    loop: asyncio.AbstractEventLoop
    ocpp_port: int
    metrics_port: int

    def url(self, station_id: str) -> str:
        return f"ws://127.0.0.1:{self.ocpp_port}/ocpp/{station_id}"

    def on_loop(self, fn: Any) -> Any:
        async def call() -> Any:
            return fn()

        return asyncio.run_coroutine_threadsafe(call(), self.loop).result(10)

    def station_state(self, station_id: str) -> dict[str, Any]:
        state = json.loads(self.on_loop(lambda: encode(self.svc.fleet.stations[station_id])))
        state.pop("last_seen")  # pongs move it; everything else must stay
        return state

    def scrape(self) -> Scrape:
        return fetch_blocking(f"http://127.0.0.1:{self.metrics_port}")


@pytest.fixture(scope="module")
def live() -> Iterator[Live]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    config = replace(make_config(resync_window=0.3, call_timeout=1.0), limits=LIMITS)
    svc = service.build(config)
    runners = asyncio.run_coroutine_threadsafe(service.start(svc), loop).result(30)
    yield Live(svc, loop, bound_port(runners[0]), bound_port(runners[1]))
    asyncio.run_coroutine_threadsafe(service.stop(svc, runners), loop).result(30)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)
    loop.close()


class Client:
    """One station's connection; answers nothing the exporter asks (its re-sync times out)."""

    def __init__(self, live: Live, station_id: str, subprotocol: str = "ocpp1.6") -> None:
        self.live = live
        self.station_id = station_id
        self.subprotocol = subprotocol
        self.ws: ClientConnection | None = None
        self.probes = 0
        # Answers that came while another was awaited: none is due (each frame is awaited).
        self.strays: list[list[Any]] = []
        self._stack = contextlib.ExitStack()

    def connection(self) -> ClientConnection:
        if self.ws is None:
            self.ws = self._stack.enter_context(
                connect(self.live.url(self.station_id), subprotocols=[self.subprotocol], proxy=None)
            )
        return self.ws

    def send(self, text: str) -> None:
        self.connection().send(text)

    def reply(self, unique_id: str, timeout: float = 10) -> list[Any]:
        assert self.ws is not None
        while True:
            frame = json.loads(self.ws.recv(timeout=timeout))
            assert isinstance(frame, list) and frame[0] in (2, 3, 4), frame
            if frame[0] != 2 and frame[1] == unique_id:
                return frame
            if frame[0] != 2:
                self.strays.append(frame)

    def call(self, action: str, payload: dict[str, Any]) -> list[Any]:
        self.probes += 1
        unique_id = f"probe-{self.probes}"
        self.send(json.dumps([2, unique_id, action, payload]))
        return self.reply(unique_id)

    def close(self) -> None:
        self._stack.close()
        self.ws = None


# -- strategies ----------------------------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=80),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=20), children, max_size=5)
    ),
    max_leaves=20,
)
unique_ids = st.text(min_size=1, max_size=36).filter(lambda s: not s.startswith("probe-"))
actions = st.sampled_from(sorted(v16.KNOWN_ACTIONS)) | st.text(max_size=40)
field_values = st.one_of(
    json_values,
    st.integers(min_value=-5, max_value=40),
    st.sampled_from(sorted(v16.ERROR_CODES | v16.STATUSES)),
    st.text(max_size=600),
)
status_payloads = st.fixed_dictionaries(
    {
        "connectorId": st.integers(min_value=-3, max_value=40) | json_values,
        "errorCode": st.sampled_from(sorted(v16.ERROR_CODES)) | st.text(max_size=60),
        "status": st.sampled_from(sorted(v16.STATUSES)) | st.text(max_size=60),
    },
    optional={
        "info": st.text(max_size=200) | json_values,
        "vendorId": st.text(max_size=300),
        "vendorErrorCode": st.text(max_size=300),
        "timestamp": st.text(max_size=30),
    },
)
payloads = st.one_of(
    st.dictionaries(
        st.sampled_from(
            [
                "connectorId",
                "errorCode",
                "status",
                "info",
                "chargePointVendor",
                "chargePointModel",
                "firmwareVersion",
                "vendorId",
                "data",
                "idTag",
                "meterStart",
            ]
        )
        | st.text(max_size=20),
        field_values,
        max_size=8,
    ),
    status_payloads,
)
#: StatusNotifications over many connectors and codes, to push the series bounds.
status_frames = st.tuples(unique_ids, status_payloads).map(
    lambda t: json.dumps([2, t[0], "StatusNotification", t[1]])
)
calls = st.tuples(unique_ids, actions, payloads).map(lambda t: json.dumps([2, *t]))
frames = st.one_of(
    calls,
    st.tuples(st.just("StatusNotification"), status_payloads).map(
        lambda t: json.dumps([2, "sn", *t])
    ),
    st.text(max_size=300),
    st.lists(json_values, max_size=6).map(json.dumps),
    st.tuples(st.sampled_from([3, 4]), unique_ids, json_values).map(lambda t: json.dumps(list(t))),
    st.tuples(st.integers(-1, 6) | json_values, json_values, json_values, json_values).map(
        lambda t: json.dumps(list(t))
    ),
)


def expected_call_id(text: str) -> str | None:
    """The message id the spec requires an answer to, for a frame that is a CALL."""
    try:
        message = json.loads(text)
    except ValueError:
        return None
    if (
        isinstance(message, list)
        and len(message) == 4
        and message[0] == 2
        and isinstance(message[1], str)
        and 0 < len(message[1]) <= 36
        and isinstance(message[2], str)
    ):
        return message[1]
    return None


# -- properties ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def witness(live: Live) -> Iterator[dict[str, Any]]:
    client = Client(live, "WITNESS")
    assert (
        client.call("BootNotification", {"chargePointVendor": "W", "chargePointModel": "M"})[0] == 3
    )
    client.call(
        "StatusNotification",
        {"connectorId": 1, "errorCode": "GroundFailure", "status": "Faulted", "info": "witness"},
    )
    yield live.station_state("WITNESS")
    client.close()


@pytest.fixture(scope="module")
def fuzzer(live: Live) -> Iterator[Client]:
    client = Client(live, "FUZZ")
    yield client
    client.close()


@FUZZ_SETTINGS
@given(frame=frames)
def test_any_frame_is_answered_as_the_spec_says(live, witness, fuzzer, frame):
    try:
        fuzzer.send(frame)
        unique_id = expected_call_id(frame)
        if unique_id is not None:
            answer = fuzzer.reply(unique_id)
            assert answer[0] in (3, 4), answer
            if answer[0] == 4:
                assert answer[2] in SPEC_ERROR_CODES - {"InternalError"}, answer
                assert isinstance(answer[3], str) and len(answer[3]) <= 255
        # the session is still usable afterwards
        assert fuzzer.call("Heartbeat", {})[0] == 3
    except ConnectionClosed:
        # closing is allowed only for what the spec says is not OCPP-J (nothing text-based here)
        fuzzer.close()
        raise
    assert live.station_state("WITNESS") == witness


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
    ],
)
@given(batch=st.lists(frames | status_frames, min_size=10, max_size=60))
def test_no_internal_errors_and_bounded_series(live, witness, fuzzer, batch):
    # Feeds its own input, so it holds whether or not another test of this module ran first.
    for frame in batch:
        fuzzer.send(frame)
    # Frames of one session are handled in order: once this is answered, the batch is in.
    assert fuzzer.call("Heartbeat", {})[0] == 3
    stats = live.svc.stats
    assert not [k for k in stats.frames if k[1] == "internal_error"]
    scrape = live.scrape()
    infos = scrape.get("ocpp_connector_error_info", [])
    assert len(infos) <= LIMITS.max_error_info_series
    for labels, _ in infos:
        for name in ("vendor_id", "vendor_error_code", "info"):
            assert len(labels[name]) <= LIMITS.max_label_length
    for labels, _ in scrape.get("ocpp_connector_status", []):
        assert 0 <= int(labels["connector"]) <= LIMITS.max_connectors_per_station
        assert len(labels["status"]) <= LIMITS.max_label_length
    codes = {labels["error_code"] for labels, _ in scrape.get("ocpp_connector_error", [])}
    assert codes <= v16.ERROR_CODES | {"Unknown"}
    assert len(scrape["ocpp_station_connected"]) <= LIMITS.max_stations


@settings(max_examples=60, deadline=None)
@given(station_id=st.text(min_size=0, max_size=60))
def test_any_station_id_in_the_path(live, witness, station_id):
    url = live.url(urllib.parse.quote(station_id, safe=""))
    try:
        with connect(url, subprotocols=["ocpp1.6"], proxy=None, open_timeout=10):
            pass
    except InvalidStatus as exc:
        assert exc.response.status_code in (400, 404, 503), exc.response.status_code
    assert live.station_state("WITNESS") == witness


# -- OCPP 2.1 ------------------------------------------------------------------------------

actions21 = st.sampled_from(sorted(v21.KNOWN_ACTIONS | v21.SEND_ACTIONS)) | st.text(max_size=40)
message_ids = unique_ids | st.text(min_size=37, max_size=40) | json_values
frames21 = st.one_of(
    st.tuples(st.sampled_from([2, 6]), message_ids, actions21, payloads).map(
        lambda t: json.dumps(list(t))
    ),
    st.text(max_size=300),
    st.lists(json_values, max_size=6).map(json.dumps),
    st.tuples(st.integers(-1, 8) | json_values, message_ids, json_values, json_values).map(
        lambda t: json.dumps(list(t))
    ),
)


def expected_21_answer_id(text: str) -> str | None:
    """OCPP-J 2.1: the message id of the answer a frame must get, None for none. Responses
    (3, 4, 5) and SENDs (6) are never answered; anything else is, to its own message id when it
    can be read and to "-1" when it cannot (4.2.3)."""
    try:
        message = json.loads(text)
    except ValueError:
        return "-1"
    if not isinstance(message, list) or not message:
        return "-1"
    if message[0] in (3, 4, 5, 6):
        return None
    raw = message[1] if len(message) > 1 else None
    return raw if isinstance(raw, str) and 0 < len(raw) <= 36 else "-1"


@pytest.fixture(scope="module")
def fuzzer21(live: Live) -> Iterator[Client]:
    client = Client(live, "FUZZ21", subprotocol="ocpp2.1")
    yield client
    client.close()


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(frame=frames21)
def test_any_21_frame_is_answered_as_the_21_spec_says(live, witness, fuzzer21, frame):
    fuzzer21.strays.clear()
    fuzzer21.send(frame)
    unique_id = expected_21_answer_id(frame)
    if unique_id is not None:
        answer = fuzzer21.reply(unique_id)
        assert answer[0] in (3, 4), answer
        if answer[0] == 4:
            assert answer[2] in RPC_ERROR_CODES_2X - {"InternalError"}, answer
            assert isinstance(answer[3], str) and len(answer[3]) <= 255
        if unique_id == "-1":
            assert answer[0] == 4 and answer[2] in ("RpcFrameworkError", "FormatViolation")
    # Nothing else was answered (a SEND or a response gets nothing), and the session goes on.
    assert fuzzer21.call("Heartbeat", {})[0] == 3
    assert fuzzer21.strays == [], fuzzer21.strays
    assert live.station_state("WITNESS") == witness
