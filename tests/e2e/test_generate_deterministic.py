"""`generate` writes the same bytes whatever Python's string hash seed: a generator that
iterated over a set (or a dict built from one) would pass `generate --check` on one run and
fail it on the next, in CI or on a user's machine."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("seed", ["0", "1", "4242"])
def test_generate_check_holds_under_any_hash_seed(seed: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "exporter", "generate", "--check"],
        cwd=ROOT,
        env={**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
