"""How values look on screen: the colour of each severity and connector status, and the value
mappings the tables and timelines share."""

from __future__ import annotations

from exporter.generate.dashboards.toolkit import value_mappings
from exporter.knowledge.ocpp_enums import CONNECTOR_STATUSES
from exporter.knowledge.severity import SEVERITIES

SEVERITY_COLOR = {"critical": "red", "warning": "orange", "info": "blue"}
STATUS_COLOR = {
    "Available": "green",
    "Preparing": "light-blue",
    "Charging": "blue",
    "SuspendedEVSE": "yellow",
    "SuspendedEV": "light-yellow",
    "Finishing": "purple",
    "Reserved": "light-purple",
    "Unavailable": "gray",
    "Faulted": "red",
    "Occupied": "blue",
}
#: Every connector status (1.6, then 2.0.1's additions) with its colour; the status timeline
#: encodes a status as its position here, from 1. A status without a colour fails generation.
STATUSES = tuple((status, STATUS_COLOR[status]) for status in CONNECTOR_STATUSES)
ERROR_MARKER = "\u24d8 error"  # a circled "i": the red info icon of the charge point table

SEVERITY_MAPPINGS = value_mappings({s: (s, SEVERITY_COLOR[s]) for s in SEVERITIES})
STATUS_MAPPINGS = value_mappings({s: (s, color) for s, color in STATUSES})
ONLINE_MAPPINGS = value_mappings({"1": ("online", "green"), "0": ("offline", "red")})
UP_MAPPINGS = value_mappings({"1": ("up", "green"), "0": ("down", "red")})
