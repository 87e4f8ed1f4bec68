"""RMSNorm that keeps its input for the backward pass in the model's dtype, not in fp32.

Gemma 3 and Llama normalise in fp32: the bf16 input is widened, and autograd keeps that fp32
copy for the backward pass, one per norm (six per Gemma 3 layer, q and k norms included). On
the demo's step that is a quarter of a GB of activations that hold nothing the bf16 input does
not. Here the forward pass does the same operations in the same order (so its output is bit
for bit the same) and keeps only the bf16 input and the per-row scale; the backward pass
widens the input again and applies the norm's gradient, written out:

    n = x * r,  r = 1 / sqrt(mean(x^2) + eps),  y = n * s  (s: the weight, or 1 + weight)
    dx = r * (g - n * mean(g * n)),  g = dy * s

The gradients equal autograd's up to fp32 rounding (tests check it).
"""

from __future__ import annotations

import torch


class _RMSNorm(torch.autograd.Function):
    """y = norm(x) scaled by the weight: Gemma's order (`gemma=True`: scale by 1 + w in fp32,
    then narrow) or Llama's (narrow, then scale by w in the weight's dtype)."""

    @staticmethod
    def forward(ctx, x, weight, eps: float, gemma: bool):
        wide = x.float()
        scale = torch.rsqrt(wide.pow(2).mean(-1, keepdim=True) + eps)
        if gemma:
            out = (wide * scale * (1.0 + weight.float())).type_as(x)
        else:
            out = weight * (wide * scale).to(x.dtype)
        ctx.save_for_backward(x, scale, weight)
        ctx.gemma = gemma
        return out

    @staticmethod
    def backward(ctx, grad):
        x, scale, weight = ctx.saved_tensors
        normed = x.float() * scale
        if ctx.gemma:
            g = grad.float() * (1.0 + weight.float())
            grad_weight = (grad.float() * normed).sum_to_size(weight.shape)
        else:
            g = (grad * weight).float()
            grad_weight = (grad * normed.to(x.dtype)).sum_to_size(weight.shape)
        grad_x = scale * (g - normed * (g * normed).mean(-1, keepdim=True))
        if not ctx.needs_input_grad[1]:
            grad_weight = None
        return grad_x.to(x.dtype), grad_weight, None, None


def _gemma_forward(self, x):
    return _RMSNorm.apply(x, self.weight, self.eps, True)


def _llama_forward(self, hidden_states):
    return _RMSNorm.apply(hidden_states, self.weight, self.variance_epsilon, False)


def install_lean_norms() -> list[str]:
    """Give Gemma 3's and Llama's RMSNorm classes the lean forward; returns the classes patched
    (the same list when called again)."""
    from transformers.models.gemma3.modeling_gemma3 import Gemma3RMSNorm
    from transformers.models.llama.modeling_llama import LlamaRMSNorm

    for cls, forward in ((Gemma3RMSNorm, _gemma_forward), (LlamaRMSNorm, _llama_forward)):
        cls.forward = forward
    return ["Gemma3RMSNorm", "LlamaRMSNorm"]
