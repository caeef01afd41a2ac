"""Alert severities and where each one is routed: one home for both.

alerting/alertmanager.yml routes on these (a unit test holds the two together); the catalog,
the generated docs and the dashboards read them from here.
"""

from __future__ import annotations

from typing import Literal, get_args

#: Most urgent first (the type of a severity in the catalog and in configuration overrides).
Severity = Literal["critical", "warning", "info"]
SEVERITIES: tuple[str, ...] = get_args(Severity)
SEVERITY_ORDER = {severity: rank for rank, severity in enumerate(SEVERITIES)}

#: The Alertmanager receiver each severity is routed to, and what that receiver is for.
RECEIVER = {"critical": "pager", "warning": "ticket", "info": "chat"}
RECEIVER_PURPOSE = {
    "pager": "pages the on-call person",
    "ticket": "handled in working hours",
    "chat": "for information",
}
