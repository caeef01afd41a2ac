"""OCPP protocol handlers: OCPP-J framing and one handler per version; they turn what stations say
into fleet calls.
"""
