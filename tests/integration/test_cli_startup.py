"""Start-up problems end `serve` (and `check-config`, `generate --check`) with one line that
names what is wrong and where, exit 1, and no traceback. Real subprocesses of the CLI."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from exporter.persistence.store import FILENAME
from tests.support.ports import free_port

ROOT = Path(__file__).resolve().parents[2]


def run_cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "exporter", *args],
        cwd=cwd,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    """The process failed with exactly one line on stderr (no traceback, no log noise)."""
    assert result.returncode == 1, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.fixture
def taken() -> Iterator[int]:
    """A loopback port another program listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield s.getsockname()[1]


@pytest.mark.parametrize(
    ("flag", "name"), [("--ocpp-listen", "OCPP"), ("--metrics-listen", "metrics")]
)
def test_a_port_in_use_ends_serve_with_one_line(taken, flag, name):
    other = "--metrics-listen" if flag == "--ocpp-listen" else "--ocpp-listen"
    line = one_line(run_cli("serve", flag, f"127.0.0.1:{taken}", other, f"127.0.0.1:{free_port()}"))
    assert line == (
        f"ocpp-exporter: cannot listen for {name} on 127.0.0.1:{taken}: address already in use"
    )


def test_serve_refuses_the_same_address_for_both_listeners():
    port = free_port()
    line = one_line(
        run_cli(
            "serve", "--ocpp-listen", f"127.0.0.1:{port}", "--metrics-listen", f"0.0.0.0:{port}"
        )
    )
    assert "--metrics-listen" in line and f"127.0.0.1:{port}" in line


def test_check_config_refuses_the_same_address_for_both_listeners(tmp_path):
    path = tmp_path / "exporter.yml"
    path.write_text("listen:\n  ocpp: 0.0.0.0:9000\n  metrics: 127.0.0.1:9000\n")
    line = one_line(run_cli("check-config", str(path)))
    assert line.startswith(f"ocpp-exporter: configuration error: {path}:3: listen.metrics: ")
    assert "listen.ocpp (0.0.0.0:9000)" in line
    path.write_text("listen:\n  ocpp: 127.0.0.1:9000\n  metrics: 127.0.0.2:9000\n")
    assert run_cli("check-config", str(path)).returncode == 0


def test_a_state_dir_that_is_a_file_ends_serve_with_one_line(tmp_path):
    state = tmp_path / "state"
    state.write_text("not a folder")
    line = one_line(run_cli("serve", "--state-dir", str(state), *loopback()))
    assert line == f"ocpp-exporter: state directory {state}: exists and is not a directory"


def test_a_state_dir_under_a_file_ends_serve_with_one_line(tmp_path):
    (tmp_path / "file").write_text("x")
    state = tmp_path / "file" / "state"
    line = one_line(run_cli("serve", "--state-dir", str(state), *loopback()))
    assert line.startswith(f"ocpp-exporter: state directory {state}: cannot create it")


def test_a_state_dir_that_cannot_be_written_ends_serve_with_one_line():
    # /proc/self is a folder nobody (root included) can create files in.
    line = one_line(run_cli("serve", "--state-dir", "/proc/self", *loopback()))
    assert line.startswith("ocpp-exporter: state directory /proc/self: cannot be written")


def test_a_state_dir_whose_database_is_not_a_file_ends_serve_with_one_line(tmp_path):
    (tmp_path / FILENAME).mkdir()
    line = one_line(run_cli("serve", "--state-dir", str(tmp_path), *loopback()))
    assert line == (f"ocpp-exporter: state directory {tmp_path}: {FILENAME} in it is not a file")


def loopback() -> tuple[str, ...]:
    return (
        "--ocpp-listen",
        f"127.0.0.1:{free_port()}",
        "--metrics-listen",
        f"127.0.0.1:{free_port()}",
    )


def test_generate_check_in_a_folder_without_the_files_says_missing(tmp_path):
    result = run_cli("generate", "--check", "--root", str(tmp_path))
    assert result.returncode == 1
    assert "missing" in result.stderr and "out of date" not in result.stderr
    assert "docs/exporter.schema.json" in result.stderr


def test_generate_check_names_a_changed_file_out_of_date(tmp_path):
    assert run_cli("generate", "--root", str(tmp_path)).returncode == 0
    schema = tmp_path / "docs" / "exporter.schema.json"
    schema.write_text(schema.read_text() + " ")
    result = run_cli("generate", "--check", "--root", str(tmp_path))
    assert result.returncode == 1
    assert "out of date" in result.stderr and "missing" not in result.stderr
    assert "docs/exporter.schema.json" in result.stderr
