"""The lean loss (output layer on labelled tokens only, in chunks) against transformers' own:
the same loss and gradients on random tensors, and the same loss curve through a real
`llamafactory-cli train` of the tiny model."""

from __future__ import annotations

import json

import pytest
import torch
from transformers.loss.loss_utils import ForCausalLMLoss

from synthpack.common.paths import pack_dir
from synthpack.train.launch import run_llamafactory_train
from synthpack.train.lean_loss import labelled_token_loss

CONFIG = pack_dir("llamafactory_configs") / "smollm2_lora_sft_cpu.yaml"


def _plain(hidden, weight, labels, num_items, softcap):
    logits = hidden @ weight.T
    if softcap:
        logits = torch.tanh(logits / softcap) * softcap
    return ForCausalLMLoss(logits, labels, weight.shape[0], num_items_in_batch=num_items)


@pytest.mark.parametrize("softcap", [None, 30.0])
@pytest.mark.parametrize("num_items", [None, 7])
@pytest.mark.parametrize("chunk", [1, 3, 1000])
def test_loss_and_gradients_equal_transformers_causal_lm_loss(softcap, num_items, chunk):
    torch.manual_seed(0)
    hidden = torch.randn(2, 9, 16, requires_grad=True)
    weight = torch.randn(50, 16, requires_grad=True)
    labels = torch.randint(0, 50, (2, 9))
    labels[0, :4] = -100  # a prompt: no loss
    labels[1, 7:] = -100  # padding
    items = None if num_items is None else torch.tensor(num_items)
    expected = _plain(hidden, weight, labels, items, softcap)
    want = torch.autograd.grad(expected, (hidden, weight))
    lean = labelled_token_loss(hidden, weight, labels, items, softcap, chunk=chunk)
    got = torch.autograd.grad(lean, (hidden, weight))
    assert lean.item() == pytest.approx(expected.item(), rel=1e-6)
    for a, b in zip(got, want, strict=True):
        assert torch.allclose(a, b, atol=1e-6), (a - b).abs().max()


def test_a_frozen_output_layer_gets_no_gradient_and_bf16_stays_close():
    torch.manual_seed(1)
    hidden = torch.randn(3, 12, 32, dtype=torch.bfloat16, requires_grad=True)
    weight = torch.randn(64, 32, dtype=torch.bfloat16)  # tied embedding, frozen under LoRA
    labels = torch.randint(0, 64, (3, 12))
    labels[:, :5] = -100
    lean = labelled_token_loss(hidden, weight, labels, chunk=4)
    (grad,) = torch.autograd.grad(lean, (hidden,))
    assert grad.dtype == torch.bfloat16 and bool(grad[:, :4].eq(0).all())  # no labels there
    expected = _plain(hidden, weight, labels, None, None)
    assert lean.item() == pytest.approx(expected.item(), rel=1e-2)


@pytest.mark.parametrize("softcap", [None, 30.0])
def test_bf16_chunks_widened_a_few_rows_at_a_time_change_nothing(softcap, monkeypatch):
    """bf16 logits, as in bf16 training, in chunks of 64 rows widened to fp32 32 rows at a time
    (SOFTMAX_ROWS): the same bits as widening each chunk whole, and transformers' loss on the
    same bf16 logits (its gradients differ by bf16 rounding only)."""
    from synthpack.train import lean_loss

    torch.manual_seed(2)
    hidden = torch.randn(2, 90, 32, dtype=torch.bfloat16, requires_grad=True)
    weight = torch.randn(300, 32, dtype=torch.bfloat16)
    labels = torch.randint(0, 300, (2, 90))
    labels[:, :10] = -100
    assert (labels[..., 1:] != -100).sum() > 2 * 64 > 2 * lean_loss.SOFTMAX_ROWS

    def lean():
        loss = labelled_token_loss(hidden, weight, labels, softcap=softcap, chunk=64)
        return loss, torch.autograd.grad(loss, (hidden,))[0]

    loss, grad = lean()
    monkeypatch.setattr(lean_loss, "SOFTMAX_ROWS", 10_000)
    whole_loss, whole_grad = lean()
    assert torch.equal(loss, whole_loss) and torch.equal(grad, whole_grad)
    expected = _plain(hidden, weight, labels, None, softcap)
    (want,) = torch.autograd.grad(expected, (hidden,))
    # transformers soft-caps the bf16 logits in bf16; the lean loss does it in fp32
    assert loss.item() == pytest.approx(expected.item(), rel=1e-3 if softcap else 1e-5)
    assert (grad.float() - want.float()).abs().max() <= 0.02 * want.float().abs().max()


def _losses(model_dir, out_dir, lean: bool) -> list[float]:
    adapter = out_dir / "adapter"
    run_llamafactory_train(
        CONFIG,
        {
            "model_name_or_path": model_dir,
            "dataset_dir": pack_dir("dataset_info"),
            "output_dir": adapter,
            "max_steps": 4,
        },
        log_path=out_dir / "train.log",
        lean_loss=lean,
    )
    lines = (adapter / "trainer_log.jsonl").read_text().splitlines()
    return [json.loads(x)["loss"] for x in lines if "loss" in json.loads(x)]


@pytest.mark.integration
def test_llamafactory_training_with_the_lean_loss_follows_the_same_curve(tiny_model, tmp_path):
    plain = _losses(tiny_model, tmp_path / "plain", lean=False)
    lean = _losses(tiny_model, tmp_path / "lean", lean=True)
    assert len(lean) == len(plain) == 4
    assert lean == pytest.approx(plain, abs=1e-4)  # fp32: equal up to summation order
    assert (
        "[synthpack] lean loss: LlamaForCausalLM" in (tmp_path / "lean" / "train.log").read_text()
    )
    assert "lean loss" not in (tmp_path / "plain" / "train.log").read_text()


def test_lora_inputs_stay_bf16_under_autocast_with_the_same_results(monkeypatch):
    """LLaMA-Factory's fp32 LoRA weights under bf16 autocast: without PEFT's cast of each input
    to fp32 (which autocast undoes), outputs and gradients are bit for bit the same."""
    from peft import LoraConfig, get_peft_model
    from peft.tuners.tuners_utils import BaseTunerLayer

    from synthpack.train.lean_loss import skip_lora_casts_under_autocast

    torch.manual_seed(0)
    base = torch.nn.Sequential(torch.nn.Linear(32, 32), torch.nn.Linear(32, 8)).to(torch.bfloat16)
    lora = LoraConfig(r=4, target_modules=["0", "1"], init_lora_weights=False)
    model = get_peft_model(base, lora)
    for name, parameter in model.named_parameters():
        if "lora_" in name:
            parameter.data = parameter.data.float()  # as LLaMA-Factory upcasts them
    x = torch.randn(5, 32, dtype=torch.bfloat16)
    seen = []
    adapter_in = model.base_model.model[1].lora_A["default"]  # what the adapter's matmul gets
    adapter_in.register_forward_pre_hook(lambda m, a: seen.append(a[0].dtype))

    def run():
        model.zero_grad()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = model(x)
        out.float().square().sum().backward()
        grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
        return out.detach(), grads

    before, grads_before = run()
    monkeypatch.setattr(BaseTunerLayer, "_cast_input_dtype", BaseTunerLayer._cast_input_dtype)
    skip_lora_casts_under_autocast()
    after, grads_after = run()
    assert torch.equal(before, after) and grads_before.keys() == grads_after.keys()
    assert all(torch.equal(grads_before[n], grads_after[n]) for n in grads_before)
    assert seen == [torch.float32, torch.bfloat16]  # PEFT's copy, then none
