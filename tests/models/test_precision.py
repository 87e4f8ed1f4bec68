"""The precision choice (auto / bf16 / fp32) and the bf16 paths it opens, run for real."""

from __future__ import annotations

import json
import math

import pytest
from click.testing import CliRunner
from conftest import FIXTURES

from synthpack.cli import main
from synthpack.common.errors import SynthpackError
from synthpack.common.paths import pack_dir
from synthpack.models.embedded import training_copy
from synthpack.models.precision import (
    PRECISION_ENV,
    Precision,
    cpu_bf16_flags,
    cpu_description,
    resolve_precision,
    torch_cpu_bf16,
)
from synthpack.train.launch import precision_overrides, run_llamafactory_train

AMX_CPU = "processor\t: 0\nflags\t\t: fpu sse2 avx512f amx_tile amx_bf16 avx512_bf16\n"
AMD_CPU = "processor\t: 0\nflags\t\t: fpu sse2 avx512f avx512_bf16\n"
OLD_CPU = "processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f\n"
PROMPTS = FIXTURES / "smollm2_hate_prompts.jsonl"


@pytest.fixture(autouse=True)
def _no_env_choice(monkeypatch):
    monkeypatch.delenv(PRECISION_ENV, raising=False)


def test_the_cpu_is_described_by_name_family_model_and_native_bf16():
    epyc = (
        "processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: 25\nmodel\t\t: 17\n"
        "model name\t: AMD EPYC 9R14 96-Core Processor\n" + AMD_CPU.split("\n", 1)[1]
    )
    assert cpu_description(epyc) == (
        "AMD EPYC 9R14 96-Core Processor (family 25, model 17), native bf16: avx512_bf16"
    )
    assert cpu_description(OLD_CPU).endswith(", native bf16: none")  # no name: the platform's
    here = ", ".join(cpu_bf16_flags()) or "none"  # this machine's /proc/cpuinfo
    assert cpu_description().endswith(f", native bf16: {here}")


def test_auto_picks_bf16_only_where_the_cpu_and_torch_both_support_it():
    assert cpu_bf16_flags(AMX_CPU) == ["amx_bf16", "avx512_bf16"]
    assert cpu_bf16_flags(OLD_CPU) == []
    for cpu in (AMX_CPU, AMD_CPU):
        chosen = resolve_precision("auto", cpuinfo=cpu, torch_ok=True)
        assert chosen.name == "bf16" and "natively" in chosen.reason
    assert resolve_precision("auto", cpuinfo=AMD_CPU, torch_ok=False).name == "fp32"


def test_a_cpu_without_bf16_falls_back_to_fp32_and_says_why():
    chosen = resolve_precision(None, cpuinfo=OLD_CPU, torch_ok=True)
    assert chosen.name == "fp32"
    assert chosen.describe() == (
        "precision fp32: auto: this CPU has no native bf16 (amx_bf16 or avx512_bf16), "
        "so fp32 is faster"
    )


def test_an_explicit_choice_is_honoured(monkeypatch):
    assert resolve_precision("fp32", cpuinfo=AMX_CPU, torch_ok=True).name == "fp32"
    emulated = resolve_precision("BF16", cpuinfo=OLD_CPU, torch_ok=True)
    assert emulated.name == "bf16" and "emulates bf16" in emulated.reason
    monkeypatch.setenv(PRECISION_ENV, "fp32")
    assert resolve_precision(None, cpuinfo=AMX_CPU, torch_ok=True).name == "fp32"


def test_an_unknown_precision_names_the_choices():
    with pytest.raises(SynthpackError, match="Unknown precision 'bf61'. Did you mean: bf16?"):
        resolve_precision("bf61")


def test_this_machine_gets_bf16_exactly_when_its_flags_and_torch_both_say_so():
    chosen = resolve_precision()
    assert chosen.reason.startswith("auto")
    assert (chosen.name == "bf16") == (bool(cpu_bf16_flags()) and torch_cpu_bf16())


def test_the_bf16_training_copy_is_made_once_and_fp32_uses_the_folder(tiny_model):
    assert training_copy(tiny_model, Precision("fp32", "test")) == tiny_model
    copy = training_copy(tiny_model, Precision("bf16", "test"))
    assert copy != tiny_model
    assert json.loads((copy / "config.json").read_text())["dtype"] == "bfloat16"
    stamp = (copy / "model.safetensors").stat().st_mtime_ns
    assert training_copy(tiny_model, Precision("bf16", "test")) == copy
    assert (copy / "model.safetensors").stat().st_mtime_ns == stamp  # reused, not rebuilt
    assert training_copy(copy, Precision("bf16", "test")) == copy  # already bf16


@pytest.mark.integration
def test_a_bf16_lora_run_of_the_tiny_model_trains_for_real(tiny_model, tmp_path):
    adapter = tmp_path / "adapter"
    overrides = precision_overrides(tiny_model, Precision("bf16", "test"))
    assert overrides["bf16"] is True and overrides["use_cpu"] is True
    run_llamafactory_train(
        pack_dir("llamafactory_configs") / "smollm2_lora_sft_cpu.yaml",
        {**overrides, "dataset_dir": pack_dir("dataset_info"), "output_dir": adapter,
         "max_steps": 3},
        log_path=tmp_path / "train.log",
    )  # fmt: skip
    log = (tmp_path / "train.log").read_text()
    assert "compute dtype: torch.bfloat16" in log
    losses = [
        json.loads(line)["loss"]
        for line in (adapter / "trainer_log.jsonl").read_text().splitlines()
        if '"loss"' in line
    ]
    assert len(losses) == 3 and all(math.isfinite(x) for x in losses)
    assert (adapter / "adapter_model.safetensors").is_file()


@pytest.mark.integration
def test_synthpack_generate_runs_in_bf16_and_records_it(tiny_model, tmp_path):
    out = tmp_path / "gen"
    result = CliRunner().invoke(
        main,
        ["--precision", "bf16", "generate", "--prompts", str(PROMPTS), "--model",
         str(tiny_model), "--out", str(out), "--max-new-tokens", "16", "--batch-size", "3"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in (out / "raw.jsonl").read_text().splitlines()]
    assert rows and {r["provenance"]["precision"] for r in rows} == {"bf16"}
    report = json.loads((out / "report.json").read_text())
    assert report["generation"]["precision"].startswith("precision bf16")
    assert report["generation"]["new_tokens"] > 0
