"""Every shipped LLaMA-Factory YAML: the papers' settings, its header's data commands, a
passing `synthpack check`, and a real `llamafactory-cli` run on a tiny model.

The runs keep each file as it is and change only what a CPU test must (derived in
`cpu_overrides`): a tiny model of the same tokenizer family, the test's data and output
folders, a few steps, fp16/bf16 off, DeepSpeed off outside torchrun, one preprocessing worker.
4-bit quantization stays on: bitsandbytes runs it on the CPU. The DeepSpeed YAMLs run under
torchrun with their ZeRO config in the slow test at the end. The two SmolLM2 CPU YAMLs are
trained elsewhere (smollm2_lora_sft_cpu.yaml by tests/train/test_launch.py,
smollm2_lora_sft_hate.yaml by tests/sft/test_sft_synthesis.py, its per-category copy by
tests/prompts/test_scaffold.py); here they are checked.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from synthpack.cli import main
from synthpack.common.paths import pack_dir
from synthpack.train.check import check_config, header_commands
from synthpack.train.launch import llamafactory_cli, run_llamafactory_train
from synthpack.train.lf_config import format_override

CONFIGS = pack_dir("llamafactory_configs")
SHIPPED = sorted(p.name for p in CONFIGS.glob("*.yaml"))

# The papers' settings, written from the papers (SPEC.md, the seeds' tables), not from the YAMLs.
SYNTHESIS_SFT = {  # first paper, Appendix B (4 x A100, LLaMA-Factory, LoRA)
    "model_name_or_path": "mistralai/Mistral-7B-Instruct-v0.2",
    "stage": "sft",
    "do_train": True,
    "finetuning_type": "lora",
    "per_device_train_batch_size": 16,
    "gradient_accumulation_steps": 8,
    "cutoff_len": 4096,
    "learning_rate": 1e-5,
    "warmup_ratio": 0.1,
    "optim": "adamw_torch",
    "weight_decay": 0.01,
    "lora_dropout": 0.1,
    "fp16": True,
    "bf16": False,
    "template": "mistral",
    "deepspeed": "llamafactory_configs/deepspeed/ds_z2_config.json",
}
SR_LLM_SHARED = {  # second paper, Table 3: settings every SR_LLM run shares
    "stage": "sft",
    "do_train": True,
    "per_device_train_batch_size": 16,
    "per_device_eval_batch_size": 8,
    "gradient_accumulation_steps": 1,
    "cutoff_len": 1024,
    "eval_strategy": "steps",
    "eval_steps": 25,
    "save_steps": 25,
    "early_stopping_steps": 3,
    "load_best_model_at_end": True,
    "max_grad_norm": 0.3,
    "lr_scheduler_type": "constant_with_warmup",
    "warmup_ratio": 0.03,
    "weight_decay": 0.001,
    "adam_beta1": 0.9,
    "adam_beta2": 0.999,
    "fp16": True,
    "bf16": False,
}
QLORA = {
    **SR_LLM_SHARED,
    "finetuning_type": "lora",
    "quantization_bit": 4,
    "quantization_method": "bnb",
    "quantization_type": "nf4",
    "double_quantization": True,
    "lora_rank": 64,
    "lora_alpha": 16,
    "lora_dropout": 0.2,
    "learning_rate": 2e-4,
    "optim": "paged_adamw_32bit",
    "num_train_epochs": 1.0,
    "dataset": "debias_cmd_train",
    "eval_dataset": "debias_cmd_val",
}
LLAMA32 = "meta-llama/Llama-3.2-1B-Instruct"
EXPECTED = {
    "mistral-7b_lora_sft_hate.yaml": {
        **SYNTHESIS_SFT,
        "dataset": "hate_v1_sft_train",
        "output_dir": "saves/mistral-7b/lora/sft_hate",
    },
    "mistral-7b_lora_sft_mixture.yaml": {
        **SYNTHESIS_SFT,
        "dataset": "mixture_v1_sft_train",
        "output_dir": "saves/mistral-7b/lora/sft_mixture",
    },
    "mistral-7b_lora_sft_mix_gpt.yaml": {
        **SYNTHESIS_SFT,
        "dataset": "mix_gpt_v1_sft_train",
        "output_dir": "saves/mistral-7b/lora/sft_mix_gpt",
    },
    "mistral-7b_lora_predict_hate.yaml": {
        "model_name_or_path": SYNTHESIS_SFT["model_name_or_path"],
        "adapter_name_or_path": "saves/mistral-7b/lora/sft_hate",  # what the SFT YAML wrote
        "template": "mistral",
        "do_predict": True,
        "predict_with_generate": True,
        "cutoff_len": 4096,
        "max_new_tokens": 4096,  # first paper: at most 4,096 new tokens
        "do_sample": True,
        "fp16": True,
    },
    "llama3.2-1b_qlora_sft_debias.yaml": {
        **QLORA,
        "model_name_or_path": LLAMA32,
        "template": "llama3",
        "output_dir": "saves/llama3.2-1b/qlora/sft_debias",
    },
    "llama2-7b_qlora_sft_debias.yaml": {
        **QLORA,
        "model_name_or_path": "meta-llama/Llama-2-7b-chat-hf",
        "template": "llama2",  # its native layout is the paper's <<SYS>>/[INST] layout
    },
    "llama3-8b_qlora_sft_debias.yaml": {
        **QLORA,
        "model_name_or_path": "meta-llama/Meta-Llama-3-8B-Instruct",
        "template": "llama3",
    },
    "llama3.1-8b_qlora_sft_debias.yaml": {
        **QLORA,
        "model_name_or_path": "meta-llama/Llama-3.1-8B-Instruct",
        "template": "llama3",
    },
    "llama3.2-1b_qlora_merge_debias.yaml": {
        "model_name_or_path": LLAMA32,
        "adapter_name_or_path": "saves/llama3.2-1b/qlora/sft_debias",
        "template": "llama3",
        "finetuning_type": "lora",
        "infer_dtype": "float16",  # second paper: compute dtype float16, used when merging
        "export_dir": "saves/llama3.2-1b/qlora/sft_debias_merged",
    },
    "llama3.2-1b_qlora_predict_debias.yaml": {
        "model_name_or_path": "saves/llama3.2-1b/qlora/sft_debias_merged",  # the merge output
        "template": "llama3",
        "do_predict": True,
        "predict_with_generate": True,
        "do_sample": False,  # second paper: greedy decoding
        "cutoff_len": 1024,
        "per_device_eval_batch_size": 8,
        "eval_dataset": "debias_cmd_val",
    },
    "llama3.2-1b_full_sft_debias.yaml": {
        **SR_LLM_SHARED,
        "model_name_or_path": LLAMA32,
        "template": "llama3",
        "finetuning_type": "full",
        "num_train_epochs": 5.0,  # second paper: the dense run trained five epochs
        "optim": "adamw_torch",
        "dataset": "debias_cmd_train",
    },
    "llama3.2-1b_prefix_sft_debias.yaml": {
        **SR_LLM_SHARED,
        "model_name_or_path": LLAMA32,
        "template": "llama3",
        "finetuning_type": "prefix",
        "num_virtual_tokens": 30,
        "prefix_dropout": 0.1,
        "prefix_projection": False,  # random-normal prefix table trained directly
        "learning_rate": 5e-5,
        "num_train_epochs": 5.0,
        "optim": "adamw_torch",
        "dataset": "debias_cmd_train",
    },
    # The CPU configs of the embedded SmolLM2: the first paper's warm-up; the fast CPU config
    # drops LoRA dropout and gradient checkpointing (issue 14, bench/bench_cpu_precision.py).
    "smollm2_lora_sft_cpu.yaml": {
        "lora_dropout": 0.0,
        "warmup_ratio": 0.1,
        "fp16": False,
        "disable_gradient_checkpointing": True,
    },
    "smollm2_lora_sft_hate.yaml": {"lora_dropout": 0.1, "warmup_ratio": 0.1, "fp16": False},
}
# Which tiny model stands in for each template's model family.
FAMILY = {"llama3": "llama3", "llama2": "llama2", "mistral": "mistral"}
# What LLaMA-Factory's log shows of the first formatted example, per template.
LAYOUT = {
    "llama3": "<|start_header_id|>system<|end_header_id|>\n\n",
    "llama2": "[INST] <<SYS>>\n",
    "mistral": "[INST] ",
}
GPU_TRAINED_HERE = [n for n in EXPECTED if not n.startswith("smollm2")]


def load(name: str) -> dict:
    return yaml.safe_load((CONFIGS / name).read_text())


def test_every_shipped_yaml_has_its_paper_settings_listed_here():
    assert sorted(EXPECTED) == SHIPPED, "add the new YAML's paper settings to EXPECTED"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_yaml_keeps_the_paper_settings(name):
    config = load(name)
    drift = {k: (config.get(k), v) for k, v in EXPECTED[name].items() if config.get(k) != v}
    assert not drift, f"{name}: (file, paper) differ: {drift}"


def test_the_pipeline_files_point_at_each_other():
    """Predict reads what SFT wrote; merge reads the QLoRA adapter; predict reads the merge."""
    sft, predict = load("mistral-7b_lora_sft_hate.yaml"), load("mistral-7b_lora_predict_hate.yaml")
    assert predict["adapter_name_or_path"] == sft["output_dir"]
    assert predict["template"] == sft["template"]
    qlora = load("llama3.2-1b_qlora_sft_debias.yaml")
    merge = load("llama3.2-1b_qlora_merge_debias.yaml")
    rewrite = load("llama3.2-1b_qlora_predict_debias.yaml")
    assert merge["adapter_name_or_path"] == qlora["output_dir"]
    assert merge["model_name_or_path"] == qlora["model_name_or_path"]
    assert rewrite["model_name_or_path"] == merge["export_dir"]
    assert qlora["template"] == merge["template"] == rewrite["template"]
    ds = json.loads((CONFIGS / SYNTHESIS_SFT["deepspeed"].split("/", 1)[1]).read_text())
    assert ds["zero_optimization"]["stage"] == 2
    assert all(ds[k] == "auto" for k in ("train_micro_batch_size_per_gpu", "gradient_clipping"))


@pytest.mark.parametrize("name", SHIPPED)
def test_header_says_purpose_hardware_and_how_to_launch(name):
    text = (CONFIGS / name).read_text()
    header = text[: text.index("\n\n")]
    assert all(line.startswith("#") for line in header.splitlines())
    assert "Hardware:" in header and "Launch" in header
    launcher = "synthpack train prefix" if "prefix" in name else "llamafactory-cli"
    assert launcher in header and f"llamafactory_configs/{name}" in header
    if "deepspeed" in load(name):
        assert "FORCE_TORCHRUN=1 NPROC_PER_NODE=4 llamafactory-cli train" in header
        assert "num_train_epochs=" in header  # how to run the other epoch counts


# --- the data the headers tell users to build -------------------------------------------------

# An upper-case argument stands for the user's file (HATE_POS.txt, CMD_ROWS.jsonl, SEEDS_POS).
PLACEHOLDER = re.compile(r"^(?:(\w+)=)?([A-Z][A-Z_]*(?:\.txt|\.jsonl)?)$")
# Test-sized options appended to the header's own command (click keeps the last value).
SMALL = {
    ("sft", "build"): ["--per-class", "12", "--n-entries", "3", "--shots", "2"],
    ("render",): ["--n-prompts", "2", "--n-entries", "5", "--shots", "2"],
    ("sft", "debias"): [],
}


def _placeholder_file(root: Path, name: str) -> Path:
    """Neutral stand-ins for the user's files: 60 numbered seed lines or CMD rows."""
    path = root / "inputs" / (name if "." in name else f"{name}.txt")
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    stem = name.split(".")[0].lower()
    if name.endswith(".jsonl"):
        rows = [
            {
                "text": f"Placeholder post {i} says the weekly meeting runs long.",
                "labels": {"Bias": "No", "Toxicity": "No", "Sentiment": "Negative", "Harm": "Low"},
                "Biased Words": "",
                "Safe Variation": f"Placeholder rewrite {i}: shorter meetings would help.",
            }
            for i in range(40)
        ]
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    else:
        path.write_text("".join(f"placeholder {stem} seed text number {i}\n" for i in range(60)))
    return path


@pytest.fixture(scope="session")
def built(tmp_path_factory) -> dict:
    """Run every data command the YAML headers name, as written, into one test folder."""
    root = tmp_path_factory.mktemp("built")
    registered = {}  # YAML name -> {dataset_dir: names registered by its commands}
    done = {}
    for name in SHIPPED:
        registered[name] = {}
        for command in header_commands((CONFIGS / name).read_text()):
            if command not in done:
                argv = shlex.split(command)[1:]  # drop "synthpack"
                out = argv[argv.index("--out") + 1]
                argv[argv.index("--out") + 1] = str(root / out)
                for i, arg in enumerate(argv):
                    match = PLACEHOLDER.match(arg)
                    if match:
                        category = f"{match.group(1)}=" if match.group(1) else ""
                        argv[i] = category + str(_placeholder_file(root, match.group(2)))
                small = next(v for k, v in SMALL.items() if tuple(argv[: len(k)]) == k)
                result = CliRunner().invoke(main, argv + small)
                assert result.exit_code == 0, f"{name}: `{command}` failed:\n{result.output}"
                info = json.loads((root / out / "dataset_info.json").read_text())
                done[command] = (out, set(info))
            out, names = done[command]
            registered[name].setdefault(out, set()).update(names)
    return {"root": root, "registered": registered}


@pytest.mark.parametrize("name", SHIPPED)
def test_the_header_commands_build_the_datasets_the_yaml_names(name, built):
    config = load(name)
    wanted = {
        n.strip()
        for key in ("dataset", "eval_dataset")
        for n in str(config.get(key) or "").split(",")
        if n.strip()
    }
    made = built["registered"][name]
    if config.get("dataset_dir") == "dataset_info":
        # Shipped demo data; the header's command builds the same names for real data.
        assert all(wanted <= names for names in made.values())
    elif wanted:
        assert wanted <= made.get(config["dataset_dir"], set()), (name, made)


def data_dir(config: dict, built: dict) -> Path:
    if config.get("dataset_dir") == "dataset_info":
        return pack_dir("dataset_info")
    return built["root"] / config["dataset_dir"]


@pytest.mark.parametrize("name", SHIPPED)
def test_synthpack_check_passes_every_shipped_yaml(name, built):
    config = load(name)
    overrides = [] if "dataset_dir" not in config else [f"dataset_dir={data_dir(config, built)}"]
    result = check_config(CONFIGS / name, overrides, cwd=pack_dir("llamafactory_configs").parent)
    assert result.ok, "\n".join(p.format(name) for p in result.problems)
    assert any("parsed by LLaMA-Factory" in note for note in result.notes)


# --- real runs ----------------------------------------------------------------------------------


def cpu_overrides(config: dict, built: dict, out: Path, model: Path, deepspeed: bool) -> dict:
    """The file's own settings, changed only where a CPU test run must differ."""
    overrides = {"model_name_or_path": model, "output_dir": out}
    if "dataset_dir" in config:
        overrides["dataset_dir"] = data_dir(config, built)
    if config.get("fp16") or config.get("bf16"):
        overrides.update(fp16=False, bf16=False)  # no half-precision autocast on this CPU
    if config.get("deepspeed") and not deepspeed:
        overrides["deepspeed"] = "null"  # DeepSpeed needs a torchrun launch (slow test)
    if "preprocessing_num_workers" in config:
        overrides["preprocessing_num_workers"] = 1  # 2 cores; the files ask for 4-16
    if config.get("do_train"):
        overrides.update(max_steps=3, per_device_train_batch_size=2, logging_steps=1)
        overrides["gradient_accumulation_steps"] = min(config["gradient_accumulation_steps"], 2)
        overrides["per_device_eval_batch_size"] = 2
        if config.get("eval_strategy") == "steps":  # evaluate, save, pick the best every step
            overrides.update(eval_steps=1, save_steps=1)
    if config.get("do_predict"):
        overrides.update(max_new_tokens=8, per_device_eval_batch_size=2)
    return overrides


def run_cli(command: str, name: str, overrides: dict, log: Path, env: dict | None = None):
    """`llamafactory-cli COMMAND CONFIG key=value...`, as a user runs it; fail with the log tail."""
    if command == "train" and not env:
        return run_llamafactory_train(CONFIGS / name, overrides, log_path=log)
    argv = [llamafactory_cli(), command, str(CONFIGS / name)]
    argv += [format_override(k, v) for k, v in overrides.items()]
    full_env = {**os.environ, **(env or {})}
    full_env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{full_env.get('PATH', '')}"
    with log.open("w") as handle:
        result = subprocess.run(argv, env=full_env, stdout=handle, stderr=subprocess.STDOUT)
    tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:])
    assert result.returncode == 0, f"llamafactory-cli {command} {name} failed:\n{tail}"


# LLaMA-Factory runs are single-threaded processes (OMP_NUM_THREADS=1): run two at a time.
WORKERS = min(2, os.cpu_count() or 1)


class Runs:
    """Each YAML run once per session, two at a time; a run waits for what it reads (the SFT
    adapter before generation, the QLoRA adapter before the merge, the merge before rewriting).
    Dependencies are submitted before their dependants, so a waiting run never blocks one it
    needs."""

    def __init__(self, root: Path, built: dict, tiny: dict):
        self.root, self.built, self.tiny = root, built, tiny
        self.pool = ThreadPoolExecutor(max_workers=WORKERS)
        self.futures: dict[str, Future] = {}
        self.lock = threading.RLock()

    @staticmethod
    def needs(name: str) -> list[str]:
        config = load(name)
        if name == "llama3.2-1b_qlora_predict_debias.yaml":
            return ["llama3.2-1b_qlora_merge_debias.yaml"]
        if "adapter_name_or_path" in config:
            if name.startswith("mistral"):
                return ["mistral-7b_lora_sft_hate.yaml"]
            return ["llama3.2-1b_qlora_sft_debias.yaml"]
        return []

    def submit(self, name: str) -> Future:
        with self.lock:  # re-entrant: dependencies are submitted first, under the same lock
            if name not in self.futures:
                for dependency in self.needs(name):
                    self.submit(dependency)
                self.futures[name] = self.pool.submit(self._run, name)
            return self.futures[name]

    def get(self, name: str) -> Path:
        return self.submit(name).result()

    def model_for(self, name: str, config: dict) -> Path:
        if name == "llama3.2-1b_qlora_predict_debias.yaml":
            return self.get("llama3.2-1b_qlora_merge_debias.yaml")
        return self.tiny[FAMILY[config["template"]]]

    def _run(self, name: str) -> Path:
        config = load(name)
        out = self.root / name.removesuffix(".yaml")
        overrides = cpu_overrides(config, self.built, out, self.model_for(name, config), False)
        if "adapter_name_or_path" in config:
            overrides["adapter_name_or_path"] = self.get(self.needs(name)[0])
        if "export_dir" in config:
            overrides["export_dir"] = out
            overrides.pop("output_dir")
        command = "export" if "export_dir" in config else "train"
        run_cli(command, name, overrides, self.root / f"{name}.log")
        return out

    def log(self, name: str) -> str:
        return (self.root / f"{name}.log").read_text(errors="replace")


@pytest.fixture(scope="session")
def runs(request, tmp_path_factory, built, tiny_families):
    """Starts, at once, the runs of every selected `test_shipped_yaml_runs_for_real...`."""
    runner = Runs(tmp_path_factory.mktemp("runs"), built, tiny_families)
    for item in request.session.items:
        if getattr(item, "originalname", "") == "test_shipped_yaml_runs_for_real_with_llamafactory":
            runner.submit(item.callspec.params["name"])
    yield runner
    runner.pool.shutdown(cancel_futures=True)


def losses(out: Path) -> list[float]:
    rows = [json.loads(line) for line in (out / "trainer_log.jsonl").read_text().splitlines()]
    return [row["loss"] for row in rows if "loss" in row]


# Trained in the slow DeepSpeed test only (each run costs about 15 s; the hate one also here,
# without DeepSpeed, because the generation YAML needs its adapter).
DEEPSPEED_ONLY = ["mistral-7b_lora_sft_mixture.yaml", "mistral-7b_lora_sft_mix_gpt.yaml"]
RUN_HERE = [
    n for n in GPU_TRAINED_HERE if n not in DEEPSPEED_ONLY and "prefix" not in n
]  # prefix-tuning: tests/train/test_prefix.py


# The three logged losses of each seeded training above (seed 42, fp32, one thread), recorded
# 2026-12-06 on an "Intel(R) Xeon(R) Processor" (lscpu: family 6, model 167); why abs=1e-4:
# tests/conftest.py. The three Llama-3 QLoRA files differ only in the model the test replaces.
LLAMA3_QLORA = [6.426511, 6.447003, 6.437351]
LOSSES = {
    "mistral-7b_lora_sft_hate.yaml": [6.407649, 6.403949, 6.385847],
    "llama3.2-1b_qlora_sft_debias.yaml": LLAMA3_QLORA,
    "llama2-7b_qlora_sft_debias.yaml": [6.399447, 6.403709, 6.400491],
    "llama3-8b_qlora_sft_debias.yaml": LLAMA3_QLORA,
    "llama3.1-8b_qlora_sft_debias.yaml": LLAMA3_QLORA,
    "llama3.2-1b_full_sft_debias.yaml": [6.429876, 6.450132, 6.441614],
}


@pytest.mark.integration
@pytest.mark.parametrize("name", RUN_HERE)
def test_shipped_yaml_runs_for_real_with_llamafactory(name, runs):
    config = load(name)
    out = runs.get(name)
    log = runs.log(name)
    if config.get("do_train"):
        steps = losses(out)
        assert steps == pytest.approx(LOSSES[name], abs=1e-4), steps  # the seeded run's
        assert LAYOUT[config["template"]] in log  # the template's layout reached the model
        if config["finetuning_type"] == "lora":
            assert (out / "adapter_model.safetensors").is_file()
            adapter = json.loads((out / "adapter_config.json").read_text())
            assert adapter["r"] == config["lora_rank"]
            assert adapter["lora_alpha"] == config["lora_alpha"]
            assert adapter["lora_dropout"] == config["lora_dropout"]
        else:
            assert (out / "model.safetensors").is_file()  # dense: a whole model
        if config.get("quantization_bit"):
            assert "Quantizing model to 4 bit with bitsandbytes." in log
        if config.get("early_stopping_steps"):
            state = json.loads((out / "trainer_state.json").read_text())
            assert state["best_model_checkpoint"]  # evaluated and kept the best checkpoint
    elif config.get("do_predict"):
        predictions = (out / "generated_predictions.jsonl").read_text().splitlines()
        rows = [json.loads(line) for line in predictions]
        info = json.loads((data_dir(config, runs.built) / "dataset_info.json").read_text())
        records = json.loads(
            (data_dir(config, runs.built) / info[config["eval_dataset"]]["file_name"]).read_text()
        )
        assert len(rows) == len(records) and all(isinstance(r["predict"], str) for r in rows)
        assert LAYOUT[config["template"]] in rows[0]["prompt"]
    else:  # export: the merged model is a plain float16 model that loads without PEFT
        import torch
        from safetensors.torch import load_file
        from transformers import AutoModelForCausalLM

        merged = AutoModelForCausalLM.from_pretrained(out)
        assert merged.config.dtype == torch.float16
        assert not (out / "adapter_config.json").exists()
        assert getattr(merged.config, "quantization_config", None) is None
        base = load_file(runs.model_for(name, config) / "model.safetensors")
        weights = load_file(out / "model.safetensors")
        key = "model.layers.0.self_attn.q_proj.weight"
        assert not torch.equal(weights[key].float(), base[key].half().float())  # LoRA merged in


@pytest.mark.parametrize("name", [n for n in GPU_TRAINED_HERE if load(n).get("quantization_bit")])
def test_qlora_yamls_load_the_base_as_bitsandbytes_4bit(name, built, tiny_families, tmp_path):
    """LLaMA-Factory's own loader, given the file's settings, builds Linear4bit NF4 layers."""
    import bitsandbytes as bnb
    from llamafactory.hparams import get_train_args
    from llamafactory.model import load_model, load_tokenizer

    config = load(name)
    tiny = tiny_families[FAMILY[config["template"]]]
    args = {**config, **cpu_overrides(config, built, tmp_path / "out", tiny, deepspeed=False)}
    args = {k: str(v) if isinstance(v, Path) else v for k, v in args.items()}
    model_args, _, _, finetuning_args, _ = get_train_args(args)
    tokenizer = load_tokenizer(model_args)["tokenizer"]
    model = load_model(tokenizer, model_args, finetuning_args, is_trainable=True)
    layers = [m for m in model.modules() if isinstance(m, bnb.nn.Linear4bit)]
    assert len(layers) == 2 * 7  # q, k, v, o, gate, up, down in each of the 2 layers
    weight = layers[0].weight
    assert weight.quant_type == "nf4" and weight.quant_state.nested  # double quantization


@pytest.mark.slow
def test_deepspeed_yamls_train_under_torchrun_with_their_zero_config(
    built, tiny_families, tmp_path
):
    """FORCE_TORCHRUN=1 NPROC_PER_NODE=1: the launch the headers give, on one CPU process.

    The first run on a machine compiles DeepSpeed's shared-memory op (about 2 minutes).
    """
    import torch

    def train_with_deepspeed(name: str) -> Path:
        config = load(name)
        out = tmp_path / name.removesuffix(".yaml")
        overrides = cpu_overrides(config, built, out, tiny_families["mistral"], deepspeed=True)
        env = {"FORCE_TORCHRUN": "1", "NPROC_PER_NODE": "1"}
        run_cli("train", name, overrides, tmp_path / f"{name}.log", env=env)
        return out

    names = [n for n in SHIPPED if load(n).get("deepspeed")]
    outs = [train_with_deepspeed(names[0])]  # alone: it may compile the op
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        outs += list(pool.map(train_with_deepspeed, names[1:]))
    for out in outs:
        assert len(losses(out)) == 3 and (out / "adapter_model.safetensors").is_file()
        # The optimizer state was written by DeepSpeed's ZeRO-2 engine.
        (states,) = out.glob("checkpoint-*/global_step*/zero_pp_rank_0_mp_rank_00_optim_states.pt")
        saved = torch.load(states, weights_only=False, map_location="cpu")
        assert int(saved["optimizer_state_dict"]["zero_stage"]) == 2
