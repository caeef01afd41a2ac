from __future__ import annotations

from tests.conftest import eventually, samples


async def test_ground_failure_while_available_is_an_active_error(exporter):
    station = await exporter.station("CP-1")
    try:
        await station.boot()
        await station.status(1, "Available", "GroundFailure")

        async def check():
            scrape = await exporter.scrape()
            assert samples(
                scrape, "ocpp_connector_error", station="CP-1", error_code="GroundFailure"
            )
            return scrape

        scrape = await eventually(check)
        assert samples(scrape, "ocpp_station_connected", station="CP-1")[0][1] == 1
        notes = await exporter.notifications(kind="ocpp_error")
        assert notes[0]["error_code"] == "GroundFailure"
        assert notes[0]["status"] == "Available"
        assert len(notes[0]["resolution"]) >= 3
    finally:
        await station.close()
