"""ocpp-exporter: OCPP charging stations in, Prometheus metrics and actionable alerts out."""

from __future__ import annotations

__version__ = "0.1.0"
