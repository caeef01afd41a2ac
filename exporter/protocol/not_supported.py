"""The station-initiated actions a monitoring endpoint declines, in every OCPP version it speaks.

The rule (docs/ocpp-actions.md): the exporter answers every notification, whatever it carries,
because acknowledging what a station reports promises nothing. It answers CALLERROR
`NotSupported` to a request that asks the central system to *provide* something only a CSMS can:
sign a certificate, hand out or check an ISO 15118 certificate, or compute a charging schedule.
An `Accepted` there would be a promise: the station would wait for a CertificateSigned or a
SetChargingProfile that never comes, and could hold a charging session for it. A station that
gets `NotSupported` knows at once to carry on without.

One table for all versions, keyed by action name: an action that exists in several versions is
declined (or answered) the same way in each; a new version adds its own actions here.
"""

from __future__ import annotations

from collections.abc import Mapping

#: action -> why the exporter declines it (sent as the CALLERROR's errorDescription).
NOT_SUPPORTED: Mapping[str, str] = {
    # 1.6 security extension and 2.0.1 A02/A03: the station asks the CSMS to sign its CSR.
    "SignCertificate": "a monitoring endpoint signs no certificates; ask your CSMS",
    # 2.0.1 M: ISO 15118 contract certificates and OCSP status, provided by the CSMS/V2G PKI.
    "Get15118EVCertificate": "a monitoring endpoint provides no ISO 15118 certificates",
    "GetCertificateStatus": "a monitoring endpoint checks no certificate status",
    # 2.0.1 K15-K17: Accepted would promise a charging schedule (SetChargingProfile) to follow.
    "NotifyEVChargingNeeds": "a monitoring endpoint computes no charging schedule",
    # 2.1: the OCSP status of a whole certificate chain, again from the CSMS/V2G PKI.
    "GetCertificateChainStatus": "a monitoring endpoint checks no certificate status",
    # 2.1 dynamic charging: the station asks the CSMS for the schedule's next values.
    "PullDynamicScheduleUpdate": "a monitoring endpoint computes no charging schedule",
    # 2.1 ad-hoc payment: the station asks the CSMS to validate a driver's VAT number.
    "VatNumberValidation": "a monitoring endpoint validates no VAT numbers",
}


def declined(action: str) -> str | None:
    """Why `action` is declined with NotSupported, or None when the exporter answers it."""
    return NOT_SUPPORTED.get(action)
