"""`synthpack train prefix`: PEFT prefix-tuning from the shipped YAML, on LLaMA-Factory's data
and template code; the adapter loads with PEFT and generates."""

from __future__ import annotations

import json

import pytest
import torch
from click.testing import CliRunner
from safetensors.torch import load_file

from synthpack.cli import main
from synthpack.common.paths import pack_dir
from synthpack.sft.debias import build_debias

CONFIG = pack_dir("llamafactory_configs") / "llama3.2-1b_prefix_sft_debias.yaml"
PREFIX_KEY = "prompt_embeddings"  # PEFT's name for the trained prefix table in the adapter file


@pytest.fixture(scope="module")
def debias_dir(tmp_path_factory):
    """CMD-schema placeholder rows -> debias_cmd_train / _val, as the YAML header builds them."""
    root = tmp_path_factory.mktemp("debias")
    rows = [
        {
            "text": f"Placeholder post {i} says the weekly meeting runs long.",
            "labels": {"Bias": "No", "Toxicity": "No", "Sentiment": "Negative", "Harm": "Low"},
            "Safe Variation": f"Placeholder rewrite {i}: shorter meetings would help.",
        }
        for i in range(40)
    ]
    source = root / "cmd.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in rows))
    build_debias(source, root / "sft", kind="cmd", name="debias_cmd")
    return root / "sft"


def train(model, data, out, *extra):
    """The shipped YAML with CPU test settings: tiny model, fp32, a few steps."""
    overrides = [
        f"model_name_or_path={model}",
        f"dataset_dir={data}",
        f"output_dir={out}",
        "fp16=false",  # no half-precision autocast on this CPU
        "max_steps=4",
        "eval_steps=2",
        "save_steps=2",
        "logging_steps=1",
        "per_device_train_batch_size=4",
        "per_device_eval_batch_size=4",
        "preprocessing_num_workers=1",
        *extra,
    ]
    return CliRunner().invoke(main, ["train", "prefix", str(CONFIG), *overrides])


def llamafactory_prompt(model_dir, template_name, record):
    """Prompt ids rendered by LLaMA-Factory's own template, as in training."""
    from llamafactory.data import get_template_and_fix_tokenizer
    from llamafactory.hparams import DataArguments
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    template = get_template_and_fix_tokenizer(tokenizer, DataArguments(template=template_name))
    messages = [
        {"role": "user", "content": record["instruction"] + "\n" + record["input"]},
        {"role": "assistant", "content": ""},
    ]
    prompt_ids, _ = template.encode_oneturn(tokenizer, messages, system=record["system"])
    return tokenizer, torch.tensor([prompt_ids])


@pytest.mark.integration
def test_prefix_tuning_trains_and_its_adapter_loads_with_peft_and_generates(
    tiny_families, debias_dir, tmp_path
):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    model_dir, out = tiny_families["llama3"], tmp_path / "prefix"
    torch.manual_seed(1234)  # what ran before must not matter: train_prefix seeds the prefix
    result = train(model_dir, debias_dir, out)
    assert result.exit_code == 0, result.output
    assert "prefix adapter:" in result.output
    adapter = json.loads((out / "adapter_config.json").read_text())
    assert adapter["peft_type"] == "PREFIX_TUNING" and adapter["num_virtual_tokens"] == 30
    assert adapter["prefix_projection"] is False
    state = json.loads((out / "trainer_state.json").read_text())
    losses = [row["loss"] for row in state["log_history"] if "loss" in row]
    evals = [(row["step"], row["eval_loss"]) for row in state["log_history"] if "eval_loss" in row]
    # The seeded run's training and eval losses, recorded 2026-12-06 on an "Intel(R) Xeon(R)
    # Processor" (lscpu: family 6, model 167); why abs=1e-4: tests/conftest.py.
    assert losses == pytest.approx([6.435388, 6.437341, 6.431035, 6.440782], abs=1e-4), losses
    assert [step for step, _ in evals] == [2, 4]
    assert [v for _, v in evals] == pytest.approx([6.438652, 6.438624], abs=1e-4), evals
    # Only the prefix trains: 30 positions x 2 layers x (keys + values) x 2 kv heads x 16 dims.
    settings = json.loads((out / "synthpack_prefix.json").read_text())
    assert settings["trainable_parameters"] == 30 * 2 * 2 * 2 * 16
    assert settings["template"] == "llama3" and settings["prefix_dropout"] == 0.1
    first, last = (
        load_file(out / f"checkpoint-{step}" / "adapter_model.safetensors")[PREFIX_KEY]
        for step in (2, 4)
    )
    assert first.shape == (30, 128) and not torch.equal(first, last)  # the optimiser moved it

    base = AutoModelForCausalLM.from_pretrained(model_dir)
    tokenizer, prompt = llamafactory_prompt(
        model_dir, "llama3", json.loads((debias_dir / "debias_cmd" / "val.json").read_text())[0]
    )
    with torch.no_grad():
        base_logits = base(prompt).logits[0, -1]
        model = PeftModel.from_pretrained(base, out)
        assert type(model).__name__ == "PeftModelForCausalLM"
        tuned_logits = model(input_ids=prompt).logits[0, -1]
        generated = model.generate(
            input_ids=prompt,
            attention_mask=torch.ones_like(prompt),
            max_new_tokens=6,
            do_sample=False,
            pad_token_id=tokenizer.eos_token_id,
        )
    assert not torch.allclose(base_logits, tuned_logits)  # the prefix reaches the attention
    assert generated.shape[1] > prompt.shape[1]  # new tokens after the prompt

    # synthpack's own decoding (the fast path by default) keeps the prefix in the cache too
    from synthpack.models.backends import Sampling, generate_chat, load_model

    loaded, loaded_tokenizer = load_model(model_dir, out, precision="fp32")
    assert type(loaded).__name__ == "PeftModelForCausalLM"  # prefix tuning does not merge
    for sampling in (Sampling(max_new_tokens=6), Sampling(max_new_tokens=6, temperature=0.7)):
        answer = generate_chat(
            loaded, loaded_tokenizer, ["Rewrite: the meeting ran long."], sampling
        )
        assert answer[0]["new_tokens"] > 0


@pytest.mark.integration
def test_prefix_training_stops_early_as_the_yaml_says(tiny_families, debias_dir, tmp_path):
    """learning_rate=0 keeps eval_loss flat: patience 3 (the file's) ends the run early."""
    out = tmp_path / "stopped"
    result = train(
        tiny_families["llama3"],
        debias_dir,
        out,
        "learning_rate=0",
        "max_steps=20",
        "eval_steps=1",
        "save_steps=1",
    )
    assert result.exit_code == 0, result.output
    state = json.loads((out / "trainer_state.json").read_text())
    assert state["global_step"] <= 4 < 20


def test_prefix_rejects_what_it_cannot_honour_all_at_once(tiny_families, debias_dir, tmp_path):
    result = train(
        tiny_families["llama3"], debias_dir, tmp_path / "x", "lora_rank=8", "num_virtual_token=5"
    )
    assert result.exit_code == 1
    assert "lora_rank: a LLaMA-Factory key that prefix-tuning does not use" in result.output
    assert "num_virtual_token: unknown key. Did you mean: num_virtual_tokens?" in result.output
    lora = pack_dir("llamafactory_configs") / "llama3.2-1b_qlora_sft_debias.yaml"
    result = CliRunner().invoke(main, ["train", "prefix", str(lora)])
    assert result.exit_code == 1
    assert f"run it with `llamafactory-cli train {lora}`" in result.output
    assert not (tmp_path / "x").exists()  # nothing ran


@pytest.mark.slow
def test_prefix_tuning_on_smollm2_generates_text(smollm2, debias_dir, tmp_path):
    """The embedded SmolLM2 (9 heads, 3 kv heads) with its own template; synthpack's
    `generate` path (PeftModel + the model's chat template) also accepts the adapter."""
    from synthpack.models.backends import Sampling, generate_chat, load_model

    out = tmp_path / "prefix"
    result = train(smollm2, debias_dir, out, "template=smollm2", "max_steps=2", "cutoff_len=256")
    assert result.exit_code == 0, result.output
    model, tokenizer = load_model(smollm2, out)
    assert type(model).__name__ == "PeftModelForCausalLM"
    answer = generate_chat(
        model, tokenizer, ["Rewrite politely: the meeting ran long."], Sampling(max_new_tokens=16)
    )[0]
    assert answer["new_tokens"] > 0 and any(ch.isalpha() for ch in answer["text"])
