"""The metrics-side HTTP listener: /metrics, health, the JSON API and the live page."""
