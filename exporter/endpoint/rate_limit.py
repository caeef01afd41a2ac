"""What happens to a frame that arrives faster than the station's rate limit allows."""

from __future__ import annotations

import logging

from aiohttp import WSCloseCode

from exporter.endpoint.station_session import StationSession
from exporter.endpoint.token_bucket import TokenBucket
from exporter.protocol.rpc import Call, FrameError, RpcError, call_error, parse_frame
from exporter.state.counters import Stats

log = logging.getLogger("exporter.ocpp")


async def refuse_over_rate(
    session: StationSession, text: str, bucket: TokenBucket, stats: Stats
) -> None:
    """The frame is not handled. A CALL gets a CALLERROR (GenericError exists in 1.6 and 2.0.1)
    so the station knows why; a ping over the rate (`text` "") gets no pong; a station that keeps
    on sending is disconnected with 1008."""
    stats.limit_breaches["message_rate"] += 1
    if bucket.exhausted:
        if session.close_reason != "rate_limited":
            session.close_reason = "rate_limited"
            log.warning("station %s: message rate limit exceeded, closing", session.station_id)
            await session.ws.close(
                code=WSCloseCode.POLICY_VIOLATION, message=b"message rate limit exceeded"
            )
        return
    try:
        frame = parse_frame(text)
    except FrameError:
        return
    if isinstance(frame, Call):
        error = RpcError(
            "GenericError",
            f"message rate limit exceeded ({bucket.rate:g}/s, burst {bucket.burst}); "
            "frame not processed",
        )
        await session.ws.send_str(call_error(frame.unique_id, error))
