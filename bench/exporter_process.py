"""Starting the exporter under test as a process of its own: one command line for every
benchmark, so each measures the same thing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used (/proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def serve_command(ocpp_port: int, metrics_port: int, config: Path | None = None) -> list[str]:
    """`ocpp-exporter serve` on loopback ports, logging errors only."""
    return [
        sys.executable,
        "-m",
        "exporter",
        "serve",
        *(["--config", str(config)] if config is not None else []),
        "--ocpp-listen",
        f"127.0.0.1:{ocpp_port}",
        "--metrics-listen",
        f"127.0.0.1:{metrics_port}",
        "--log-level",
        "error",
    ]


def start(
    ocpp_port: int, metrics_port: int, config: Path | None = None, root: Path = ROOT
) -> subprocess.Popen[bytes]:
    """The exporter of the checkout at `root` (another worktree compares an older commit)."""
    return subprocess.Popen(
        serve_command(ocpp_port, metrics_port, config),
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
    )
