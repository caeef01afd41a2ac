"""Durations as people write them in YAML ('250ms', '30s', '5m', '1.5h' or bare seconds).

Neutral ground: the configuration, the catalog, scenarios and the offline generators all read
durations, and none of them should import another to do it.
"""

from __future__ import annotations

import re
from typing import Any

# Also the JSON Schema pattern of a duration written as text (exporter.schema.json).
DURATION_PATTERN = r"^(\d+(?:\.\d+)?)(ms|s|m|h)?$"
_DURATION_RE = re.compile(DURATION_PATTERN)
_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


def parse_duration(value: Any) -> float:
    """'30s', '5m', '1.5h', '250ms' or a bare number of seconds -> seconds."""
    if isinstance(value, bool):
        raise ValueError("expected a duration like '30s' or '5m', got a boolean")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        match = _DURATION_RE.match(str(value).strip())
        if not match:
            raise ValueError(f"expected a duration like '30s' or '5m', got {value!r}")
        seconds = float(match.group(1)) * _DURATION_UNITS[match.group(2)]
    if seconds < 0:
        raise ValueError(f"a duration cannot be negative, got {value!r}")
    return seconds
