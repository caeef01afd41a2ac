"""`ocpp-exporter generate`: the catalog -> alerting/, grafana/ and docs/ files.

Each generator module exposes `files(catalog) -> {relative path: content}`. Generated files are
committed; `--check` fails when any differs from what the catalog produces now, so a text edit
in catalog.yaml cannot silently miss the pager or the dashboards.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from exporter.knowledge import catalog as catalog_module
from exporter.knowledge.catalog import Catalog

Generator = Callable[[Catalog], dict[str, str]]


def generators() -> list[Generator]:
    # Imported here so that `serve` never pays for the generators.
    from exporter.generate import (
        config_schema,
        dashboards,
        docs,
        error_codes,
        kubernetes,
        replica_rules,
        rules,
    )

    return [
        rules.files,
        _rule_tests,
        docs.files,
        error_codes.files,
        dashboards.files,
        replica_rules.files,
        kubernetes.files,
        config_schema.files,
    ]


def _rule_tests(catalog: Catalog) -> dict[str, str]:
    """promtool tests: the recognised-code alert's cases run with the catalog's error alerts."""
    from exporter.generate import rule_tests, vendor_rule_tests

    return rule_tests.files(catalog, vendor_rule_tests.test_cases(catalog))


def render(catalog: Catalog | None = None) -> dict[str, str]:
    catalog = catalog or catalog_module.load()
    out: dict[str, str] = {}
    for generate in generators():
        for path, content in generate(catalog).items():
            if path in out:
                raise RuntimeError(f"two generators write {path}")
            out[path] = content
    return out


def missing(root: Path, files: dict[str, str]) -> list[str]:
    return [path for path in sorted(files) if not (root / path).is_file()]


def stale(root: Path, files: dict[str, str]) -> list[str]:
    """Files that are missing or differ from what the catalog produces now."""
    return [
        path
        for path, content in sorted(files.items())
        if not (root / path).is_file() or (root / path).read_text(encoding="utf-8") != content
    ]


def main(args: argparse.Namespace, catalog: Catalog | None = None) -> int:
    """`catalog`: the packaged one unless given (the CLI passes it with a configuration's
    overrides and runbook base applied)."""
    root = Path(args.root)
    files = render(catalog)
    if args.check:
        absent = missing(root, files)
        problems = {
            f"missing under {root.resolve()}": absent,
            "out of date with the catalog": [p for p in stale(root, files) if p not in absent],
        }
        for problem, paths in problems.items():
            if paths:
                print(f"generated files {problem} (run `ocpp-exporter generate`):", file=sys.stderr)
                for path in paths:
                    print(f"  {path}", file=sys.stderr)
        if any(problems.values()):
            return 1
        print(f"{len(files)} generated files are up to date")
        return 0
    for path, content in files.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content, encoding="utf-8")
    print(f"wrote {len(files)} files under {root.resolve()}")
    return 0
