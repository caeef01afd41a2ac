"""OCPP 2.0.1 NotifyEvent -> catalog error codes: the mapping table, as data.

A 2.0.1 station reports faults as device-model events: a component (e.g. `RCD`) has a variable
(e.g. `Tripped`) whose monitor fired. This module decides, per event, whether it raises a
problem, clears one, or is not a problem at all, and which catalog code it is. Pure: no I/O.
docs/ocpp201.md shows these tables (tests/integration/test_ocpp201.py keeps the two equal).

Component and variable names are case-insensitive in 2.0.1, so every match is on lower case.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from exporter.knowledge.ocpp_enums import UNKNOWN

OTHER = "OtherError"

#: Boolean variables that say "this component has a problem" when true.
PROBLEM_VARIABLES = ("Problem", "Tripped", "Operated", "Fallback")

#: (components, code) for a PROBLEM_VARIABLES event; first match wins, no match -> OtherError.
COMPONENT_CODES: tuple[tuple[tuple[str, ...], str], ...] = (
    (("ConnectorPlugRetentionLock", "EVRetentionLock", "ConnectorLock"), "ConnectorLockFailure"),
    (("RCD", "RCDRecloser", "GroundIsolationProtection"), "GroundFailure"),
    (("OverCurrentProtection", "OverCurrentProtectionRecloser"), "OverCurrentFailure"),
    (("PowerContactor", "Contactor"), "PowerSwitchFailure"),
    (("TokenReader", "Reader"), "ReaderFailure"),
    (("FiscalMetering", "ControlMetering", "PowerMeter", "Meter"), "PowerMeterFailure"),
)

#: Variables whose name alone says which fault it is, on any component (vendors' own
#: device-model variables): true or an Alerting value raises, false clears.
VARIABLE_CODES: tuple[tuple[tuple[str, ...], str], ...] = (
    (("GroundFault", "EarthFault", "InsulationFault", "IsolationFault"), "GroundFailure"),
    (("OverCurrent",), "OverCurrentFailure"),
    (("OverVoltage",), "OverVoltage"),
    (("UnderVoltage",), "UnderVoltage"),
    (("OverTemperature", "Overheated"), "HighTemperature"),
)

#: Measured variables (name contains the word): an Alerting trigger means a threshold monitor
#: fired; a Delta trigger only says the value moved and is not a problem.
TEMPERATURE, VOLTAGE, SIGNAL = "temperature", "voltage", "signal"

_OVER_HINTS = ("over", "high", "upper", "max")
_UNDER_HINTS = ("under", "low", "min")
_TRUE = frozenset({"true", "1", "on"})
_FALSE = frozenset({"false", "0", "off"})

#: The device-model variable that carries a component's availability (2.0.1 and 2.1); on the
#: `Connector` component its value is what StatusNotification's `connectorStatus` would say.
AVAILABILITY_STATE = "AvailabilityState"
#: Components whose AvailabilityState is a connector status of their own label: a `Connector`
#: (its EVSE's label) and the `ChargingStation` (label "0"). An EVSE's AvailabilityState is not
#: used: it sums up its connectors, and its label is that of its first connector.
STATUS_COMPONENTS = ("Connector", "ChargingStation")

Verdict = Literal["raise", "clear", "ignore", "status"]


@dataclass(frozen=True, slots=True)
class Outcome:
    verdict: Verdict
    code: str = ""
    # why an event was ignored, for the exporter's own counters
    reason: str = ""
    # verdict "status": the connector status the event reports
    status: str = ""


def _lookup(table: tuple[tuple[tuple[str, ...], str], ...], name: str) -> str | None:
    for names, code in table:
        if name in (n.lower() for n in names):
            return code
    return None


def _direction(event: dict[str, Any]) -> str:
    """'over', 'under' or '' from the variable instance or techCode (e.g. instance "Max")."""
    hints = " ".join(
        str(v).lower()
        for v in (event["variable"].get("instance"), event.get("techCode"))
        if v is not None
    )
    over = any(h in hints for h in _OVER_HINTS)
    under = any(h in hints for h in _UNDER_HINTS)
    if over == under:
        return ""
    return "over" if over else "under"


def classify(event: dict[str, Any]) -> Outcome:
    """One schema-valid EventDataType -> raise (with code), clear, ignore (with reason), or a
    connector status report (AvailabilityState)."""
    if event["variable"]["name"].lower() == AVAILABILITY_STATE.lower():
        if event["component"]["name"].lower() in (c.lower() for c in STATUS_COMPONENTS):
            # Whatever the trigger: Delta (it changed), Periodic or a report, it is the state.
            return Outcome("status", status=str(event["actualValue"]))
        return Outcome("ignore", reason="evse_availability_state")
    if event.get("cleared") is True:
        return Outcome("clear")
    trigger = event["trigger"]
    if trigger not in ("Alerting", "Delta"):
        return Outcome("ignore", reason="periodic")
    component = event["component"]["name"].lower()
    variable = event["variable"]["name"].lower()
    value = str(event["actualValue"]).strip().lower()

    named = _lookup(VARIABLE_CODES, variable)
    if variable in (v.lower() for v in PROBLEM_VARIABLES) or named is not None:
        if value in _TRUE:
            return Outcome("raise", named or _lookup(COMPONENT_CODES, component) or OTHER)
        if value in _FALSE:
            return Outcome("clear")
        if named is not None and trigger == "Alerting":
            return Outcome("raise", named)
        # A problem flag that is neither true nor false: a problem, of unknown meaning.
        return Outcome("raise", UNKNOWN)

    if trigger == "Delta":
        return Outcome("ignore", reason="delta_not_a_problem")
    if TEMPERATURE in variable:
        # Temperature monitors guard against overheating; a low-temperature alert is rare
        # and has no catalog code of its own.
        return Outcome("raise", OTHER if _direction(event) == "under" else "HighTemperature")
    if VOLTAGE in variable:
        direction = _direction(event)
        if direction == "over":
            return Outcome("raise", "OverVoltage")
        if direction == "under":
            return Outcome("raise", "UnderVoltage")
        return Outcome("raise", UNKNOWN)
    if SIGNAL in variable:
        return Outcome("raise", "WeakSignal")
    return Outcome("raise", UNKNOWN)


def source_key(event: dict[str, Any]) -> str:
    """What identifies one monitored situation, so that its clearing finds it again."""
    component, variable = event["component"], event["variable"]
    return describe(component, variable).lower()


def describe(component: dict[str, Any], variable: dict[str, Any]) -> str:
    """`Component[instance].Variable[instance]`, as operators read it in the error info."""

    def name(part: dict[str, Any]) -> str:
        instance = part.get("instance")
        return f"{part['name']}[{instance}]" if instance else str(part["name"])

    return f"{name(component)}.{name(variable)}"


#: OCPP 2.x monitor and event severity (Part 2 "Severity levels": 0 Danger, 1 Hardware Failure,
#: 2 System Failure, 3 Critical | 4 Error, 5 Alert, 6 Warning | 7 Notice, 8 Informational,
#: 9 Debug) -> notification severity, as (highest level of the band, severity).
EVENT_SEVERITIES: tuple[tuple[int, str], ...] = ((3, "critical"), (6, "warning"), (9, "info"))
#: Codes whose catalog severity is only a default: they say "something" (a component's
#: problem, a variable alerting) without saying how bad it is, so the event's severity decides.
SEVERITY_FROM_EVENT = (OTHER, UNKNOWN)


def notification_severity(code: str, event: dict[str, Any]) -> str:
    """The severity a raised problem's notification gets from its 2.1 event: '' when the code
    fixes it (or the event carries no usable severity), so the catalog's applies."""
    level = event.get("severity")
    if code not in SEVERITY_FROM_EVENT or not isinstance(level, int) or isinstance(level, bool):
        return ""
    for highest, severity in EVENT_SEVERITIES:
        if 0 <= level <= highest:
            return severity
    return ""
