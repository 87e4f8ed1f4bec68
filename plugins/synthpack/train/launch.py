"""Step 3, train: LLaMA-Factory's own `llamafactory-cli train` on a pack YAML with key=value
overrides (`run_train` is the step's runner).

synthpack never re-implements LLaMA-Factory training; it only launches the real CLI, so the
same YAML behaves identically on a laptop, in the tests and on a GPU cluster.
"""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from synthpack.common.errors import SynthpackError
from synthpack.common.memory import note_child
from synthpack.common.progress import ProgressBar, Update, silent
from synthpack.common.step import Context, StepSettings
from synthpack.models.precision import Precision, as_precision, model_device
from synthpack.train.lf_config import format_override, load_config

TRAINER_LOG = "trainer_log.jsonl"  # LLaMA-Factory appends one line per logged step
POLL_SECONDS = 1.0
CHECKPOINTING = ("none", "selective", "full")  # activation checkpointing (lean_checkpoint.py)
SELECTIVE_FLAG = "--selective-checkpointing"  # tells the lean launcher (lean_loss.main) to use it


PR_SET_PDEATHSIG = 1  # prctl(2): the signal a process gets when its parent dies


def die_with_parent() -> None:
    """In the child, before exec (Linux): SIGTERM when the launcher dies, even by SIGKILL.

    A `kill` of the demo would otherwise leave the training running, still writing the run
    folder that the resumed demo trains into again."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def start_child(argv: list[str], **popen) -> subprocess.Popen:
    """`subprocess.Popen` for a long child that must not outlive this process."""
    linux = sys.platform.startswith("linux")
    return subprocess.Popen(argv, preexec_fn=die_with_parent if linux else None, **popen)


def llamafactory_cli() -> str:
    """The `llamafactory-cli` next to this Python, so a venv works without being activated."""
    beside = Path(sys.executable).with_name("llamafactory-cli")
    if beside.exists():
        return str(beside)
    found = shutil.which("llamafactory-cli")
    if not found:
        raise SynthpackError("llamafactory-cli not found: install synthpack's dependencies first")
    return found


class TrainerLogReader:
    """The new lines of OUTPUT_DIR/trainer_log.jsonl, read while LLaMA-Factory writes them.

    A log left by an earlier run is skipped: LLaMA-Factory either appends to it (we start at
    its old end) or deletes and recreates it (a new inode: we start at 0). A last line
    without its newline is still being written and waits for the next read.
    """

    def __init__(self, path: Path):
        self.path = Path(path)
        old = self.path.stat() if self.path.exists() else None
        self.inode, self.offset = (old.st_ino, old.st_size) if old else (None, 0)

    def read_new(self) -> list[dict]:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return []
        if st.st_ino != self.inode or st.st_size < self.offset:
            self.inode, self.offset = st.st_ino, 0
        with self.path.open("rb") as f:
            f.seek(self.offset)
            chunk = f.read()
        complete = chunk[: chunk.rfind(b"\n") + 1]
        self.offset += len(complete)
        records = []
        for line in complete.decode("utf-8", errors="replace").splitlines():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                continue  # not ours to judge; the log keeps it
        return records


def show_training(records: list[dict], update: Update, done: int) -> int:
    """Advance the bar to each record's step (total, loss, LLaMA-Factory's time left)."""
    for rec in records:
        step = rec.get("current_steps")
        if not isinstance(step, int):
            continue
        facts = {"total": rec["total_steps"]} if rec.get("total_steps") else {}
        if rec.get("loss") is not None:
            facts["loss"] = f"{rec['loss']:.4f}"
        if rec.get("remaining_time"):
            facts["left"] = rec["remaining_time"]
        update(max(0, step - done), **facts)
        done = max(done, step)
    return done


def trainer_precision_keys(precision: Precision) -> dict:
    """The training-argument keys of `precision`; bf16 on a CPU also needs `use_cpu`, without
    which HF's Trainer refuses bf16 on a machine with no GPU."""
    keys = {"bf16": precision.is_bf16, "fp16": False}
    if precision.is_bf16 and model_device() == "cpu":
        keys["use_cpu"] = True
    return keys


def precision_overrides(model_dir: Path, precision: Precision) -> dict:
    """LLaMA-Factory keys that train `model_dir` at `precision` (`resolve_precision`): the
    trainer's keys, and base weights stored in bf16 for a bf16 run (`training_copy`), since
    autocast alone would re-cast each fp32 weight in every matmul of every step."""
    from synthpack.models.embedded import training_copy

    return {
        "model_name_or_path": training_copy(model_dir, precision),
        **trainer_precision_keys(precision),
    }


def run_llamafactory_train(
    config: Path,
    overrides: dict | None = None,
    log_path: Path | None = None,
    cwd: Path | None = None,
    progress_bar: ProgressBar = silent,
    lean_loss: bool = False,
    checkpointing: str | None = None,
) -> None:
    """Launch `llamafactory-cli train CONFIG key=value ...`; raise with the log's tail on failure.

    Output goes to `log_path` (and the terminal when no log is given) so long runs stay
    inspectable after the fact. With a log, `progress_bar` shows step / total, loss and time
    left, read from the trainer_log.jsonl that LLaMA-Factory writes as it trains.
    `lean_loss`: the same CLI with the loss on labelled tokens only (`train.lean_loss`).
    `checkpointing`: None leaves the config's choice; "none" or "full" sets LLaMA-Factory's
    `disable_gradient_checkpointing`; "selective" recomputes only the elementwise work
    (`train.lean_checkpoint`, which needs the lean loss's launcher).
    """
    overrides = dict(overrides or {})
    flags = []
    if checkpointing is not None:
        if checkpointing not in CHECKPOINTING:
            raise SynthpackError(
                f"checkpointing must be one of {', '.join(CHECKPOINTING)}, not {checkpointing!r}"
            )
        if checkpointing == "selective" and not lean_loss:
            raise SynthpackError("selective checkpointing runs only with the lean loss")
        overrides["disable_gradient_checkpointing"] = checkpointing == "none"
        flags = [SELECTIVE_FLAG] if checkpointing == "selective" else []
    lean_cli = [sys.executable, "-m", "synthpack.train.lean_loss", *flags]
    argv = [*(lean_cli if lean_loss else [llamafactory_cli()]), "train", str(config)]
    argv += [format_override(k, v) for k, v in overrides.items()]
    env = dict(os.environ)
    # The venv's bin must be on PATH: LLaMA-Factory relaunches itself (torchrun) by name.
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    if log_path is None:
        result = start_child(argv, cwd=cwd, env=env)
        result.wait()
        tail = ""
    else:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        output_dir = overrides.get("output_dir") or load_config(config).get("output_dir", ".")
        reader = TrainerLogReader(Path(cwd or ".") / output_dir / TRAINER_LOG)
        with log_path.open("w") as log, progress_bar(0, "train", unit="step") as update:
            proc = start_child(argv, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT)
            done = 0
            while True:
                try:
                    proc.wait(timeout=POLL_SECONDS)
                    break
                except subprocess.TimeoutExpired:
                    done = show_training(reader.read_new(), update, done)
                    note_child(proc.pid)
                except BaseException:  # Ctrl-C: stop the training too, then re-raise
                    proc.terminate()
                    proc.wait()
                    raise
            show_training(reader.read_new(), update, done)
        result = proc
        tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-25:])
    if result.returncode != 0:
        where = f" (full log: {log_path})" if log_path else ""
        raise SynthpackError(
            f"llamafactory-cli train {config} failed with exit code {result.returncode}{where}"
            f"\n{tail}"
        )


@dataclass(frozen=True)
class TrainSettings(StepSettings):
    """LoRA SFT of `model_dir` on `dataset` (registered in `dataset_dir`) with the shipped
    LLaMA-Factory YAML `config`; `overrides` are its other keys (steps, learning rate, ...).
    An embedded model's folder brings its own chat template (`llamafactory_template`)."""

    step = "train"
    config: Path
    model_dir: Path
    dataset: str
    dataset_dir: Path
    overrides: dict = field(default_factory=dict)
    precision: Precision | None = None  # None: `default_precision()`
    lean_loss: bool = True  # the output layer and loss on labelled tokens only (lean_loss.py)
    checkpointing: str | None = None  # None: the config's; none, selective or full (launch)

    def reads(self) -> dict[str, Path | None]:
        return {"config": self.config, "model": self.model_dir,
                "dataset_info": Path(self.dataset_dir) / "dataset_info.json"}  # fmt: skip

    def writes(self, folder: Path) -> dict[str, Path]:
        return {"adapter": Path(folder) / ADAPTER, "log": Path(folder) / TRAIN_LOG}


ADAPTER = "adapter"  # the LoRA adapter (LLaMA-Factory's output_dir) inside the train folder
TRAIN_LOG = "train.log"


def run_train(settings: TrainSettings, folder: Path, context: Context = Context()) -> dict:
    """Train with the real `llamafactory-cli train`; the adapter goes to FOLDER/adapter, the
    full log to FOLDER/train.log. Returns the first and last logged losses."""
    from synthpack.models.embedded import llamafactory_template

    s, folder = settings, Path(folder)
    precision = as_precision(s.precision)
    adapter = folder / ADAPTER
    overrides = {
        **precision_overrides(s.model_dir, precision),
        "dataset": s.dataset,
        "dataset_dir": s.dataset_dir,
        **s.overrides,
        "output_dir": adapter,
    }
    template = llamafactory_template(s.model_dir)
    if template:  # the YAML names SmolLM2's; another embedded model brings its own
        overrides["template"] = template
    run_llamafactory_train(
        s.config,
        overrides,
        folder / TRAIN_LOG,
        progress_bar=context.progress_bar,
        lean_loss=s.lean_loss,
        checkpointing=s.checkpointing,
    )
    log = adapter / TRAINER_LOG
    losses = [json.loads(line)["loss"] for line in log.read_text().splitlines() if '"loss"' in line]
    return {
        "config": Path(s.config).name,
        "precision": precision.name,
        "lean_loss": s.lean_loss,
        "checkpointing": s.checkpointing,
        "steps": s.overrides.get("max_steps"),
        "loss_first": losses[0] if losses else None,
        "loss_last": losses[-1] if losses else None,
        "log": str(folder / TRAIN_LOG),
    }
