"""`ocpp-exporter pager` over real HTTP: Alertmanager-shaped notifications become pages (a
resolved notification updates its page), bad bodies get a 400 that says what is wrong, and the
page escapes what alerts carry."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from exporter.pager.app import MAX_BODY, Pager, build_app


@pytest.fixture
async def pager() -> AsyncIterator[tuple[Pager, str]]:
    pager = Pager(max_pages=3)
    runner = web.AppRunner(build_app(pager))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield pager, f"http://127.0.0.1:{runner.addresses[0][1]}"
    await runner.cleanup()


def notification(status: str, *alerts: dict[str, Any]) -> dict[str, Any]:
    return {"version": "4", "status": status, "receiver": "pager", "alerts": list(alerts)}


def alert(status: str, fingerprint: str, **labels: str) -> dict[str, Any]:
    return {
        "status": status,
        "fingerprint": fingerprint,
        "labels": {"alertname": "OcppConnectorGroundFailure", "severity": "critical", **labels},
        "annotations": {
            "summary": "Ground fault on station <b>CP-1</b> connector 1",
            "description": "Current leaks to earth.",
            "resolution": "1. Keep the connector out of service.\n2. Call an electrician.",
            "runbook_url": "https://example.invalid/runbook",
        },
        "startsAt": "2026-11-30T20:00:00Z",
        "endsAt": "0001-01-01T00:00:00Z",
    }


async def post(url: str, body: Any, raw: bytes | None = None) -> tuple[int, str]:
    data = raw if raw is not None else json.dumps(body).encode()
    async with (
        aiohttp.ClientSession() as http,
        http.post(url, data=data, headers={"Content-Type": "application/json"}) as r,
    ):
        return r.status, await r.text()


async def test_a_page_fires_shows_its_steps_and_resolves(pager):
    state, url = pager
    firing = alert("firing", "f1", station="CP-1", connector="1", site="north")
    assert await post(url + "/alerts/pager", notification("firing", firing)) == (200, "ok\n")
    (page,) = state.ordered()
    assert (page.status, page.receiver, page.steps) == (
        "firing",
        "pager",
        ["Keep the connector out of service.", "Call an electrician."],
    )
    async with aiohttp.ClientSession() as http, http.get(url + "/") as r:
        shown = await r.text()
        assert r.headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert "&lt;b&gt;CP-1&lt;/b&gt;" in shown and "<b>CP-1</b>" not in shown
    assert "<li>Call an electrician.</li>" in shown

    resolved = alert("resolved", "f1", station="CP-1", connector="1", site="north")
    assert (await post(url + "/alerts/pager", notification("resolved", resolved)))[0] == 200
    (page,) = state.ordered()
    assert (page.status, page.received) == ("resolved", 2)


async def test_pages_are_bounded_firing_ones_kept_longest(pager):
    state, url = pager
    await post(url + "/alerts/pager", notification("firing", alert("firing", "keep")))
    for n in range(5):
        await post(url + "/alerts/ticket", notification("resolved", alert("resolved", f"r{n}")))
    assert len(state.pages) == 3
    assert ("pager", "keep") in state.pages


@pytest.mark.parametrize(
    ("path", "body", "raw", "message"),
    [
        ("/alerts/pager", None, b"{not json", "body is not JSON"),
        ("/alerts/pager", [], None, "expected a JSON object"),
        ("/alerts/pager", {"alerts": {}}, None, "alerts: expected a list"),
        ("/alerts/pager", {"alerts": [{"status": "maybe"}]}, None, "alerts[0].status"),
        (
            "/alerts/pager",
            {"alerts": [{"status": "firing", "labels": {"a": 1}}]},
            None,
            "alerts[0].labels.a: expected a string",
        ),
        ("/alerts/bad%20name", {"alerts": []}, None, "receiver:"),
    ],
)
async def test_bad_notifications_are_refused_with_the_reason(pager, path, body, raw, message):
    state, url = pager
    status, text = await post(url + path, body, raw)
    assert status == 400 and message in text
    assert state.pages == {}


async def test_an_oversized_body_is_refused(pager):
    _, url = pager
    status, _ = await post(url + "/alerts/pager", None, b"[" + b" " * MAX_BODY + b"]")
    assert status == 413
