"""Selective activation checkpointing: the same gradients as none at all, bit for bit, with
fewer tensors kept for the backward pass; and a real `llamafactory-cli train` through the
launcher follows the same loss curve."""

from __future__ import annotations

import json

import pytest
import torch
from peft import LoraConfig, get_peft_model
from transformers import Gemma3ForCausalLM, Gemma3TextConfig

from synthpack.common.errors import SynthpackError
from synthpack.common.paths import pack_dir
from synthpack.train.launch import run_llamafactory_train
from synthpack.train.lean_checkpoint import selective_kwargs

CONFIG = pack_dir("llamafactory_configs") / "smollm2_lora_sft_cpu.yaml"


def _tiny_gemma3():
    """A random Gemma 3 (q and k norms, sliding and global layers) with LoRA on every linear
    layer, as the demo trains it."""
    torch.manual_seed(0)
    config = Gemma3TextConfig(
        vocab_size=97, hidden_size=96, intermediate_size=192, num_hidden_layers=4,
        num_attention_heads=2, num_key_value_heads=1, head_dim=16, sliding_window=8,
        max_position_embeddings=128, attn_implementation="sdpa",
    )  # fmt: skip
    model = Gemma3ForCausalLM(config)
    targets = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    model = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules=targets))
    model.train()
    return model


def _step(checkpointing: str):
    """Loss, LoRA gradients and the bytes of activations kept for the backward pass in one
    step of the tiny model (parameters excluded)."""
    model = _tiny_gemma3()
    if checkpointing != "none":
        # route what checkpointing keeps through the hook below, so that it is counted
        kwargs = {"use_reentrant": False, "respect_saved_tensors_hooks": True}
        if checkpointing == "selective":
            kwargs = selective_kwargs(kwargs)
        model.base_model.model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kwargs)
    ids = torch.randint(0, 97, (2, 24), generator=torch.Generator().manual_seed(1))
    kept: dict[int, int] = {}

    def pack(t):
        kept.setdefault(t.untyped_storage().data_ptr(), t.untyped_storage().nbytes())
        return t

    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss = model(input_ids=ids, labels=ids).loss
    loss.backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    activations = sum(b for ptr, b in kept.items() if ptr not in params)
    return loss.item(), grads, activations


def test_selective_checkpointing_gives_the_same_gradients_and_keeps_less():
    plain_loss, plain_grads, plain_kept = _step("none")
    loss, grads, kept = _step("selective")
    assert loss == plain_loss
    assert grads.keys() == plain_grads.keys() and len(grads) == 4 * 7 * 2  # every LoRA A and B
    for name, grad in grads.items():
        assert torch.equal(grad, plain_grads[name]), name
    # Between none and full: the large matmuls' and attention's outputs are kept.
    _, _, full_kept = _step("full")
    assert full_kept < kept < 0.6 * plain_kept


def _losses(model_dir, out_dir, checkpointing) -> list[float]:
    adapter = out_dir / "adapter"
    overrides = {"model_name_or_path": model_dir, "dataset_dir": pack_dir("dataset_info"),
                 "output_dir": adapter, "max_steps": 3}  # fmt: skip
    run_llamafactory_train(
        CONFIG, overrides, out_dir / "train.log", lean_loss=True, checkpointing=checkpointing
    )
    lines = (adapter / "trainer_log.jsonl").read_text().splitlines()
    return [json.loads(x)["loss"] for x in lines if "loss" in json.loads(x)]


@pytest.mark.integration
def test_llamafactory_training_with_selective_checkpointing_follows_the_same_curve(
    tiny_model, tmp_path
):
    plain = _losses(tiny_model, tmp_path / "none", "none")
    selective = _losses(tiny_model, tmp_path / "selective", "selective")
    assert len(selective) == len(plain) == 3
    assert selective == pytest.approx(plain, abs=1e-6)
    log = (tmp_path / "selective" / "train.log").read_text()
    assert "[synthpack] selective checkpointing" in log and "Gradient checkpointing enabled" in log
    assert "selective checkpointing" not in (tmp_path / "none" / "train.log").read_text()


def test_the_launcher_refuses_an_unknown_or_unsupported_checkpointing(tmp_path):
    with pytest.raises(SynthpackError, match="one of none, selective, full"):
        run_llamafactory_train(CONFIG, {}, tmp_path / "log", lean_loss=True, checkpointing="some")
    with pytest.raises(SynthpackError, match="only with the lean loss"):
        run_llamafactory_train(CONFIG, {}, tmp_path / "log", checkpointing="selective")
