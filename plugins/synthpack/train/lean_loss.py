"""The SFT loss computed only where it counts: the output layer on labelled positions, in chunks.

A causal LM's training step computes logits for every position, in fp32, although only the
answer's tokens carry a loss. With Gemma 3's 262,144-token vocabulary that output layer is a
third of a step's FLOPs, and its fp32 logits, their softmax and gradient (1,960 tokens x
262,144 x 4 bytes = 2 GB each) most of its memory. Here the loss takes the final hidden states
of the labelled positions only and computes their logits a chunk at a time, finishing each
chunk's gradient at once, so no full-vocabulary tensor outlives its chunk. Same loss, same
gradients (up to float rounding), as transformers' `ForCausalLMLoss`.

No kept library does this on a CPU: cut-cross-entropy's kernels are Triton (GPU) and its CPU
path materialises the logits of all labelled positions at once; Liger's are Triton too.

`python -m synthpack.train.lean_loss train CONFIG key=value ...` is `llamafactory-cli` with
the loss installed: LLaMA-Factory's own CLI, in this process, after `install()` (and
`skip_lora_casts_under_autocast()`, which spares PEFT's redundant copies of each LoRA input).
"""

from __future__ import annotations

import sys

import torch
import torch.nn.functional as F

IGNORE_INDEX = -100  # transformers' and LLaMA-Factory's label for "no loss here"
CHUNK_TOKENS = 256  # 256 x 262,144 fp32 logits = 268 MB (and 134 MB in bf16): the buffers' size
# Model types whose causal-LM head is `lm_head(norm(decoder(x)))`, with Gemma 2's optional
# final soft-capping: what `lean_forward` reproduces. Others keep their own forward.
LEAN_MODEL_TYPES = frozenset(
    {"llama", "mistral", "qwen2", "qwen3", "gemma", "gemma2", "gemma3_text"}
)


_SCRATCH: dict[tuple, torch.Tensor] = {}  # (device, dtype, vocab) -> a chunk's logits buffer


def _scratch(rows: int, cols: int, dtype: torch.dtype, device) -> torch.Tensor:
    """A (rows, cols) buffer kept from step to step. A fresh 100-300 MB tensor per chunk cost
    more in page faults than its arithmetic: allocating the logits made the output layer's
    matmul half as fast on the project's CPU (bench/RESULTS.md, "Lean training, round 2")."""
    key = (str(device), dtype, cols)
    buffer = _SCRATCH.get(key)
    if buffer is None or buffer.shape[0] < rows:
        buffer = _SCRATCH[key] = torch.empty(rows, cols, dtype=dtype, device=device)
    return buffer[:rows]


class _ChunkedLinearCrossEntropy(torch.autograd.Function):
    """Sum over rows of cross-entropy(softcap(hidden @ weight.T), targets), with the gradients
    computed chunk by chunk in the forward pass (the loss is the end of the graph, so its
    gradient is known then) and kept until backward. Each chunk's logits live in two buffers
    reused from chunk to chunk and step to step, worked on in place."""

    @staticmethod
    def forward(ctx, hidden, weight, targets, softcap, chunk):
        hidden = hidden.to(weight.dtype)
        total = torch.zeros((), dtype=torch.float32, device=hidden.device)
        grad_hidden = torch.empty_like(hidden) if ctx.needs_input_grad[0] else None
        grad_weight = (
            torch.zeros_like(weight, dtype=torch.float32) if ctx.needs_input_grad[1] else None
        )
        vocab = weight.shape[0]
        for start in range(0, hidden.shape[0], chunk):
            h, y = hidden[start : start + chunk], targets[start : start + chunk]
            rows = torch.arange(len(y), device=y.device)
            raw = _scratch(len(y), vocab, weight.dtype, weight.device)
            torch.mm(h, weight.T, out=raw)
            # (for fp32 weights the two buffers are one: the copy is then a no-op)
            logits = _scratch(len(y), vocab, torch.float32, weight.device).copy_(raw)
            capped = None
            if softcap:
                capped = torch.tanh(logits / softcap)
                logits.copy_(capped).mul_(softcap)
            target = logits[rows, y]
            top = logits.amax(dim=1, keepdim=True)
            sums = logits.sub_(top).exp_().sum(dim=1, keepdim=True)  # logits now exp(x - max)
            total += (top.squeeze(1) + sums.squeeze(1).log() - target).sum()  # logsumexp - x_y
            if grad_hidden is None and grad_weight is None:
                continue
            grad = logits.div_(sums)  # the softmax
            grad[rows, y] -= 1
            if capped is not None:
                grad *= 1 - capped * capped
            grad = raw.copy_(grad)
            if grad_hidden is not None:
                torch.mm(grad, weight, out=grad_hidden[start : start + chunk])
            if grad_weight is not None:
                grad_weight += (grad.T @ h).float()
        ctx.save_for_backward(grad_hidden, grad_weight)
        return total

    @staticmethod
    def backward(ctx, grad_total):
        grad_hidden, grad_weight = ctx.saved_tensors
        scale = grad_total.float()
        return (
            None if grad_hidden is None else (grad_hidden.float() * scale).to(grad_hidden.dtype),
            None if grad_weight is None else grad_weight * scale,
            None,
            None,
            None,
        )


def labelled_token_loss(
    hidden: torch.Tensor,
    weight: torch.Tensor,
    labels: torch.Tensor,
    num_items_in_batch=None,
    softcap: float | None = None,
    shift_labels: torch.Tensor | None = None,
    chunk: int = CHUNK_TOKENS,
) -> torch.Tensor:
    """transformers' causal-LM loss of `hidden` (batch, seq, d) under the output layer
    `weight` (vocab, d): labels shifted left, IGNORE_INDEX skipped, mean over labelled tokens
    (or sum / `num_items_in_batch`, as the Trainer asks under gradient accumulation)."""
    if shift_labels is None:
        shift_labels = F.pad(labels, (0, 1), value=IGNORE_INDEX)[..., 1:]
    keep = shift_labels != IGNORE_INDEX
    total = _ChunkedLinearCrossEntropy.apply(
        hidden[keep], weight, shift_labels[keep], softcap, chunk
    )
    if num_items_in_batch is None:
        return total / keep.sum().clamp(min=1)
    if torch.is_tensor(num_items_in_batch):
        num_items_in_batch = num_items_in_batch.to(total.device)
    return total / num_items_in_batch


def lean_forward(model, original):
    """`model.forward` that, when it trains on labels, computes the loss with
    `labelled_token_loss` and no logits; any other call (generation, evaluation under
    no_grad, no labels) goes to the `original` forward."""
    from transformers.modeling_outputs import CausalLMOutputWithPast

    softcap = getattr(model.config, "final_logit_softcapping", None)
    noted = False

    def forward(*args, labels=None, **kwargs):
        if labels is None or not torch.is_grad_enabled():
            return original(*args, labels=labels, **kwargs)
        nonlocal noted
        if not noted:  # one line in the training log says it is on
            noted = True
            kept = int((labels[..., 1:] != IGNORE_INDEX).sum())
            total = labels[..., 1:].numel()
            name = type(model).__name__
            note = f"[synthpack] lean loss: {name}, the output layer on {kept} of {total} positions"
            print(note, file=sys.stderr, flush=True)
        num_items = kwargs.pop("num_items_in_batch", None)
        shift_labels = kwargs.pop("shift_labels", None)
        kwargs.pop("logits_to_keep", None)
        out = model.get_decoder()(*args, **kwargs)
        loss = labelled_token_loss(
            out.last_hidden_state,
            model.get_output_embeddings().weight,
            labels,
            num_items,
            softcap,
            shift_labels,
        )
        return CausalLMOutputWithPast(
            loss=loss,
            logits=None,
            past_key_values=out.past_key_values,
            hidden_states=out.hidden_states,
            attentions=out.attentions,
        )

    return forward


def make_lean(model) -> bool:
    """Give `model` the lean loss when its type is one `lean_forward` reproduces; returns
    whether it did."""
    if getattr(model.config, "model_type", None) not in LEAN_MODEL_TYPES:
        return False
    if getattr(model, "_synthpack_lean", False):
        return True
    model.forward = lean_forward(model, model.forward)
    model._synthpack_lean = True
    return True


def install() -> None:
    """Make every causal LM that `from_pretrained` loads in this process lean (LLaMA-Factory
    loads its model that way, then wraps it with PEFT, whose forward calls this one)."""
    from transformers import PreTrainedModel

    loader = PreTrainedModel.from_pretrained.__func__
    if getattr(loader, "_synthpack_lean", False):
        return

    def from_pretrained(cls, *args, **kwargs):
        model = loader(cls, *args, **kwargs)
        if hasattr(model, "get_output_embeddings") and model.get_output_embeddings() is not None:
            make_lean(model)
        return model

    from_pretrained._synthpack_lean = True
    PreTrainedModel.from_pretrained = classmethod(from_pretrained)


def skip_lora_casts_under_autocast() -> None:
    """Stop PEFT casting each LoRA layer's input to the adapter's fp32 under autocast.

    LLaMA-Factory keeps trainable LoRA weights in fp32, so PEFT copies every bf16 input to
    fp32 before the adapter's matmul, and autocast at once copies it back to bf16 for that
    matmul: two copies of each layer's input, forward and backward, for the same product
    (a fifth of a CPU step was such copies). Under autocast the input is left as it is; the
    losses are bit for bit the same. Outside autocast PEFT casts as before."""
    from peft.tuners.tuners_utils import BaseTunerLayer

    cast = BaseTunerLayer._cast_input_dtype
    if getattr(cast, "_synthpack_lean", False):
        return

    def cast_unless_autocast(self, x, dtype):
        if x is not None and torch.is_autocast_enabled(x.device.type):
            return x
        return cast(self, x, dtype)

    cast_unless_autocast._synthpack_lean = True
    BaseTunerLayer._cast_input_dtype = cast_unless_autocast


def main() -> None:
    """`llamafactory-cli` with the lean loss installed (argv as llamafactory-cli takes it)."""
    install()
    skip_lora_casts_under_autocast()
    from llamafactory.cli import main as llamafactory_main

    sys.argv = ["llamafactory-cli", *sys.argv[1:]]
    llamafactory_main()


if __name__ == "__main__":
    main()
