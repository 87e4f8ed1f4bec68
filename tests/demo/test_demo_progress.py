"""The demo as a user sees it in a terminal: live progress bars, then the results table.

The demo runs on the tiny random Llama (every step real: llamafactory-cli train, generation,
cleaning, the report) in a child process whose stdout and stderr are a pseudo-terminal, so the
bars draw exactly as they do for `make demo`. A random model writes no valid entry, so the
steps that need some (register, eval_mlp) are left to the SmolLM2 demo test.
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import struct
import subprocess
import sys
import termios
from dataclasses import asdict

import pytest
from card_checks import check_card
from conftest import REPO
from test_demo import REDUCED

SCRIPT = """
import json, sys
from pathlib import Path
from synthpack.demo.pipeline import run_demo
from synthpack.demo.recipes import Recipe
size = Recipe(**json.loads(sys.argv[1]))
run_demo(
    Path(sys.argv[2]), size, steps="prepare-clean,report", data_dir=Path(sys.argv[3]),
    model_dir=Path(sys.argv[4]), precision="bf16",
)
"""


def _run_in_terminal(argv: list[str], timeout: float = 600) -> str:
    """Run argv with a pseudo-terminal as stdout and stderr; return everything it drew."""
    leader, follower = pty.openpty()
    # 40 rows x 160 columns: a fresh pty is 0 x 0, and tqdm fits its bar into 0 columns
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 160, 0, 0))
    env = {**os.environ, "PYTHONPATH": f"{REPO / 'plugins'}{os.pathsep}{REPO / 'tests'}"}
    proc = subprocess.Popen(argv, stdout=follower, stderr=follower, env=env, close_fds=True)
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 65536)
        except OSError:  # the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(leader)
    assert proc.wait(timeout=timeout) == 0, b"".join(chunks).decode(errors="replace")[-3000:]
    return b"".join(chunks).decode("utf-8", errors="replace")


@pytest.mark.integration
def test_the_demo_shows_training_and_generation_progress_then_the_results(tiny_model, tmp_path):
    run_dir = tmp_path / "run"
    size = {**asdict(REDUCED), "train_steps": 3}
    screen = _run_in_terminal(
        [
            sys.executable,
            "-c",
            SCRIPT,
            json.dumps(size),
            str(run_dir),
            str(tmp_path),
            str(tiny_model),
        ]
    )
    frames = screen.replace("\r", "\n")
    # training: step / total, loss and time left, from trainer_log.jsonl while it runs
    steps = re.findall(r"train:.*?\b([0-3])/3 \[.*?loss=([0-9.]+)", frames)
    assert [s for s, _ in steps][-1] == "3", frames[-2000:]
    assert "left=" in frames
    # generation: tokens/s, prompts done, and the bar reaching its (shrunk) total
    prompts = 2 * REDUCED.prompts_per_polarity
    assert re.search(rf"generate:.*tok/s.*prompts=0/{prompts}", frames)
    assert re.search(rf"generate: 100%.*prompts={prompts}/{prompts}", frames)
    # the end-of-demo results table
    assert re.search(r"polarity\s+success\s+pass %\s+dup %\s+kept", frames)
    summary = json.loads((run_dir / "summary.json").read_text())
    for polarity, stats in summary["generation"]["by_polarity"].items():
        assert re.search(
            rf"{polarity}\s+{stats['success_rate_mean']:.2f}\s+.*\s{stats['accepted']}\s*\n", frames
        )
    accepted = [json.loads(x)["text"] for x in (run_dir / "generations" / "accepted.jsonl").open()]
    assert not any(text in screen for text in accepted if len(text) > 20), "no samples on screen"
    # the cleaned set's dataset card, with the seeds' origin and the command that made it
    _, card = check_card(run_dir / "generations")
    assert "dataset_info/seeds/README.md" in card
    assert f"synthpack demo --out {run_dir}" in card


def test_without_a_terminal_the_bars_stay_silent(tmp_path, capfd):
    from synthpack.common.progress import progress_bars, terminal

    for bar in (terminal, progress_bars(quiet=True)):
        with bar(10, "work", unit="it") as update:
            for _ in range(10):
                update(1, loss="0.5")
    out, err = capfd.readouterr()
    assert out == "" and err == ""


def test_the_card_command_remakes_the_run(tmp_path):
    from synthpack.demo.pipeline import demo_command
    from synthpack.demo.recipes import load_recipe
    from synthpack.prepare.real_data import RealData

    data = RealData(tmp_path / "d" / "toxigen", tmp_path / "d" / "stereoset" / "dev.json")
    none = RealData(None, None)
    run = tmp_path / "run"
    assert demo_command(run, load_recipe("full"), data) == (
        f"synthpack demo --out {run} --recipe full --data {tmp_path / 'd'}"
    )
    assert demo_command(run, load_recipe("default"), none) == f"synthpack demo --out {run}"
    assert (
        demo_command(run, load_recipe("quick"), none)
        == f"synthpack demo --out {run} --recipe quick"
    )
    # Any other recipe: the closest shipped one and the fields that differ, so the card's
    # command makes the same run again.
    assert demo_command(run, REDUCED, none) == (
        f"synthpack demo --out {run} --recipe quick prompts_per_polarity=3 n_entries=6 "
        "sft_per_class=8 train_steps=2 cutoff_len=384 max_new_tokens=96 real_train=400 "
        "real_eval=300 stereoset_examples=9"
    )
    assert load_recipe("quick", demo_command(run, REDUCED, none).split()[6:]) == REDUCED
