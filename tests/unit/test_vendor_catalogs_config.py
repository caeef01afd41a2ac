"""Operator vendor catalogs in the configuration (`catalog.vendor_catalogs`): read into the code
book the exporter recognises codes against, and refused with file, line, key path and problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from exporter.config import model as config
from exporter.config.model import ConfigError
from exporter.protocol import code_schemes
from exporter.protocol.code_schemes import Station
from exporter.service import build_catalog

ROOT = Path(__file__).resolve().parents[2]

ENTRY = """\
          title: RCD self-test failed
          severity: critical
          responsible: [maintenance]
          ocpp_error_code: GroundFailure
          description: The residual current device failed its self test.
          resolution: [Keep it out of service, Replace the RCD]
"""

GOOD = f"""\
catalog:
  vendor_catalogs:
    - name: acme
      station_vendor: Acme Charging
      runbook_url: https://wiki.example.org/acme
      codes:
        - code: E-0417
{ENTRY}        - pattern: "E-05[0-9]{{2}}"
          title: Power stage fault
          severity: warning
          responsible: [maintenance, operator]
          description: A power stage check failed.
          resolution: [Reset it]
          runbook_url: https://wiki.example.org/acme/power
    - name: depot-notes
      vendor_id: https://chargex.inl.gov
      codes_file: notes.yml
"""

NOTES = """\
codes:
  - code: CX014
    title: Pilot fault (our notes)
    severity: critical
    responsible: [maintenance]
    description: Our chargers' pilot boards fail in the cold.
    resolution: [Swap the pilot board from the spares box]
"""


def write(tmp_path: Path, text: str, name: str = "exporter.yml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_catalogs_inline_and_in_a_named_file_reach_the_code_book(tmp_path):
    write(tmp_path, NOTES, "notes.yml")
    cfg = config.load(write(tmp_path, GOOD))
    book = build_catalog(cfg).codes
    acme = Station(vendor="ACME charging", model="X1")
    found = code_schemes.recognise_v16(book, "", "e-0417", "", acme)
    assert found is not None and (found.scheme, found.implied_error_code) == (
        "acme",
        "GroundFailure",
    )
    entry = book.entry("acme", "E-0417")
    assert entry.title == "RCD self-test failed"
    assert entry.resolution == ("Keep it out of service", "Replace the RCD")
    assert entry.runbook_url == "https://wiki.example.org/acme"  # the catalog's default
    power = book.entry("acme", "E-0512")
    assert power.code == "E-05[0-9]{2}" and power.runbook_url.endswith("/acme/power")
    assert book.entry("acme", "E-0600") is None
    # Another vendor's station does not get Acme's text.
    assert code_schemes.recognise_v16(book, "", "E-0417", "", Station(vendor="Other")) is None
    # The operator's notes override ChargeX's text for CX014; other ChargeX codes stay standard.
    chargex = "https://chargex.inl.gov"
    assert code_schemes.recognise_v16(book, chargex, "CX014", "").scheme == "depot-notes"
    assert book.entry("depot-notes", "cx014").title == "Pilot fault (our notes)"
    assert code_schemes.recognise_v16(book, chargex, "CX002", "").scheme == "chargex"
    # Standard codes first, then the operator's, for ocpp_vendor_code_info.
    schemes = [e.scheme for e in book.entries()]
    assert schemes[-3:] == ["acme", "acme", "depot-notes"]


def test_the_shipped_example_has_a_fictional_vendor_catalog():
    book = build_catalog(config.load(ROOT / "examples" / "exporter.yml")).codes
    voltaro = Station(vendor="Voltaro", model="V-22")
    assert code_schemes.recognise_v16(book, "", "E-0417", "", voltaro).scheme == "voltaro"
    assert book.entry("voltaro", "E-0512").title == "Power stage fault"
    assert book.entry("voltaro", "U-0102").responsible == ("ev_driver", "vehicle")


def _catalog(entry: str, extra: str = "") -> str:
    return f"catalog:\n  vendor_catalogs:\n    - name: acme\n{extra}      codes:\n{entry}"


@pytest.mark.parametrize(
    ("text", "line", "key", "problem"),
    [
        (
            _catalog("        - code: E-1\n" + ENTRY.replace("critical", "urgent")),
            7,
            "catalog.vendor_catalogs[0].codes[0].severity",
            "expected one of critical, warning, info, got 'urgent'",
        ),
        (
            _catalog("        - code: E-1\n" + ENTRY.replace("[maintenance]", "[cpo]")),
            8,
            "catalog.vendor_catalogs[0].codes[0].responsible[0]",
            "expected one of ev_driver, operator, maintenance, vehicle, got 'cpo'",
        ),
        (
            _catalog("        - code: E-1\n" + ENTRY.replace("[maintenance]", "[]")),
            8,
            "catalog.vendor_catalogs[0].codes[0].responsible",
            "at least 1",
        ),
        (
            _catalog("        - code: E-1\n" + ENTRY.replace("GroundFailure", "Smoke")),
            9,
            "catalog.vendor_catalogs[0].codes[0].ocpp_error_code",
            "expected an OCPP 1.6 error code other than NoError, got 'Smoke'",
        ),
        (
            _catalog("        - code: E-1\n          pattern: E-.*\n" + ENTRY),
            5,
            "catalog.vendor_catalogs[0].codes[0]",
            "give exactly one of code or pattern",
        ),
        (
            _catalog("        - pattern: E-((\n" + ENTRY),
            5,
            "catalog.vendor_catalogs[0].codes[0].pattern",
            "not a regular expression",
        ),
        (
            _catalog("        - code: E-1\n" + ENTRY + "        - code: e-1\n" + ENTRY),
            12,
            "catalog.vendor_catalogs[0].codes[1].code",
            "'e-1' is listed twice",
        ),
        (
            _catalog("        - code: E-1\n" + ENTRY).replace("name: acme", "name: evgo"),
            3,
            "catalog.vendor_catalogs[0].name",
            "'evgo' is a standard scheme",
        ),
        (
            _catalog("        - code: E-1\n" + ENTRY).replace("name: acme", "name: Acme Co"),
            3,
            "catalog.vendor_catalogs[0].name",
            "should match pattern",
        ),
        (
            "catalog:\n  vendor_catalogs:\n    - name: a\n      codes: []\n",
            3,
            "catalog.vendor_catalogs[0]",
            "no codes",
        ),
        (
            _catalog("        - code: E-1\n" + ENTRY, "      colour: red\n"),
            4,
            "catalog.vendor_catalogs[0].colour",
            "unknown key",
        ),
    ],
)
def test_bad_entries_name_file_line_key_and_problem(tmp_path, text, line, key, problem):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as exc:
        config.load(path)
    assert (exc.value.source, exc.value.line, exc.value.key) == (str(path), line, key)
    assert problem in exc.value.problem


def test_a_bad_entry_in_a_codes_file_names_that_file(tmp_path):
    notes = write(tmp_path, NOTES.replace("severity: critical", "severity: loud"), "notes.yml")
    with pytest.raises(ConfigError) as exc:
        config.load(write(tmp_path, GOOD))
    assert (exc.value.source, exc.value.line, exc.value.key) == (
        str(notes),
        4,
        "codes[0].severity",
    )
    missing = GOOD.replace("notes.yml", "gone.yml")
    with pytest.raises(ConfigError, match=r"gone\.yml"):
        config.load(write(tmp_path, missing))
