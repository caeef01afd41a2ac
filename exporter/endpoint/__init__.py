"""Station-side networking: the OCPP websocket endpoint, sessions, admission, peer identity, rate
limiting and relay.
"""
