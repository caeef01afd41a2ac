"""Reading the committed Grafana dashboards the way Grafana does: the PromQL each panel,
annotation and variable sends, with template variables replaced by concrete values."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD_DIR = ROOT / "grafana" / "dashboards"

#: $name, ${name}, ${name:format} and the legacy [[name]].
VARIABLE_REF = re.compile(r"\$\{(\w+)(?::[^}]*)?\}|\$(\w+)|\[\[(\w+)\]\]")
LABEL_VALUES = re.compile(r"^\s*label_values\((?P<selector>.*),\s*(?P<label>\w+)\s*\)\s*$", re.S)


@dataclass(frozen=True)
class Query:
    dashboard: str
    kind: str  # "target", "annotation" or "variable"
    title: str  # panel title, annotation name or variable name
    expr: str
    instant: bool
    label: str = ""  # for label_values variables: the label whose values are listed


def load() -> dict[str, dict[str, Any]]:
    return {
        path.stem: json.loads(path.read_text(encoding="utf-8"))
        for path in sorted(DASHBOARD_DIR.glob("*.json"))
    }


def variable_names(dashboard: dict[str, Any]) -> set[str]:
    return {v["name"] for v in dashboard["templating"]["list"]}


def referenced_variables(value: Any) -> set[str]:
    """Every template variable referenced anywhere in a (part of a) dashboard model."""
    text = json.dumps(value)
    return {next(g for g in m.groups() if g) for m in VARIABLE_REF.finditer(text)}


def queries(name: str, dashboard: dict[str, Any]) -> list[Query]:
    out: list[Query] = []
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            out.append(
                Query(name, "target", panel["title"], target["expr"], bool(target.get("instant")))
            )
    for annotation in dashboard["annotations"]["list"]:
        if annotation.get("datasource", {}).get("type") == "prometheus":
            out.append(Query(name, "annotation", annotation["name"], annotation["expr"], False))
    for var in dashboard["templating"]["list"]:
        if var["type"] != "query":
            continue
        query = var["query"]["query"] if isinstance(var["query"], dict) else var["query"]
        match = LABEL_VALUES.match(query)
        assert match, f"{name}: variable {var['name']} is not a label_values() query: {query}"
        out.append(
            Query(name, "variable", var["name"], match["selector"], True, label=match["label"])
        )
    return out


def substitute(expr: str, values: dict[str, str]) -> str:
    def replace(m: re.Match[str]) -> str:
        var = next(g for g in m.groups() if g)
        if var not in values:
            raise KeyError(f"no test value for ${var} in {expr!r}")
        return values[var]

    return VARIABLE_REF.sub(replace, expr)


def panel(dashboard: dict[str, Any], title: str) -> dict[str, Any]:
    found = [p for p in dashboard["panels"] if p["title"] == title]
    assert len(found) == 1, f"expected one panel titled {title!r}, found {len(found)}"
    return found[0]


def render_format(fmt: str, labels: dict[str, str]) -> str:
    """Grafana's {{label}} legend/title templating."""
    return re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: labels.get(m[1], m[0]), fmt)
