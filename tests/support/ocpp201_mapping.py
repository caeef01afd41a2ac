"""The NotifyEvent -> error code mapping that docs/ocpp201.md promises, written out event by
event as expected values. Never derived from exporter.protocol.v201_events' own tables: a test
whose expectations come from the code under test cannot fail when that code is wrong."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tests.support.ocpp201_station import event


@dataclass(frozen=True)
class Case:
    """One event as a station sends it, and the error code the docs say it raises."""

    component: str
    variable: str
    value: str
    code: str
    variable_instance: str | None = None
    tech_code: str | None = None
    trigger: str = "Alerting"

    def event(self, **placement: Any) -> dict[str, Any]:
        extra = {"techCode": self.tech_code} if self.tech_code else {}
        return event(
            self.component,
            self.variable,
            self.value,
            trigger=self.trigger,
            variable_instance=self.variable_instance,
            **placement,
            **extra,
        )


#: Every component name of the table with one of the problem variables (Problem, Tripped,
#: Operated, Fallback) set to true, then the variable-named faults, then measured values.
RAISES: tuple[Case, ...] = (
    Case("ConnectorPlugRetentionLock", "Problem", "true", "ConnectorLockFailure"),
    Case("EVRetentionLock", "Tripped", "true", "ConnectorLockFailure"),
    Case("ConnectorLock", "Operated", "true", "ConnectorLockFailure"),
    Case("RCD", "Tripped", "true", "GroundFailure"),
    Case("RCDRecloser", "Operated", "true", "GroundFailure"),
    Case("GroundIsolationProtection", "Problem", "true", "GroundFailure"),
    Case("OverCurrentProtection", "Tripped", "true", "OverCurrentFailure"),
    Case("OverCurrentProtectionRecloser", "Operated", "true", "OverCurrentFailure"),
    Case("PowerContactor", "Problem", "true", "PowerSwitchFailure"),
    Case("Contactor", "Tripped", "true", "PowerSwitchFailure"),
    Case("TokenReader", "Problem", "true", "ReaderFailure"),
    Case("Reader", "Operated", "true", "ReaderFailure"),
    Case("FiscalMetering", "Problem", "true", "PowerMeterFailure"),
    Case("ControlMetering", "Tripped", "true", "PowerMeterFailure"),
    Case("PowerMeter", "Fallback", "true", "PowerMeterFailure"),
    Case("Meter", "Problem", "true", "PowerMeterFailure"),
    # any other component: OtherError, with the component named in the info
    Case("EmergencyStopSensor", "Tripped", "true", "OtherError"),
    Case("SmartChargingCtrlr", "Fallback", "true", "OtherError"),
    # "a Problem on a TemperatureSensor means the sensor is broken, not that it is hot"
    Case("TemperatureSensor", "Problem", "true", "OtherError"),
    # "ElectricalFeed.Tripped could be any protection device on the feed"
    Case("ElectricalFeed", "Tripped", "true", "OtherError"),
    # names are matched case-insensitively
    Case("rcd", "TRIPPED", "True", "GroundFailure"),
    # variables whose name says the fault, on any component
    Case("ElectricalFeed", "GroundFault", "true", "GroundFailure"),
    Case("ElectricalFeed", "EarthFault", "true", "GroundFailure"),
    Case("ElectricalFeed", "InsulationFault", "true", "GroundFailure"),
    Case("ElectricalFeed", "IsolationFault", "true", "GroundFailure"),
    Case("ElectricalFeed", "OverCurrent", "true", "OverCurrentFailure"),
    Case("ElectricalFeed", "OverVoltage", "true", "OverVoltage"),
    Case("ElectricalFeed", "UnderVoltage", "true", "UnderVoltage"),
    Case("Controller", "OverTemperature", "true", "HighTemperature"),
    Case("Controller", "Overheated", "true", "HighTemperature"),
    Case("ElectricalFeed", "OverVoltage", "262.0", "OverVoltage"),
    # a problem variable with a value that is neither true nor false
    Case("Connector", "Problem", "jammed", "Unknown"),
    # measured values: an Alerting monitor fired
    Case("TemperatureSensor", "Temperature", "92", "HighTemperature"),
    Case("Controller", "ControllerTemperature", "85", "HighTemperature"),
    Case("Heater", "Temperature", "-30", "OtherError", variable_instance="Min"),
    Case("ElectricalFeed", "Voltage", "262", "OverVoltage", variable_instance="Max"),
    Case("ElectricalFeed", "DCVoltage", "180", "UnderVoltage", tech_code="UnderVoltage"),
    Case("ElectricalFeed", "Voltage", "262", "Unknown"),
    Case("DataLink", "SignalStrength", "-105", "WeakSignal"),
    Case("ACDCConverter", "Current", "90", "Unknown"),
)
