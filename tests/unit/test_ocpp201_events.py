"""The 2.0.1 NotifyEvent classifier without a station: every row of docs/ocpp201.md's table,
the clearing rules, and what is ignored. Expected values are written out (tests/support/
ocpp201_mapping.py), not read from the classifier's tables."""

from __future__ import annotations

from pathlib import Path

import pytest

from exporter.protocol.v201_events import (
    COMPONENT_CODES,
    OTHER,
    PROBLEM_VARIABLES,
    UNKNOWN,
    VARIABLE_CODES,
    Outcome,
    classify,
    describe,
    source_key,
)
from tests.support.ocpp201_mapping import RAISES, Case
from tests.support.ocpp201_station import event

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "case", RAISES, ids=[f"{c.component}.{c.variable}={c.value}" for c in RAISES]
)
def test_each_documented_event_raises_its_code(case: Case) -> None:
    assert classify(case.event()) == Outcome("raise", case.code)


@pytest.mark.parametrize(
    ("component", "variable"),
    [
        ("RCD", "Tripped"),  # a problem variable back to false
        ("PowerContactor", "Problem"),
        ("EmergencyStopSensor", "Operated"),
        ("ElectricalFeed", "GroundFault"),  # a fault-named variable back to false
        ("Controller", "Overheated"),
    ],
)
def test_false_clears(component: str, variable: str) -> None:
    assert classify(event(component, variable, "false")) == Outcome("clear")
    assert classify(event(component, variable, "false", trigger="Delta")) == Outcome("clear")


@pytest.mark.parametrize("trigger", ["Alerting", "Delta", "Periodic"])
def test_cleared_true_clears_whatever_the_value_and_trigger(trigger: str) -> None:
    for component, variable, value in (
        ("RCD", "Tripped", "true"),
        ("TemperatureSensor", "Temperature", "95"),
        ("DataLink", "SignalStrength", "-110"),
    ):
        cleared = event(component, variable, value, trigger=trigger, cleared=True)
        assert classify(cleared) == Outcome("clear")


def test_periodic_reports_are_ignored_even_when_they_say_true() -> None:
    for component, variable, value in (("RCD", "Tripped", "true"), ("Meter", "Voltage", "262")):
        report = event(component, variable, value, trigger="Periodic")
        assert classify(report) == Outcome("ignore", reason="periodic")


@pytest.mark.parametrize(
    ("component", "variable", "value"),
    [
        ("TemperatureSensor", "Temperature", "40"),
        ("ElectricalFeed", "Voltage", "262"),
        ("DataLink", "SignalStrength", "-105"),
        ("ACDCConverter", "Current", "90"),
    ],
)
def test_a_measured_value_moving_by_a_delta_is_not_a_problem(component, variable, value) -> None:
    moved = event(component, variable, value, trigger="Delta")
    assert classify(moved) == Outcome("ignore", reason="delta_not_a_problem")


def test_a_problem_flag_raised_by_a_delta_monitor_still_raises() -> None:
    # The component rows do not depend on the trigger: a flag turning true is a problem.
    assert classify(event("RCD", "Tripped", "true", trigger="Delta")) == Outcome(
        "raise", "GroundFailure"
    )


def test_the_direction_of_a_voltage_event_comes_from_instance_or_tech_code() -> None:
    def code(**kwargs: object) -> str:
        return classify(event("ElectricalFeed", "Voltage", "230", **kwargs)).code

    assert code(variable_instance="Upper") == "OverVoltage"
    assert code(variable_instance="High") == "OverVoltage"
    assert code(techCode="OverVoltage") == "OverVoltage"
    assert code(variable_instance="Low") == "UnderVoltage"
    assert code(techCode="UV-undervoltage") == "UnderVoltage"
    # Both directions named: the event does not say which one fired.
    assert code(variable_instance="Min", techCode="over") == "Unknown"


def test_the_source_of_an_event_is_its_component_and_variable_with_instances() -> None:
    component = {"name": "RCD", "instance": "B", "evse": {"id": 1}}
    variable = {"name": "Tripped"}
    assert describe(component, variable) == "RCD[B].Tripped"
    assert describe({"name": "Meter"}, {"name": "Voltage", "instance": "Max"}) == (
        "Meter.Voltage[Max]"
    )
    # A clear finds what it raised whatever case the station uses the second time.
    shouted = event("rcd", "TRIPPED", component_instance="b")
    assert source_key(event("RCD", "Tripped", component_instance="B")) == source_key(shouted)
    assert source_key(event("RCD", "Tripped")) != source_key(event("RCDRecloser", "Tripped"))


def markdown_table() -> str:
    """The table docs/ocpp201.md shows, built from the classifier's data."""

    def names(items: tuple[str, ...]) -> str:
        return ", ".join(f"`{i}`" for i in items)

    problem = names(PROBLEM_VARIABLES)
    rows = [
        "| component | variable | trigger / value | error code |",
        "|---|---|---|---|",
    ]
    for components, code in COMPONENT_CODES:
        rows.append(f"| {names(components)} | {problem} | `true` | `{code}` |")
    rows.append(f"| any other component | {problem} | `true` | `{OTHER}` |")
    for variables, code in VARIABLE_CODES:
        rows.append(f"| any | {names(variables)} | `true`, or Alerting with a value | `{code}` |")
    rows += [
        "| any | a problem variable above | Alerting with a value that is not a boolean "
        f"| `{UNKNOWN}` |",
        "| any | name contains `Temperature` | Alerting | `HighTemperature` "
        f"(`{OTHER}` when the instance or techCode says low/under/min) |",
        "| any | name contains `Voltage` | Alerting, instance or techCode says over/high/upper/max "
        "| `OverVoltage` |",
        "| any | name contains `Voltage` | Alerting, instance or techCode says under/low/min "
        "| `UnderVoltage` |",
        f"| any | name contains `Voltage` | Alerting, direction not told | `{UNKNOWN}` |",
        "| any | name contains `Signal` (e.g. `SignalStrength`) | Alerting | `WeakSignal` |",
        f"| any | any other variable | Alerting | `{UNKNOWN}` |",
        "| any | a problem variable above | `false` | clears what it raised |",
        "| any | any | `cleared: true` | clears what it raised |",
        "| any | a measured or other variable | Delta | ignored (a value moved, not a fault) |",
        "| any | any | Periodic | ignored (a report, not a fault) |",
    ]
    return "\n".join(rows) + "\n"


def test_docs_carry_the_mapping_table_the_code_uses():
    # The docs' table and the classifier's tables agree; the literal cases above check that
    # both say what the classifier does.
    doc = (ROOT / "docs" / "ocpp201.md").read_text(encoding="utf-8")
    assert markdown_table() in doc
