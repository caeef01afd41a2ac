"""The real /metrics of an exporter, parsed with prometheus_client's own text parser, as
`name -> [(labels, value)]`."""

from __future__ import annotations

import urllib.request

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

Scrape = dict[str, list[tuple[dict[str, str], float]]]


def parse(text: str) -> Scrape:
    out: Scrape = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out.setdefault(sample.name, []).append((sample.labels, sample.value))
    return out


async def fetch(http_url: str, http: aiohttp.ClientSession | None = None) -> Scrape:
    """GET {http_url}/metrics; a status other than 200 fails the test."""
    if http is None:
        async with aiohttp.ClientSession() as own:
            return await fetch(http_url, own)
    async with http.get(http_url + "/metrics") as r:
        assert r.status == 200, f"GET {http_url}/metrics: {r.status}"
        return parse(await r.text())


def fetch_blocking(http_url: str, timeout: float = 10) -> Scrape:
    """For tests that drive the exporter from a thread other than its event loop's."""
    with urllib.request.urlopen(http_url + "/metrics", timeout=timeout) as r:
        return parse(r.read().decode())


def samples(scrape: Scrape, name: str, **labels: str) -> list[tuple[dict[str, str], float]]:
    """The samples of `name` whose labels include `labels`."""
    return [
        (lab, val)
        for lab, val in scrape.get(name, [])
        if all(lab.get(k) == v for k, v in labels.items())
    ]
