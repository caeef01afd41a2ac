"""Clearing conventions of scheme codes in the fleet state (ChargeX, EVgo, EVerest), pinned
without any I/O."""

from __future__ import annotations

from exporter.state.fleet import ActiveError, Fleet


def coded(code: str, scheme: str, *codes: str, status: str = "Available", now: float = 0):
    return ActiveError(
        code=code,
        since=now,
        status=status,
        vendor_error_code=",".join(codes),
        scheme=scheme,
        codes=codes,
        readings=("",) * len(codes),
    )


def active(fleet: Fleet, connector: str = "1") -> dict[str, tuple[str, ...]]:
    errors = fleet.stations["CP"].connectors[connector].errors
    return {code: error.codes for code, error in errors.items()}


def test_resolved_clears_that_code_and_keeps_the_others():
    fleet = Fleet()
    fleet.report_status("CP", "1", "Finishing", coded("OtherError", "evgo", "F000", "F002"), 1)
    fleet.resolve_codes("CP", "1", "Finishing", "evgo", ("F000",), True, 2)
    assert active(fleet) == {"OtherError": ("F002",)}
    assert fleet.stations["CP"].connectors["1"].errors["OtherError"].vendor_error_code == "F002"
    # A "resolved" for a code that is not active changes nothing.
    fleet.resolve_codes("CP", "1", "Finishing", "evgo", ("F009",), True, 3)
    assert active(fleet) == {"OtherError": ("F002",)}
    # The same code number in another scheme is another code.
    fleet.resolve_codes("CP", "1", "Finishing", "chargex", ("F002",), True, 4)
    assert active(fleet) == {"OtherError": ("F002",)}
    fleet.resolve_codes("CP", "1", "Finishing", "evgo", ("f002",), True, 5)
    assert active(fleet) == {}


def test_everest_resolved_while_another_error_stays_active():
    # CX002 replaced CX014 as the connector's current error; the clear of CX014 carries
    # errorCode GroundFailure (still active): it must neither raise CX014 nor clear CX002.
    fleet = Fleet()
    fleet.report_status("CP", "2", "Preparing", coded("OtherError", "chargex", "CX014"), 1)
    fleet.report_status("CP", "2", "Preparing", coded("GroundFailure", "chargex", "CX002"), 2)
    fleet.resolve_codes("CP", "2", "Preparing", "chargex", ("CX014",), True, 3)
    assert active(fleet, "2") == {"GroundFailure": ("CX002",)}
    fleet.resolve_codes("CP", "2", "Preparing", "chargex", ("CX002",), False, 4)
    assert active(fleet, "2") == {}


def test_code_raised_while_faulted_goes_when_the_connector_leaves_faulted():
    fleet = Fleet()
    fleet.report_status(
        "CP", "1", "Faulted", coded("OtherError", "chargex", "CX014", status="Faulted"), 1
    )
    # A resolved about another code while still Faulted keeps it...
    fleet.resolve_codes("CP", "1", "Faulted", "chargex", ("CX002",), True, 2)
    assert active(fleet) == {"OtherError": ("CX014",)}
    # ...and once the connector is no longer Faulted the never-cleared code goes.
    fleet.resolve_codes("CP", "1", "Available", "chargex", ("CX002",), True, 3)
    assert active(fleet) == {}


def test_201_scheme_code_raised_while_faulted_goes_with_faulted_but_others_stay():
    fleet = Fleet()
    fleet.report_connector_status("CP", "1", "Faulted", 1)
    fleet.raise_from(
        "CP",
        "1",
        "evse#chargex:cx017",
        coded("OtherError", "chargex", "CX017", status="Faulted"),
        1,
    )
    fleet.raise_from(
        "CP", "1", "rcd.tripped", ActiveError("GroundFailure", 1, "Faulted", info="RCD"), 1
    )
    fleet.raise_from(
        "CP", "1", "evse#chargex:cx002", coded("GroundFailure", "chargex", "CX002", now=1), 1
    )
    fleet.report_connector_status("CP", "1", "Faulted", 2)
    assert set(fleet.stations["CP"].connectors["1"].sources) == {
        "evse#chargex:cx017",
        "rcd.tripped",
        "evse#chargex:cx002",
    }
    fleet.report_connector_status("CP", "1", "Available", 3)
    # The device-model problem stays until cleared; the code raised while Available stays too.
    assert set(fleet.stations["CP"].connectors["1"].sources) == {
        "rcd.tripped",
        "evse#chargex:cx002",
    }
    assert fleet.clear_from("CP", "1", "evse#chargex:cx002") is not None
    assert active(fleet) == {"GroundFailure": ()}


def test_codes_restored_from_json_lists_become_tuples():
    error = ActiveError("OtherError", 1, "Available", scheme="evgo", codes=["F000", "F002"])
    assert error.codes == ("F000", "F002") and error.readings == ("", "")
