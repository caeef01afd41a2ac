"""A 2.0.1 station's fault pages like a 1.6 one: the promtool unit test
alerting/tests/ocpp201_test.yml runs against the generated alert rules, and its input series are
checked here against what the exporter really emits for the same scenario."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import yaml

from tests.support.ocpp201_station import connect_station201, event
from tests.support.scrape import samples
from tests.support.waiting import eventually

ROOT = Path(__file__).resolve().parents[2]
TEST_FILE = ROOT / "alerting" / "tests" / "ocpp201_test.yml"
ADDED_BY_PROMETHEUS = {"job", "instance"}
SERIES = re.compile(r"^(\w+)\{(.*)\}$")
LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def input_series() -> list[tuple[str, dict[str, str]]]:
    spec = yaml.safe_load(TEST_FILE.read_text(encoding="utf-8"))
    out = []
    for test in spec["tests"]:
        for item in test["input_series"]:
            match = SERIES.match(item["series"])
            assert match, item["series"]
            labels = dict(LABEL.findall(match.group(2)))
            out.append((match.group(1), labels))
    return out


async def test_promtool_input_series_are_shaped_as_the_exporter_emits_them(exporter):
    new = await connect_station201(exporter.ocpp_url, "CS-201")
    old = await exporter.station("CP-16")
    try:
        await new.boot(vendor="VoltCo", model="DC150")
        await old.boot()
        await new.status(1, 1, "Faulted")
        await new.notify(event("RCD", "Tripped"))
        await old.status(1, "Faulted", "GroundFailure")

        async def faulted():
            scrape = await exporter.scrape()
            assert len(samples(scrape, "ocpp_connector_error", error_code="GroundFailure")) == 2
            return scrape

        scrape = await eventually(faulted)
    finally:
        await new.close()
        await old.close()
    checked = 0
    for name, labels in input_series():
        if name == "up":
            continue
        own = {k: v for k, v in labels.items() if k not in ADDED_BY_PROMETHEUS}
        emitted = [lab for lab, _ in samples(scrape, name, station=own["station"])]
        assert own in emitted, f"{name}{own} is not what the exporter emits: {emitted}"
        checked += 1
    # Every per-station family the alert could use is in the file, for both stations.
    names = {name for name, _ in input_series()}
    assert {
        "ocpp_connector_error",
        "ocpp_station_info",
        "ocpp_station_connected",
        "ocpp_connector_report_timestamp_seconds",
    } <= names
    assert checked == 12


def test_ground_failure_alert_fires_for_a_201_station_like_a_16_one():
    # Needs the generated rules in alerting/rules/ (issue 3).
    result = subprocess.run(
        ["promtool", "test", "rules", str(TEST_FILE)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
