"""The pager: POST /alerts/{receiver} takes Alertmanager webhook notifications (version 4),
GET / shows the pages, GET /api/pages returns them as JSON. Everything lives in memory and is
bounded; the alerts' annotations (summary, description, resolution, runbook_url) are what the
generated rules put there."""

from __future__ import annotations

import html
import logging
import re
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

log = logging.getLogger("exporter.pager")

MAX_PAGES = 500  # kept in memory; the oldest resolved ones go first
MAX_ALERTS_PER_NOTIFICATION = 1000
MAX_TEXT = 8192  # per label or annotation value
MAX_BODY = 4 * 1024 * 1024
RECEIVER = re.compile(r"[A-Za-z0-9_.-]{1,64}")
STATUSES = ("firing", "resolved")
# Labels that say where the problem is, in the order a reader wants them.
WHERE = ("site", "station", "connector", "controller", "ems")
STEP = re.compile(r"^\s*\d+[.)]\s*")


class BadNotification(ValueError):
    """The body is not an Alertmanager webhook notification."""


@dataclass
class Page:
    receiver: str
    fingerprint: str
    status: str
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: str
    ends_at: str
    received: int  # how many notifications carried this alert
    steps: list[str] = field(default_factory=list)

    @property
    def title(self) -> str:
        return self.labels.get("alertname", "alert")

    def where(self) -> str:
        return " ".join(f"{k}={self.labels[k]}" for k in WHERE if self.labels.get(k))

    def as_json(self) -> dict[str, Any]:
        return {
            "receiver": self.receiver,
            "fingerprint": self.fingerprint,
            "status": self.status,
            "labels": self.labels,
            "annotations": self.annotations,
            "starts_at": self.starts_at,
            "ends_at": self.ends_at,
            "received": self.received,
            "resolution": self.steps,
        }


def steps_of(resolution: str) -> list[str]:
    """The numbered steps of a `resolution` annotation ("1. ...\\n2. ..."), numbers removed."""
    return [STEP.sub("", line).strip() for line in resolution.splitlines() if line.strip()]


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise BadNotification(f"{where}: expected a string, got {type(value).__name__}")
    return value[:MAX_TEXT]


def _strings(value: Any, where: str) -> dict[str, str]:
    if not isinstance(value, dict):
        raise BadNotification(f"{where}: expected an object")
    return {_text(k, where)[:128]: _text(v, f"{where}.{k}") for k, v in value.items()}


def parse(body: Any) -> list[dict[str, Any]]:
    """The alerts of a notification, checked; raises BadNotification naming what is wrong."""
    if not isinstance(body, dict):
        raise BadNotification("expected a JSON object (an Alertmanager webhook notification)")
    alerts = body.get("alerts")
    if not isinstance(alerts, list):
        raise BadNotification("alerts: expected a list")
    out = []
    for n, alert in enumerate(alerts[:MAX_ALERTS_PER_NOTIFICATION]):
        where = f"alerts[{n}]"
        if not isinstance(alert, dict):
            raise BadNotification(f"{where}: expected an object")
        status = alert.get("status")
        if status not in STATUSES:
            raise BadNotification(f"{where}.status: expected firing or resolved, got {status!r}")
        labels = _strings(alert.get("labels", {}), f"{where}.labels")
        out.append(
            {
                "status": status,
                "labels": labels,
                "annotations": _strings(alert.get("annotations", {}), f"{where}.annotations"),
                "fingerprint": _text(
                    alert.get("fingerprint") or repr(sorted(labels.items())), f"{where}.fingerprint"
                ),
                "starts_at": _text(alert.get("startsAt", ""), f"{where}.startsAt"),
                "ends_at": _text(alert.get("endsAt", ""), f"{where}.endsAt"),
            }
        )
    return out


class Pager:
    def __init__(self, max_pages: int = MAX_PAGES) -> None:
        self.max_pages = max_pages
        self.pages: OrderedDict[tuple[str, str], Page] = OrderedDict()
        self.notifications = 0

    def receive(self, receiver: str, alerts: list[dict[str, Any]]) -> None:
        self.notifications += 1
        for alert in alerts:
            key = (receiver, alert["fingerprint"])
            page = self.pages.pop(key, None)
            news = page is None or page.status != alert["status"]
            if page is None:
                page = Page(
                    receiver,
                    alert["fingerprint"],
                    alert["status"],
                    alert["labels"],
                    alert["annotations"],
                    alert["starts_at"],
                    alert["ends_at"],
                    0,
                )
            page.status = alert["status"]
            page.annotations = alert["annotations"] or page.annotations
            page.ends_at = alert["ends_at"]
            page.steps = steps_of(page.annotations.get("resolution", ""))
            page.received += 1
            self.pages[key] = page  # most recent last
            if news:
                _log(page)
        self._trim()

    def _trim(self) -> None:
        while len(self.pages) > self.max_pages:
            resolved = next((k for k, p in self.pages.items() if p.status == "resolved"), None)
            del self.pages[resolved if resolved is not None else next(iter(self.pages))]

    def ordered(self) -> list[Page]:
        """Firing first, newest first."""
        newest = list(reversed(self.pages.values()))
        return [p for p in newest if p.status == "firing"] + [
            p for p in newest if p.status == "resolved"
        ]

    # -- HTTP -------------------------------------------------------------------------------

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/alerts/{receiver}", self.handle_alerts)
        app.router.add_get("/", self.handle_page)
        app.router.add_get("/api/pages", self.handle_api)
        app.router.add_get("/-/healthy", self.handle_healthy)

    async def handle_alerts(self, request: web.Request) -> web.Response:
        receiver = request.match_info["receiver"]
        if not RECEIVER.fullmatch(receiver):
            raise web.HTTPBadRequest(text="receiver: 1 to 64 letters, digits, '_', '.', '-'\n")
        try:
            alerts = parse(await request.json())
        except BadNotification as exc:
            raise web.HTTPBadRequest(text=f"{exc}\n") from None
        except ValueError as exc:  # JSON syntax
            raise web.HTTPBadRequest(text=f"body is not JSON: {exc}\n") from None
        self.receive(receiver, alerts)
        return web.Response(text="ok\n")

    async def handle_api(self, request: web.Request) -> web.Response:
        return web.json_response({"pages": [p.as_json() for p in self.ordered()]})

    async def handle_healthy(self, request: web.Request) -> web.Response:
        return web.Response(text="OK\n")

    async def handle_page(self, request: web.Request) -> web.Response:
        return web.Response(
            text=render(self.ordered()),
            content_type="text/html",
            headers={
                "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
                "X-Content-Type-Options": "nosniff",
            },
        )


def _log(page: Page) -> None:
    summary = page.annotations.get("summary", "")
    where = page.where()
    if page.status == "resolved":
        log.info("RESOLVED [%s] %s %s: %s", page.receiver, page.title, where, summary)
        return
    lines = [f"    {n}. {step}" for n, step in enumerate(page.steps, 1)]
    runbook = page.annotations.get("runbook_url")
    if runbook:
        lines.append(f"    runbook: {runbook}")
    log.warning(
        "PAGE [%s] %s %s %s: %s%s",
        page.receiver,
        page.labels.get("severity", ""),
        page.title,
        where,
        summary,
        "".join("\n" + line for line in lines),
    )


STYLE = """
body{margin:0;font:16px/1.45 system-ui,sans-serif;color:#1a1a1a;background:#f4f5f7}
header{background:#1f2933;color:#fff;padding:.6rem 1.25rem}h1{margin:0;font-size:1.3rem}
main{max-width:70rem;margin:0 auto;padding:1rem 1.25rem}
article{background:#fff;border:1px solid #c9ced6;border-left:6px solid #b00020;border-radius:6px;
padding:.7rem 1rem;margin:.8rem 0}article.resolved{border-left-color:#1b6e2a;color:#4a4a4a}
h2{margin:0 0 .3rem;font-size:1.1rem}.meta{color:#4a4a4a;margin:0 0 .4rem}
.tag{font-size:.8rem;font-weight:700;text-transform:uppercase;padding:0 .4rem;border-radius:3px;
background:#fde8ea;color:#b00020;margin-right:.4rem}.resolved .tag{background:#e6f4ea;color:#1b6e2a}
h3{font-size:.95rem;margin:.5rem 0 .2rem}a{color:#0b57d0}
"""


def render(pages: list[Page]) -> str:
    e = html.escape
    cards = []
    for p in pages:
        steps = "".join(f"<li>{e(s)}</li>" for s in p.steps)
        runbook = p.annotations.get("runbook_url", "")
        cards.append(
            f'<article class="{e(p.status)}">'
            f'<h2><span class="tag">{e(p.status)}</span><span class="tag">{e(p.receiver)}</span>'
            f"{e(p.title)}</h2>"
            f'<p class="meta">{e(p.labels.get("severity", ""))} · {e(p.where())} · since '
            f"{e(p.starts_at)}</p>"
            f"<p><strong>{e(p.annotations.get('summary', ''))}</strong></p>"
            f"<p>{e(p.annotations.get('description', ''))}</p>"
            + (f"<h3>Resolution</h3><ol>{steps}</ol>" if steps else "")
            + (f'<p><a href="{e(runbook)}">Runbook</a></p>' if runbook else "")
            + "</article>"
        )
    body = "".join(cards) or "<p>No pages yet. Alertmanager delivers them to /alerts/RECEIVER.</p>"
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta http-equiv="refresh" content="5">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Pages · ocpp-exporter demo pager</title><style>{STYLE}</style></head>"
        f"<body><header><h1>Pages received ({len(pages)})</h1></header><main>{body}</main>"
        "</body></html>"
    )


def build_app(pager: Pager | None = None) -> web.Application:
    app = web.Application(client_max_size=MAX_BODY)
    (pager or Pager()).add_routes(app)
    return app


def run(host: str, port: int) -> None:
    log.info("pager listening on http://%s:%d (webhooks at /alerts/RECEIVER)", host, port)
    web.run_app(build_app(), host=host, port=port, print=None, access_log=None)
