"""Fixtures shared by every layer. The helpers they use live in tests/support."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from exporter.config.model import Config
from tests.support import in_process
from tests.support.in_process import Running, stations

# Earlier home of these helpers; kept so that tests written against it keep importing.
# New code imports from tests.support.{in_process,scrape,waiting}.
from tests.support.in_process import loopback_config as test_config
from tests.support.scrape import samples
from tests.support.waiting import eventually

__all__ = ["Running", "eventually", "samples", "stations", "test_config"]
test_config.__test__ = False  # type: ignore[attr-defined]  # imported into test modules


LAYERS = ("unit", "integration", "e2e")
TESTS = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test with its layer, the folder it lives in (see pyproject's markers)."""
    for item in items:
        if not item.path.is_relative_to(TESTS):
            continue
        layer = item.path.relative_to(TESTS).parts[0]
        if layer not in LAYERS:
            # scripts/test runs the layers by folder: a test elsewhere would never run in CI.
            raise pytest.UsageError(f"{item.path}: a test belongs in tests/{{{','.join(LAYERS)}}}")
        item.add_marker(layer)


@pytest.fixture
async def exporter_factory() -> AsyncIterator[Callable[..., Any]]:
    """`await exporter_factory(config)` starts a real exporter; all are stopped at teardown."""
    started: list[tuple[Running, list[Any]]] = []

    async def start(config: Config | None = None) -> Running:
        running, runners = await in_process.start(config)
        started.append((running, runners))
        return running

    yield start
    for running, runners in started:
        await in_process.stop(running, runners)


@pytest.fixture
async def exporter(exporter_factory: Callable[..., Any]) -> Running:
    return await exporter_factory()
