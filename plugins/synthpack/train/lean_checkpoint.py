"""Activation checkpointing that recomputes only the cheap operations of each decoder layer.

Without checkpointing, autograd keeps every intermediate tensor of every layer for the
backward pass: on the demo's step (Gemma 3 270M, batch 4 x ~440 tokens, fp32) about 2 GB.
LLaMA-Factory's checkpointing (`disable_gradient_checkpointing: false`) keeps only each
layer's input and runs the whole layer forward again in the backward pass, matmuls included:
a third more matmul work, which on a CPU is most of a step. PyTorch's selective activation
checkpointing keeps what a policy names; here that is the output of attention and of every
matmul but LoRA's small ones, and what is recomputed is the rest (norms, rotary embeddings,
the activation function, products, residual sums, LoRA's rank-r products): most of the
tensors, for less of the time. On the demo's fp32 step: 6.50 GB to 4.95 GB for about a fifth
more time per step, against 3.96 GB for twice that with full checkpointing (bench/RESULTS.md).
Gradients are the same as without checkpointing, bit for bit (tests check it).

`install()` makes LLaMA-Factory's checkpointing selective in this process; the training must
still turn checkpointing on (`disable_gradient_checkpointing=false`). `synthpack.train.launch`
does both when `TrainSettings.checkpointing` is "selective".
"""

from __future__ import annotations

import functools

import torch
from torch.utils.checkpoint import CheckpointPolicy, create_selective_checkpoint_contexts

ATTENTION_OPS = (  # the attention kernels, CPU and GPU: their outputs are kept
    "_scaled_dot_product_flash_attention_for_cpu",
    "_scaled_dot_product_flash_attention",
    "_scaled_dot_product_efficient_attention",
    "_scaled_dot_product_cudnn_attention",
)
CHEAP_INNER_DIM = 64  # a matmul summing over at most this many terms is recomputed (LoRA's B)


def keep_matmuls(_ctx, op, *args, **_kwargs) -> CheckpointPolicy:
    """The policy: keep what attention or a large matmul computed, recompute everything else.

    A LoRA layer's second product (rank r into the layer's width) costs r multiply-adds per
    output value, a tenth or less of the layer's own; keeping it would keep a second tensor
    as wide as the layer's output for every adapted layer, so it is recomputed."""
    aten = torch.ops.aten
    if op.name().split("::")[-1] in ATTENTION_OPS:
        return CheckpointPolicy.MUST_SAVE
    if op in (aten.mm.default, aten.bmm.default, aten.addmm.default):
        left = args[1] if op == aten.addmm.default else args[0]  # addmm(bias, left, right)
        if left.shape[-1] > CHEAP_INNER_DIM:
            return CheckpointPolicy.MUST_SAVE
    return CheckpointPolicy.PREFER_RECOMPUTE


def selective_kwargs(kwargs: dict | None = None) -> dict:
    """`torch.utils.checkpoint.checkpoint` keyword arguments that make it selective (a context
    function needs the non-reentrant implementation)."""
    return {
        **(kwargs or {}),
        "use_reentrant": False,
        "context_fn": functools.partial(create_selective_checkpoint_contexts, keep_matmuls),
    }


def install() -> None:
    """Make the checkpointing that LLaMA-Factory turns on selective (it looks the enabling
    function up in its module when it prepares the model, so replacing it there suffices)."""
    from llamafactory.model.model_utils import checkpointing

    enable = checkpointing._gradient_checkpointing_enable
    if getattr(enable, "_synthpack_selective", False):
        return

    def selective_enable(self, gradient_checkpointing_kwargs=None, use_unsloth_gc=False):
        print("[synthpack] selective checkpointing: matmul and attention outputs kept", flush=True)
        return enable(self, selective_kwargs(gradient_checkpointing_kwargs), use_unsloth_gc)

    selective_enable._synthpack_selective = True
    checkpointing._gradient_checkpointing_enable = selective_enable
