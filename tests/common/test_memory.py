"""Peak memory per step: a step's own allocation and a child's both reach its record."""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass

import pytest

from synthpack.common.memory import note_child, peak_memory, peak_rss_bytes
from synthpack.common.step import StepSettings, read_record, run_step

pytestmark = pytest.mark.skipif(peak_rss_bytes() is None, reason="no /proc on this system")
MB = 2**20


@dataclass(frozen=True)
class HoldSettings(StepSettings):
    step = "hold"
    megabytes: int = 300


def run_hold(settings, folder, context):
    folder.mkdir()
    block = bytearray(settings.megabytes * MB)  # zero-filled: every page is touched
    return {"held": len(block)}


def test_a_steps_record_holds_its_own_peak_not_the_runs(tmp_path):
    run_step(run_hold, HoldSettings(megabytes=400), tmp_path / "big")
    run_step(run_hold, HoldSettings(megabytes=20), tmp_path / "small")
    big = read_record(tmp_path / "big", "hold")["peak_rss_gb"]
    small = read_record(tmp_path / "small", "hold")["peak_rss_gb"]
    assert big - small > 0.3  # the second step's peak was reset: it does not inherit 400 MB


def test_a_childs_peak_counts_towards_the_step():
    hold = "b = bytearray(500 * 2**20); import time; time.sleep(30)"
    with peak_memory() as peak:
        child = subprocess.Popen([sys.executable, "-c", hold])
        try:
            deadline = time.time() + 20
            while time.time() < deadline and (peak_rss_bytes(child.pid) or 0) < 500 * MB:
                time.sleep(0.05)
            note_child(child.pid)
        finally:
            child.kill()
            child.wait()
    assert peak["bytes"] >= 500 * MB
