"""Alert severities and where each one is routed: one home for both.

alerting/alertmanager.yml routes on these (a unit test holds the two together); the catalog,
the generated docs and the dashboards read them from here.
"""

from __future__ import annotations

#: Most urgent first.
SEVERITIES = ("critical", "warning", "info")
SEVERITY_ORDER = {severity: rank for rank, severity in enumerate(SEVERITIES)}

#: The Alertmanager receiver each severity is routed to, and what that receiver is for.
RECEIVER = {"critical": "pager", "warning": "ticket", "info": "chat"}
RECEIVER_PURPOSE = {
    "pager": "pages the on-call person",
    "ticket": "handled in working hours",
    "chat": "for information",
}
