"""The lean RMSNorm: the same output bit for bit as Gemma 3's and Llama's, the same
gradients up to fp32 rounding, and no fp32 copy of its input kept for the backward pass."""

from __future__ import annotations

import pytest
import torch
from transformers.models.gemma3.modeling_gemma3 import Gemma3RMSNorm
from transformers.models.llama.modeling_llama import LlamaRMSNorm

from synthpack.train import lean_norm

ORIGINAL = {Gemma3RMSNorm: Gemma3RMSNorm.forward, LlamaRMSNorm: LlamaRMSNorm.forward}
LEAN = {Gemma3RMSNorm: lean_norm._gemma_forward, LlamaRMSNorm: lean_norm._llama_forward}


def run(cls, forward, norm, x, grad):
    """Output, input gradient and weight gradient of `norm` with `forward` as its forward."""
    saved = cls.forward
    cls.forward = forward
    try:
        x = x.detach().clone().requires_grad_()
        norm.weight.grad = None
        out = norm(x)
        out.backward(grad)
        return out.detach(), x.grad, norm.weight.grad
    finally:
        cls.forward = saved


@pytest.mark.parametrize("cls", [Gemma3RMSNorm, LlamaRMSNorm])
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float32])
def test_lean_norm_equals_the_models_own(cls, dtype):
    torch.manual_seed(0)
    norm = cls(64).to(dtype)
    with torch.no_grad():
        norm.weight.normal_()
    x, grad = (3 * torch.randn(2, 7, 64)).to(dtype), torch.randn(2, 7, 64).to(dtype)
    out, gx, gw = run(cls, ORIGINAL[cls], norm, x, grad)
    lean_out, lean_gx, lean_gw = run(cls, LEAN[cls], norm, x, grad)
    assert torch.equal(out, lean_out)  # the forward does the same operations in order
    tolerance = 1e-5 if dtype == torch.float32 else 2e-2
    torch.testing.assert_close(lean_gx, gx, rtol=tolerance, atol=tolerance)
    torch.testing.assert_close(lean_gw, gw, rtol=tolerance, atol=tolerance * 10)


def test_lean_norm_keeps_the_bf16_input_not_an_fp32_copy():
    norm = Gemma3RMSNorm(640).to(torch.bfloat16)
    x = torch.randn(4, 256, 640, dtype=torch.bfloat16, requires_grad=True)
    kept = {}
    for name, forward in (("original", ORIGINAL[Gemma3RMSNorm]), ("lean", LEAN[Gemma3RMSNorm])):
        sizes = []

        def pack(tensor, sizes=sizes):
            sizes.append(tensor.numel() * tensor.element_size())
            return tensor

        Gemma3RMSNorm.forward = forward
        try:
            with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
                norm(x)
        finally:
            Gemma3RMSNorm.forward = ORIGINAL[Gemma3RMSNorm]
        kept[name] = sum(sizes)
    full = x.numel()
    assert kept["original"] >= 4 * full  # an fp32 copy (saved by pow and by mul)
    assert kept["lean"] < 2 * full + 4 * 1024 + 4 * 640  # the bf16 input, scales and weight


def test_install_patches_both_classes_and_can_be_called_twice():
    try:
        assert lean_norm.install_lean_norms() == lean_norm.install_lean_norms()
        assert Gemma3RMSNorm.forward is lean_norm._gemma_forward
        assert LlamaRMSNorm.forward is lean_norm._llama_forward
    finally:
        for cls, forward in ORIGINAL.items():
            cls.forward = forward
