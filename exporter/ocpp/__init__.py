"""The OCPP side: websocket endpoint, OCPP-J framing and one handler per protocol version.

Nothing here knows about Prometheus; handlers translate what stations say into `fleet` calls.
"""
