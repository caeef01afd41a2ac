"""Simulated charging stations for demos, tests and load."""
