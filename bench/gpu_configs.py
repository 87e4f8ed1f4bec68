"""GPU memory and speed of the shipped debias YAMLs, measured with the real trainers.

Measures what the README's config table and the YAML headers state (bench/RESULTS.md,
"GPU: the shipped debias YAMLs on one H200"). This runs the shipped
YAMLs through the real `llamafactory-cli train` (and `synthpack train prefix` for the
prefix-tuning file) on one GPU, with only the overrides a short timing run needs, on
randomly initialised models of the true architectures (no model hub on the GPU machine):
peak GPU memory (nvidia-smi, polled every 200 ms, minus the idle baseline; torch's own peak
too), seconds per step and the wall time of the whole call, model loading included.

What is real and what stands in:
- real: the YAMLs (quantization, LoRA r 64, batch 16, cutoff 1,024, fp16, paged AdamW 32-bit,
  gradient checkpointing as LLaMA-Factory defaults it), LLaMA-Factory's data loading, stock
  chat templates and trainer, the model shapes (vocabulary, hidden size, layers, heads).
- stand-in: random weights (speed and memory do not depend on the values) and SmolLM2's
  tokenizer with Llama's special tokens added (cut to 32,000 entries for Llama-2). The
  records are built so that each is exactly `tokens` long after LLaMA-Factory's truncation,
  so a record's length is set here, not by a real Llama tokenizer.
- records: `synthpack sft debias` output (its own code writes and registers them), filled
  with one-token words; every record of a run has the same length, so no padding.

    python bench/gpu_configs.py --prepare       # once, here: the tokenizer that travels
    bash bench/gpu_configs.sh                   # on the GPU machine (see that file)
    python bench/gpu_configs.py --dry-run-cpu --out /tmp/gpu_configs_dry.json   # CPU rehearsal

Runs go in priority order (RUNS); one that no longer fits --budget-s is skipped, and each is
killed at its own timeout. The results JSON is rewritten after every run, so a lease that
ends early keeps what ran. The CPU rehearsal uses tiny shapes, batch 2, cutoff 256 and no
fp16, and keeps 4-bit and paged AdamW (bitsandbytes runs them on the CPU, without paging).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CONFIGS = REPO / "llamafactory_configs"
CARRIED = REPO / ".gpu_bench"  # ignored by git; travels to the GPU machine with `carry`
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json")

LLAMA3_SPECIALS = [
    "<|begin_of_text|>",
    "<|end_of_text|>",
    "<|start_header_id|>",
    "<|end_header_id|>",
    "<|eot_id|>",
    "<|eom_id|>",
]

# The true shapes (from the models' config.json on the Hub).
ARCHS = {
    "llama3.2-1b": dict(
        hidden_size=2048,
        num_hidden_layers=16,
        num_attention_heads=32,
        num_key_value_heads=8,
        intermediate_size=8192,
        vocab_size=128256,
        tie_word_embeddings=True,
        max_position_embeddings=131072,
        rms_norm_eps=1e-5,
        head_dim=64,
        rope_parameters={
            "rope_type": "llama3",
            "rope_theta": 500000.0,
            "factor": 32.0,
            "low_freq_factor": 1.0,
            "high_freq_factor": 4.0,
            "original_max_position_embeddings": 8192,
        },
    ),
    "llama3-8b": dict(
        hidden_size=4096,
        num_hidden_layers=32,
        num_attention_heads=32,
        num_key_value_heads=8,
        intermediate_size=14336,
        vocab_size=128256,
        tie_word_embeddings=False,
        max_position_embeddings=8192,
        rms_norm_eps=1e-5,
        rope_parameters={"rope_type": "default", "rope_theta": 500000.0},
    ),
    "llama2-7b": dict(
        hidden_size=4096,
        num_hidden_layers=32,
        num_attention_heads=32,
        num_key_value_heads=32,
        intermediate_size=11008,
        vocab_size=32000,
        tie_word_embeddings=False,
        max_position_embeddings=4096,
        rms_norm_eps=1e-5,
        rope_parameters={"rope_type": "default", "rope_theta": 10000.0},
    ),
}
# Same layer kinds, tiny: the CPU rehearsal (vocabulary kept, it sizes the logits).
TINY = dict(
    hidden_size=64,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    intermediate_size=128,
    head_dim=16,
)
TOKENIZER_KIND = {"llama3.2-1b": "llama3", "llama3-8b": "llama3", "llama2-7b": "llama2"}

# Priority order. (run id, YAML, architecture, tokens per record, expected seconds on an
# H200 incl. model load; a run is skipped when less budget is left than it expects, and is
# killed after TIMEOUT_FACTOR times that).
RUNS = [
    ("1b_qlora_1024", "llama3.2-1b_qlora_sft_debias.yaml", "llama3.2-1b", 1024, 60),
    ("8b_qlora_1024", "llama3-8b_qlora_sft_debias.yaml", "llama3-8b", 1024, 120),
    ("1b_qlora_250", "llama3.2-1b_qlora_sft_debias.yaml", "llama3.2-1b", 250, 45),
    ("8b_qlora_250", "llama3-8b_qlora_sft_debias.yaml", "llama3-8b", 250, 90),
    ("1b_full_1024", "llama3.2-1b_full_sft_debias.yaml", "llama3.2-1b", 1024, 75),
    ("1b_prefix_1024", "llama3.2-1b_prefix_sft_debias.yaml", "llama3.2-1b", 1024, 60),
    ("7b_llama2_qlora_1024", "llama2-7b_qlora_sft_debias.yaml", "llama2-7b", 1024, 100),
]
BUILD_SECONDS = {"llama3.2-1b": 15, "llama3-8b": 50, "llama2-7b": 45}  # random init + save
SAVED_GIB = {"llama3.2-1b": 2.3, "llama3-8b": 15.0, "llama2-7b": 12.6}  # bf16 safetensors
TIMEOUT_FACTOR = 2.5
TRAIN_RECORDS = 16 * 12  # more than batch 16 x 8 steps: no epoch boundary inside a run

# Overrides of every run: where the model and data are, a short run, per-step logs, and no
# evaluation or checkpoint (nothing to compare; early stopping needs evaluation, so it goes
# too). Everything else is as shipped.
COMMON_OVERRIDES = {
    "logging_steps": 1,
    "eval_strategy": "no",
    "load_best_model_at_end": False,
    "early_stopping_steps": None,
    "save_strategy": "no",
}
LF_ONLY_OVERRIDES = {"plot_loss": False}  # a LLaMA-Factory key; the prefix trainer refuses it
# The CPU rehearsal: no fp16 on the CPU, small batches. 4-bit and the paged optimizer stay
# (bitsandbytes has a CPU path: the same code runs, without paging).
CPU_OVERRIDES = {
    "use_cpu": True,
    "fp16": False,
    "per_device_train_batch_size": 2,
    "cutoff_len": 256,
}

# One-token words (with their leading space) fill the records, so length is exact.
WORDS = """the of and to in is was for on as with by he at from his an were are which this
be or had it not but first one their its new after who they have her she two been other when
there all during into school time may years more most only over city some world would where
later up such used many can state about national out known university united then made under
team through year part well american film three before while also being series new group
people called following both game between high since season work way them three each each
life album music best war back water day main line several public house because local right
team club last any law long great own four end how age very must home based form family
could second how until general even him area name just early member these place""".split()


# ---------------------------------------------------------------------------------------
# Stand-in tokenizer and random model


def find_smollm2_tokenizer() -> Path:
    """The prepared SmolLM2 folder (its tokenizer is the stand-in's base)."""
    from synthpack.models.embedded import model_dir_for

    folder = model_dir_for()
    if not (folder / "tokenizer.json").is_file():
        raise SystemExit(f"{folder}: no tokenizer.json; run `synthpack model prepare` first")
    return folder


def prepare_carried(dest: Path) -> None:
    """Copy SmolLM2's tokenizer files (3.5 MB) to the folder that travels to the GPU."""
    source = find_smollm2_tokenizer()
    dest.mkdir(parents=True, exist_ok=True)
    for name in TOKENIZER_FILES:
        shutil.copy2(source / name, dest / name)
    print(f"copied {', '.join(TOKENIZER_FILES)} from {source} to {dest}")


def truncate_bpe(spec: dict, keep: int) -> dict:
    """A BPE tokenizer.json cut to its first `keep` ids (merges that need a dropped token go).

    Llama-2's 32,000-row embedding cannot take SmolLM2's 49,152 ids.
    """
    model = spec["model"]
    vocab = {tok: i for tok, i in model["vocab"].items() if i < keep}
    merges = []
    for merge in model["merges"]:
        left, right = merge.split(" ", 1) if isinstance(merge, str) else merge
        if left in vocab and right in vocab and left + right in vocab:
            merges.append(merge)
    kept_added = [t for t in spec.get("added_tokens", []) if t["id"] < keep]
    return {
        **spec,
        "added_tokens": kept_added,
        "model": {**model, "vocab": vocab, "merges": merges},
    }


def build_tokenizer(kind: str, base: Path, dest: Path):
    """SmolLM2's BPE with Llama-3's (or Llama-2's) special tokens, saved into `dest`."""
    from tokenizers import Tokenizer
    from transformers import PreTrainedTokenizerFast

    spec = json.loads((base / "tokenizer.json").read_text(encoding="utf-8"))
    if kind == "llama2":
        spec = truncate_bpe(spec, ARCHS["llama2-7b"]["vocab_size"] - 3)  # + <unk> <s> </s>
        specials = {"unk_token": "<unk>", "bos_token": "<s>", "eos_token": "</s>"}
        extra = []
    else:
        specials = {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>"}
        extra = [t for t in LLAMA3_SPECIALS if t not in specials.values()]
    backend = Tokenizer.from_str(json.dumps(spec))
    backend.no_padding()
    backend.no_truncation()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, **specials)
    tokenizer.add_special_tokens({"additional_special_tokens": extra})
    tokenizer.model_max_length = 1_000_000
    tokenizer.save_pretrained(dest)
    return tokenizer


def build_model(arch: str, dest: Path, device: str, tiny: bool) -> dict:
    """A random-init Llama of `arch`'s shape, bf16 safetensors in `dest` (run in a child)."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    shape = {**ARCHS[arch], **(TINY if tiny else {})}
    tok = AutoTokenizer.from_pretrained(dest)
    config = LlamaConfig(
        **shape,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        hidden_act="silu",
        attention_bias=False,
        mlp_bias=False,
        initializer_range=0.02,
        dtype="bfloat16",
    )
    started = time.perf_counter()
    torch.manual_seed(0)
    default = torch.get_default_dtype()
    torch.set_default_dtype(torch.bfloat16)
    try:
        with torch.device(device):
            model = LlamaForCausalLM(config)
    finally:
        torch.set_default_dtype(default)
    init_s = time.perf_counter() - started
    params = sum(p.numel() for p in model.parameters())
    model.save_pretrained(dest, safe_serialization=True)
    return {
        "arch": arch,
        "parameters": params,
        "init_s": round(init_s, 1),
        "build_s": round(time.perf_counter() - started, 1),
    }


def make_model_dir(arch: str, work: Path, base_tokenizer: Path, device: str, tiny: bool) -> dict:
    """Tokenizer in the driver (no CUDA there), the weights in a child process, so the driver
    holds no CUDA context that would count in nvidia-smi's idle baseline."""
    dest = work / "models" / arch
    marker = dest / "gpu_bench_model.json"
    if marker.is_file():
        return json.loads(marker.read_text())
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    started = time.perf_counter()
    build_tokenizer(TOKENIZER_KIND[arch], base_tokenizer, dest)
    cmd = [
        sys.executable,
        __file__,
        "--build-model",
        arch,
        "--dest",
        str(dest),
        "--device",
        device,
    ] + (["--tiny"] if tiny else [])
    child = subprocess.run(cmd, capture_output=True, text=True)
    if child.returncode != 0:
        raise RuntimeError(f"building {arch} failed:\n{child.stderr[-3000:]}")
    info = json.loads(child.stdout.strip().splitlines()[-1])
    info["total_s"] = round(time.perf_counter() - started, 1)
    info["dir"] = str(dest)
    marker.write_text(json.dumps(info))
    return info


# ---------------------------------------------------------------------------------------
# Synthetic debias data, written by `synthpack sft debias`'s own code


def one_token_words(tokenizer) -> list[str]:
    """Words that are one token with their leading space (so n words are n tokens)."""
    words = sorted(
        {w for w in WORDS if len(tokenizer.encode(" " + w, add_special_tokens=False)) == 1}
    )
    if len(words) < 40:
        raise RuntimeError(f"only {len(words)} one-token filler words for this tokenizer")
    return words


def record_lengths(tokenizer, template_name: str, records: list[dict], cutoff: int) -> list[int]:
    """Tokens per record after LLaMA-Factory's template and truncation (its own functions)."""
    from llamafactory.data import get_template_and_fix_tokenizer
    from llamafactory.data.processor.processor_utils import infer_seqlen
    from llamafactory.hparams import DataArguments

    template = get_template_and_fix_tokenizer(tokenizer, DataArguments(template=template_name))
    lengths = []
    for rec in records:
        # LLaMA-Factory's Alpaca converter joins instruction and input with a newline.
        messages = [
            {"role": "user", "content": "\n".join([rec["instruction"], rec["input"]])},
            {"role": "assistant", "content": rec["output"]},
        ]
        prompt, answer = template.encode_oneturn(tokenizer, messages, rec["system"])
        extra = 1 if template.efficient_eos else 0
        source, target = infer_seqlen(len(prompt), len(answer), cutoff - extra)
        lengths.append(source + target + extra)
    return lengths


def _write_cmd(path: Path, n_rows: int, n_text: int, n_rewrite: int, words, seed: int) -> None:
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8") as f:
        for _ in range(n_rows):
            text = "Post" + "".join(" " + rng.choice(words) for _ in range(n_text))
            rewrite = "Post" + "".join(" " + rng.choice(words) for _ in range(n_rewrite))
            f.write(json.dumps({"text": text, "benign_variation": rewrite}) + "\n")


def build_dataset(out: Path, tokenizer, template_name: str, tokens: int, cutoff: int) -> dict:
    """`debias_cmd_train` / `debias_cmd_val` in `out`, every record `tokens` long after
    truncation at `cutoff` (longer when tokens >= cutoff: truncation then makes it exact)."""
    from synthpack.sft.debias import build_debias

    words = one_token_words(tokenizer)
    rows = TRAIN_RECORDS + 8
    val_ratio = 8 / rows
    probe = out / "probe"
    probe.mkdir(parents=True, exist_ok=True)
    _write_cmd(probe / "cmd.jsonl", 4, 20, 20, words, seed=1)
    build_debias(probe / "cmd.jsonl", probe, kind="cmd", name="debias_cmd", val_ratio=0.25)
    record = json.loads((probe / "debias_cmd" / "train.json").read_text())[0]
    overhead = record_lengths(tokenizer, template_name, [record], 10**6)[0] - 40
    if tokens >= cutoff:  # both halves over cutoff/2: LLaMA-Factory cuts both, total = cutoff
        n_text = n_rewrite = cutoff
    else:
        body = tokens - overhead
        if body < 20:
            raise RuntimeError(f"{tokens} tokens leave no room: the prompt alone is {overhead}")
        n_text = body // 2
        n_rewrite = body - n_text
    _write_cmd(out / "cmd.jsonl", rows, n_text, n_rewrite, words, seed=0)
    manifest = build_debias(
        out / "cmd.jsonl", out, kind="cmd", name="debias_cmd", val_ratio=val_ratio
    )
    train = json.loads((out / "debias_cmd" / "train.json").read_text())
    lengths = record_lengths(tokenizer, template_name, train, cutoff)
    shutil.rmtree(probe)
    return {
        "dir": str(out),
        "records": manifest["records"],
        "prompt_overhead_tokens": overhead,
        "tokens_min": min(lengths),
        "tokens_max": max(lengths),
        "cutoff_len": cutoff,
    }


# ---------------------------------------------------------------------------------------
# Launching one run, with a per-step clock


def launch(entry: str, argv: list[str], clock_path: str | None, modules_out: str | None):
    """Run `llamafactory-cli` / `synthpack` in this process, after adding a callback to every
    Trainer that writes a timestamp (and torch's peak memory) at each optimizer step.

    LLaMA-Factory's own trainer_log.jsonl keeps whole seconds only; one GPU means it trains
    in-process (no torchrun), so the callback reaches its trainer.
    """
    import transformers

    if modules_out:
        import atexit

        atexit.register(
            lambda: Path(modules_out).write_text(
                "\n".join(sorted({m.split(".")[0] for m in list(sys.modules)})) + "\n"
            )
        )
    if clock_path:
        import torch

        class StepClock(transformers.TrainerCallback):
            def __init__(self):
                self.file = open(clock_path, "a", encoding="utf-8")  # noqa: SIM115

            def _write(self, row):
                self.file.write(json.dumps(row) + "\n")
                self.file.flush()

            def _mem(self):
                if not torch.cuda.is_available():
                    return {}
                torch.cuda.synchronize()
                return {
                    "max_allocated": torch.cuda.max_memory_allocated(),
                    "max_reserved": torch.cuda.max_memory_reserved(),
                }

            def on_train_begin(self, args, state, control, **kwargs):
                self._write({"event": "train_begin", "t": time.perf_counter(), **self._mem()})

            def on_step_end(self, args, state, control, **kwargs):
                self._write(
                    {
                        "event": "step",
                        "step": state.global_step,
                        "t": time.perf_counter(),
                        **self._mem(),
                    }
                )

            def on_log(self, args, state, control, logs=None, **kwargs):
                self._write({"event": "log", "step": state.global_step, **(logs or {})})

            def on_train_end(self, args, state, control, **kwargs):
                self._write({"event": "train_end", "t": time.perf_counter(), **self._mem()})

        init = transformers.Trainer.__init__

        def init_with_clock(self, *args, **kwargs):
            init(self, *args, **kwargs)
            self.add_callback(StepClock())

        transformers.Trainer.__init__ = init_with_clock
    if entry == "llamafactory":
        from llamafactory.cli import main

        sys.argv = ["llamafactory-cli", *argv]
    else:
        from synthpack.cli import main

        sys.argv = ["synthpack", *argv]
    return main()


class GpuPoller:
    """nvidia-smi's memory.used every 200 ms in the background (MiB, whole GPU)."""

    def __init__(self, log: Path):
        self.log, self.proc = log, None
        if shutil.which("nvidia-smi"):
            self.proc = subprocess.Popen(
                [
                    "nvidia-smi",
                    "--query-gpu=memory.used",
                    "--format=csv,noheader,nounits",
                    "-lms",
                    "200",
                ],
                stdout=log.open("w"),
                stderr=subprocess.DEVNULL,
            )

    def stop(self) -> int | None:
        if self.proc is None:
            return None
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        values = [int(v) for v in self.log.read_text().split() if v.strip().isdigit()]
        return max(values) if values else None


def gpu_memory_used() -> int | None:
    if not shutil.which("nvidia-smi"):
        return None
    out = subprocess.run(
        ["nvidia-smi", "--query-gpu=memory.used", "--format=csv,noheader,nounits"],
        capture_output=True,
        text=True,
    ).stdout
    return int(out.split()[0]) if out.strip() else None


def _seconds(stamp: str) -> int:
    return sum(int(x) * m for x, m in zip(stamp.split(":"), (3600, 60, 1), strict=True))


def _finite(value, digits: int):
    """JSON has no inf/nan: those (fp16 overflow steps) become strings."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return round(value, digits) if isinstance(value, float) else value


def read_clock(path: Path) -> dict:
    """Seconds per step (median of step durations after the first two), torch peak memory,
    and the loss / grad norm / fp16 overflow skips the Trainer logged."""
    rows = [json.loads(x) for x in path.read_text().splitlines()] if path.is_file() else []
    begin = next((r["t"] for r in rows if r["event"] == "train_begin"), None)
    steps = [r for r in rows if r["event"] == "step"]
    times = [begin] + [r["t"] for r in steps] if begin is not None else []
    durations = [b - a for a, b in zip(times, times[1:], strict=False)]
    logs = [r for r in rows if r["event"] == "log" and "loss" in r]
    peaks = [r for r in rows if "max_allocated" in r]
    out = {
        "train_begin_t": begin,
        "steps_done": len(steps),
        "train_s": round(steps[-1]["t"] - begin, 1) if steps and begin is not None else None,
        "step_seconds": [round(d, 3) for d in durations],
        "seconds_per_step": round(statistics.median(durations[2:]), 3)
        if len(durations) > 2
        else None,
        "losses": [_finite(r["loss"], 4) for r in logs],
        "grad_norms": [_finite(r.get("grad_norm"), 4) for r in logs],
    }
    if peaks:
        out["torch_max_allocated_gib"] = round(max(r["max_allocated"] for r in peaks) / 2**30, 2)
        out["torch_max_reserved_gib"] = round(max(r["max_reserved"] for r in peaks) / 2**30, 2)
    return out


def read_trainer_log(out_dir: Path) -> float | None:
    """The cross-check: LLaMA-Factory's trainer_log.jsonl (whole seconds) over steps 3..N."""
    path = out_dir / "trainer_log.jsonl"
    if not path.is_file():
        return None
    rows = [json.loads(x) for x in path.read_text().splitlines()]
    rows = [r for r in rows if "loss" in r]
    if len(rows) < 4:
        return None
    first, last = rows[1], rows[-1]
    span = last["current_steps"] - first["current_steps"]
    return round((_seconds(last["elapsed_time"]) - _seconds(first["elapsed_time"])) / span, 3)


def tail(path: Path, lines: int = 40) -> str:
    if not path.is_file():
        return ""
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def override_arg(key: str, value) -> str:
    """`key=value` as llamafactory-cli reads it (values are YAML: `no` alone would be false)."""
    import yaml

    from synthpack.train.lf_config import format_override

    if value is None:
        return f"{key}=null"
    if isinstance(value, str) and yaml.safe_load(value) != value:
        return f"{key}='{value}'"
    return format_override(key, value)


def run_one(run, model: dict, data: dict, work: Path, args, timeout: float) -> dict:
    run_id, yaml_name, arch, tokens, _ = run
    config = CONFIGS / yaml_name
    prefix = "prefix" in yaml_name
    out_dir = work / "out" / run_id
    shutil.rmtree(out_dir, ignore_errors=True)
    overrides = {
        "model_name_or_path": model["dir"],
        "dataset_dir": data["dir"],
        "output_dir": str(out_dir),
        "max_steps": args.steps,
        **COMMON_OVERRIDES,
        **({} if prefix else LF_ONLY_OVERRIDES),
    }
    if args.dry_run_cpu:
        overrides.update(CPU_OVERRIDES)
    cli = [override_arg(k, v) for k, v in overrides.items()]
    entry, argv = (
        ("synthpack", ["train", "prefix", str(config), *cli])
        if prefix
        else ("llamafactory", ["train", str(config), *cli])
    )
    log = work / "logs" / f"{run_id}.log"
    clock = work / "logs" / f"{run_id}.clock.jsonl"
    clock.unlink(missing_ok=True)
    cmd = [sys.executable, __file__, "--launch", entry, "--clock", str(clock)]
    if args.modules_out:
        cmd += ["--modules-out", f"{args.modules_out}.{run_id}"]
    cmd += ["--", *argv]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            [str(REPO / "plugins"), *filter(None, [os.environ.get("PYTHONPATH")])]
        ),
    }
    baseline = gpu_memory_used()
    poller = GpuPoller(work / "logs" / f"{run_id}.smi")
    started = time.perf_counter()
    status, rc = "ok", None
    with log.open("w") as f:
        proc = subprocess.Popen(
            cmd, stdout=f, stderr=subprocess.STDOUT, env=env, cwd=REPO, start_new_session=True
        )
        try:
            rc = proc.wait(timeout=timeout)
            status = "ok" if rc == 0 else "failed"
        except subprocess.TimeoutExpired:
            status = "timeout"
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    wall = time.perf_counter() - started
    peak = poller.stop()
    timing = read_clock(clock)
    # perf_counter is CLOCK_MONOTONIC, shared by the child: start-up = import + data + load.
    begin = timing.pop("train_begin_t")
    timing["before_train_s"] = round(begin - started, 1) if begin is not None else None
    row = {
        "run": run_id,
        "yaml": yaml_name,
        "arch": arch,
        "status": status,
        "rc": rc,
        "tokens_per_record": data["tokens_max"]
        if data["tokens_min"] == data["tokens_max"]
        else [data["tokens_min"], data["tokens_max"]],
        "overrides": cli,
        "timeout_s": round(timeout),
        "wall_s": round(wall, 1),
        "gpu_baseline_mib": baseline,
        "gpu_peak_mib": peak,
        "gpu_peak_minus_baseline_gib": round((peak - baseline) / 1024, 2)
        if peak is not None and baseline is not None
        else None,
        **timing,
        "seconds_per_step_trainer_log": read_trainer_log(out_dir),
    }
    if args.dry_run_cpu:
        # Children's peak RSS so far (cumulative max over all children, MB): CPU only.
        row["children_peak_rss_mb"] = round(
            resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1e3
        )
    batch = int(overrides.get("per_device_train_batch_size", 16))
    if row["seconds_per_step"]:
        row["batch"] = batch
        row["tokens_per_s"] = round(batch * data["tokens_max"] / row["seconds_per_step"])
    row["log_tail"] = tail(log, 25 if status == "ok" else 60)
    shutil.rmtree(out_dir, ignore_errors=True)
    return row


# ---------------------------------------------------------------------------------------
# Driver


def environment() -> dict:
    info = {"python": platform.python_version(), "machine": platform.machine()}
    for name in (
        "torch",
        "transformers",
        "peft",
        "accelerate",
        "datasets",
        "trl",
        "bitsandbytes",
        "tokenizers",
        "llamafactory",
    ):
        try:
            from importlib.metadata import version

            info[name] = version(name)
        except Exception:  # noqa: BLE001 - not installed: say so
            info[name] = None
    if shutil.which("nvidia-smi"):
        q = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,memory.total,driver_version", "--format=csv,noheader"],
            capture_output=True,
            text=True,
        )
        info["gpu"] = q.stdout.strip()
    return info


def print_table(rows: list[dict]) -> None:
    head = (
        f"{'run':<22}{'status':<9}{'tok':>6}{'s/step':>8}{'tok/s':>9}{'peak GiB':>10}"
        f"{'torch GiB':>11}{'wall s':>8}"
    )
    print(head)
    print("-" * len(head))

    def f(row, key):
        return str(row[key]) if row.get(key) is not None else "-"

    for r in rows:
        tok = r.get("tokens_per_record", "-")
        print(
            f"{r['run']:<22}{r['status']:<9}{str(tok):>6}{f(r, 'seconds_per_step'):>8}"
            f"{f(r, 'tokens_per_s'):>9}{f(r, 'gpu_peak_minus_baseline_gib'):>10}"
            f"{f(r, 'torch_max_reserved_gib'):>11}{f(r, 'wall_s'):>8}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="results JSON (rewritten after every run)")
    parser.add_argument(
        "--only",
        help="comma-separated run ids (default: all, in order): " + ", ".join(r[0] for r in RUNS),
    )
    parser.add_argument("--budget-s", type=float, default=420, help="skip runs that no longer fit")
    parser.add_argument("--steps", type=int, default=8, help="max_steps of every run")
    parser.add_argument("--work", type=Path, default=Path("/tmp/gpu_bench"))
    parser.add_argument(
        "--tokenizer",
        type=Path,
        default=CARRIED / "tokenizer",
        help="SmolLM2 tokenizer files (made by --prepare)",
    )
    parser.add_argument(
        "--dry-run-cpu",
        action="store_true",
        help="tiny shapes, no fp16, batch 2, cutoff 256, on the CPU",
    )
    parser.add_argument(
        "--prepare",
        action="store_true",
        help="copy SmolLM2's tokenizer to .gpu_bench/tokenizer and stop",
    )
    parser.add_argument("--modules-out", help="(dry run) write each run's imported modules")
    # Internal: child processes.
    parser.add_argument("--build-model", help=argparse.SUPPRESS)
    parser.add_argument("--dest", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--device", default="cuda", help=argparse.SUPPRESS)
    parser.add_argument("--tiny", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--launch", choices=("llamafactory", "synthpack"), help=argparse.SUPPRESS)
    parser.add_argument("--clock", help=argparse.SUPPRESS)
    parser.add_argument("rest", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.launch:
        rest = args.rest[1:] if args.rest[:1] == ["--"] else args.rest
        sys.exit(launch(args.launch, rest, args.clock, args.modules_out))
    if args.build_model:
        print(json.dumps(build_model(args.build_model, args.dest, args.device, args.tiny)))
        return
    if args.prepare:
        prepare_carried(args.tokenizer)
        return
    if not args.out:
        parser.error("--out is required")

    t0 = time.perf_counter()
    sys.path.insert(0, str(REPO / "plugins"))
    os.environ.setdefault("HF_HOME", str(args.work / "hf"))
    for key in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
        os.environ[key] = "1"
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    runs = RUNS
    if args.only:
        wanted = args.only.split(",")
        unknown = [w for w in wanted if w not in {r[0] for r in RUNS}]
        if unknown:
            parser.error(f"unknown run(s) {unknown}. Available: {', '.join(r[0] for r in RUNS)}")
        runs = [r for r in RUNS if r[0] in wanted]
    (args.work / "logs").mkdir(parents=True, exist_ok=True)
    device = "cpu" if args.dry_run_cpu else "cuda"
    results = {
        "what": "peak GPU memory and seconds per step of the shipped debias YAMLs, real "
        "llamafactory-cli train / synthpack train prefix, random-init models of the true shapes",
        "date": date.today().isoformat(),
        "dry_run_cpu": args.dry_run_cpu,
        "environment": environment(),
        "steps_per_run": args.steps,
        "budget_s": args.budget_s,
        "common_overrides": {
            **COMMON_OVERRIDES,
            **LF_ONLY_OVERRIDES,
            "per run": "model_name_or_path, dataset_dir, output_dir, max_steps",
        },
        "notes": [
            "Weights are random (bf16 safetensors, built on the GPU); shapes are the real ones.",
            "Tokenizer is a stand-in (SmolLM2's BPE + Llama special tokens; cut to 32,000 ids "
            "for Llama-2): record lengths are set by this script, not by a real Llama tokenizer.",
            "Every record of a run has the same token count, so batches carry no padding.",
            "gpu_peak_minus_baseline_gib: nvidia-smi memory.used polled every 200 ms during the "
            "whole call (load + train), minus the reading before it; torch_* are the trainer "
            "process's torch.cuda max_memory_allocated / reserved at the optimizer steps.",
            "seconds_per_step: median of steps 3..N (a callback's clock after each optimizer "
            "step, CUDA synchronised); seconds_per_step_trainer_log: LLaMA-Factory's "
            "trainer_log.jsonl (whole seconds) over the same steps, as a cross-check.",
            "grad_norms of inf/nan mark fp16 overflow steps (GradScaler skips the update).",
        ],
        "runs": [],
    }
    models, datasets = {}, {}
    for i, run in enumerate(runs):
        run_id, yaml_name, arch, tokens, expect = run
        left = args.budget_s - (time.perf_counter() - t0)
        need = expect + (0 if arch in models else BUILD_SECONDS[arch])
        if left < need:
            results["runs"].append(
                {
                    "run": run_id,
                    "yaml": yaml_name,
                    "status": "skipped",
                    "reason": f"{left:.0f} s of budget left, expects {need} s",
                }
            )
            print(f"skip {run_id}: {left:.0f} s left, expects {need} s", flush=True)
            _save(args.out, results)
            continue
        print(f"== {run_id} ({yaml_name}, {tokens} tokens, {left:.0f} s left)", flush=True)
        build = None
        try:
            if arch not in models:
                free = shutil.disk_usage(args.work).free / 2**30
                print(f"   building {arch} ({free:.0f} GiB free in {args.work})", flush=True)
                if not args.dry_run_cpu and free < SAVED_GIB[arch] + 6:  # + a full checkpoint
                    raise RuntimeError(
                        f"{free:.0f} GiB free in {args.work}, {arch} needs "
                        f"{SAVED_GIB[arch]:.0f} GiB (use --work elsewhere)"
                    )
                models[arch] = build = make_model_dir(
                    arch, args.work, args.tokenizer, device, args.dry_run_cpu
                )
                print(f"   model {arch}: {build}", flush=True)
            cutoff = 256 if args.dry_run_cpu else 1024
            template = "llama2" if TOKENIZER_KIND[arch] == "llama2" else "llama3"
            key = (arch, tokens)
            if key not in datasets:
                from transformers import AutoTokenizer

                tok = AutoTokenizer.from_pretrained(models[arch]["dir"])
                datasets[key] = build_dataset(
                    args.work / "data" / f"{arch}_{tokens}", tok, template, tokens, cutoff
                )
                print(f"   data: {datasets[key]}", flush=True)
            left = args.budget_s - (time.perf_counter() - t0)
            timeout = max(30.0, min(TIMEOUT_FACTOR * expect, left))
            row = run_one(run, models[arch], datasets[key], args.work, args, timeout)
            row["data"] = datasets[key]
        except Exception as exc:  # noqa: BLE001 - one broken run must not lose the others
            row = {
                "run": run_id,
                "yaml": yaml_name,
                "status": "error",
                "error": f"{type(exc).__name__}: {exc}"[-3000:],
            }
        row["model_build"] = build  # random init + save, only on the run that built it
        results["runs"].append(row)
        results["elapsed_s"] = round(time.perf_counter() - t0, 1)
        _save(args.out, results)
        if row["status"] == "error":
            print(f"   error: {row['error']}", flush=True)
        else:
            print(
                f"   {row['status']}: {row.get('seconds_per_step')} s/step, "
                f"peak {row.get('gpu_peak_minus_baseline_gib')} GiB over baseline, "
                f"wall {row.get('wall_s')} s",
                flush=True,
            )
        if arch in models and all(r[2] != arch for r in runs[i + 1 :]):
            shutil.rmtree(models.pop(arch)["dir"], ignore_errors=True)  # 16 GB for the 8B
    results["elapsed_s"] = round(time.perf_counter() - t0, 1)
    _save(args.out, results)
    print()
    print_table(results["runs"])


def _save(path: Path, results: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(results, indent=2) + "\n")
    tmp.replace(path)


if __name__ == "__main__":
    main()
