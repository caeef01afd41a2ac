"""The raw ceiling: an aiohttp websocket handler that parses each frame as JSON and answers a
fixed CALLRESULT. No validation, no state, no metrics: what aiohttp itself can carry."""

from __future__ import annotations

import argparse
import json

from aiohttp import WSMsgType, web


async def handle(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse(protocols=("ocpp1.6",))
    await ws.prepare(request)
    async for msg in ws:
        if msg.type != WSMsgType.TEXT:
            continue
        frame = json.loads(msg.data)
        if frame[0] == 2:
            await ws.send_str('[3,"' + frame[1] + '",{}]')
    return ws


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    args = p.parse_args()
    app = web.Application()
    app.router.add_get("/ocpp/{station_id}", handle)
    web.run_app(app, host="127.0.0.1", port=args.port, access_log=None, print=None)


if __name__ == "__main__":
    main()
