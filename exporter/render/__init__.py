"""Renderers: fleet and site state -> Prometheus exposition and notifications."""
