"""The whole command line under ``python -X dev``: no ResourceWarning, no leaked semaphore.

Python's development mode shows every ResourceWarning (a file, socket or process left for the
garbage collector to close) and the multiprocessing resource tracker reports semaphores a pool
leaked. Each command runs in a fresh ``python -X dev`` process, as a person would run it (a pool
of two workers, a local Dask cluster, a results folder, a report, a query, a refusal); its
stderr must hold neither. The detector itself is checked on a snippet that does leak.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import SCENARIOS

pytestmark = pytest.mark.slow

CLI = "import sys; from funnelsim.cli import main; sys.argv[0] = 'funnelsim'; main()"
LEAKS = ("ResourceWarning", "leaked semaphore", "resource_tracker")


def dev_mode(args: list[str], cwd: Path, code: str = CLI) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONWARNINGS", "PYTHONDEVMODE")}
    return subprocess.run(
        [sys.executable, "-X", "dev", "-c", code, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def leaks(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if any(word in line for word in LEAKS)]


def test_the_detector_sees_a_leak(tmp_path: Path) -> None:
    done = dev_mode(
        [],
        tmp_path,
        code="import gc; f = open(__import__('sys').executable, 'rb'); del f; gc.collect()",
    )
    assert leaks(done.stderr), done.stderr


SHORT = ["--set", "horizon=4w", "--set", "warmup=1w"]


def test_every_command_leaves_nothing_to_the_garbage_collector(tmp_path: Path) -> None:
    plans = [SCENARIOS / "inbound-heavy.yaml", SCENARIOS / "outbound-heavy.yaml"]
    commands: list[tuple[list[str], int]] = [
        (["validate", str(SCENARIOS / "baseline.yaml")], 0),
        (["validate", str(SCENARIOS / "baseline.yaml"), "--set", "teams.sdr.headcount=x"], 2),
        (["schema"], 0),
        (["run", str(plans[0]), "-n", "2", "-w", "2", *SHORT, "--out", "pool"], 0),
        (["run", str(plans[0]), "-n", "3", "-w", "2", *SHORT, "--out", "pool", "--resume"], 0),
        (["run", str(plans[0]), "-n", "2", "-w", "2", *SHORT, "--out", "pool"], 2),
        (["compare", *map(str, plans), "-n", "2", "-w", "2", *SHORT, "--executor", "dask"], 0),
        (
            [
                "study",
                str(SCENARIOS / "studies" / "inbound-vs-outbound.yaml"),
                "-n",
                "2",
                "-w",
                "2",
                *SHORT,
                "--out",
                "study",
            ],
            0,
        ),
        (["report", "study"], 0),
        (["query", "pool", "SELECT count(*) AS n FROM replications", "--json"], 0),
        (["query", "pool", "COPY replications TO 'x.csv'"], 2),
    ]
    for args, code in commands:
        done = dev_mode(args, tmp_path)
        assert done.returncode == code, (args, done.stderr[-2000:])
        assert "Traceback" not in done.stderr, (args, done.stderr[-2000:])
        assert leaks(done.stderr) == [], (args, leaks(done.stderr))
    counted = dev_mode(
        ["query", "pool", "SELECT count(*) AS n FROM replications", "--json"], tmp_path
    )
    assert json.loads(counted.stdout) == [{"n": 3}]  # the resume ran; the refusals wrote nothing
