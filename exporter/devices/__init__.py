"""Inputs from site devices: push heartbeats and active probes of controllers and EMSs."""
