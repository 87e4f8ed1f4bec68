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
`skip_lora_casts_under_autocast()`, which spares PEFT's redundant copies of each LoRA input;
with `--selective-checkpointing` first, `lean_checkpoint.install()` too).
"""

from __future__ import annotations

import sys

import torch
import torch.nn.functional as F

from synthpack.train.lean_norm import install_lean_norms

IGNORE_INDEX = -100  # transformers' and LLaMA-Factory's label for "no loss here"
CHUNK_TOKENS = 256  # rows per output-layer matmul: 256 x 262,144 bf16 logits = 134 MB
# Model types whose causal-LM head is `lm_head(norm(decoder(x)))`, with Gemma 2's optional
# final soft-capping: what `lean_forward` reproduces. Others keep their own forward.
LEAN_MODEL_TYPES = frozenset(
    {"llama", "mistral", "qwen2", "qwen3", "gemma", "gemma2", "gemma3_text"}
)


SOFTMAX_ROWS = 32  # rows of a chunk turned into fp32 at a time: 32 x 262,144 x 4 = 34 MB
_SCRATCH: dict[tuple, torch.Tensor] = {}  # (role, device, dtype, vocab) -> a kept buffer


def _scratch(role: str, rows: int, cols: int, dtype: torch.dtype, device) -> torch.Tensor:
    """A (rows, cols) buffer kept from step to step. A fresh 100-300 MB tensor per chunk cost
    more in page faults than its arithmetic: allocating the logits made the output layer's
    matmul half as fast on the project's CPU (bench/RESULTS.md, "Lean training, round 2")."""
    key = (role, str(device), dtype, cols)
    buffer = _SCRATCH.get(key)
    if buffer is None or buffer.shape[0] < rows:
        buffer = _SCRATCH[key] = torch.empty(rows, cols, dtype=dtype, device=device)
    return buffer[:rows]


def _loss_and_gradient(logits: torch.Tensor, targets: torch.Tensor, softcap) -> torch.Tensor:
    """The summed cross-entropy of some rows of logits; the rows are overwritten with the
    loss's gradient with respect to them. The softmax runs in fp32, a few rows at a time, in a
    kept buffer small enough to stay in cache (a bf16 chunk is widened 32 rows at a time)."""
    x = logits
    if logits.dtype != torch.float32:
        x = _scratch("softmax", len(targets), logits.shape[1], torch.float32, logits.device)
        x.copy_(logits)
    rows = torch.arange(len(targets), device=targets.device)
    capped = None
    if softcap:
        capped = torch.tanh(x / softcap)
        x.copy_(capped).mul_(softcap)
    target = x[rows, targets]
    top = x.amax(dim=1, keepdim=True)
    sums = x.sub_(top).exp_().sum(dim=1, keepdim=True)  # x is now exp(logits - max)
    loss = (top.squeeze(1) + sums.squeeze(1).log() - target).sum()  # logsumexp - logit_y
    x.div_(sums)  # the softmax
    x[rows, targets] -= 1
    if capped is not None:
        x.mul_(1 - capped * capped)
    if x is not logits:
        logits.copy_(x)
    return loss


class _ChunkedLinearCrossEntropy(torch.autograd.Function):
    """Sum over rows of cross-entropy(softcap(hidden @ weight.T), targets), with the gradients
    computed chunk by chunk in the forward pass (the loss is the end of the graph, so its
    gradient is known then) and kept until backward. Each chunk's logits are made in a kept
    buffer, turned into their gradient in place, and multiplied back by the weight."""

    @staticmethod
    def forward(ctx, hidden, weight, targets, softcap, chunk):
        hidden = hidden.to(weight.dtype)
        total = torch.zeros((), dtype=torch.float32, device=hidden.device)
        grad_hidden = torch.empty_like(hidden) if ctx.needs_input_grad[0] else None
        grad_weight = (
            torch.zeros_like(weight, dtype=torch.float32) if ctx.needs_input_grad[1] else None
        )
        for start in range(0, hidden.shape[0], chunk):
            h, y = hidden[start : start + chunk], targets[start : start + chunk]
            logits = _scratch("logits", len(y), weight.shape[0], weight.dtype, weight.device)
            torch.mm(h, weight.T, out=logits)
            for row in range(0, len(y), SOFTMAX_ROWS):
                part = slice(row, row + SOFTMAX_ROWS)
                total += _loss_and_gradient(logits[part], y[part], softcap)
            grad = logits  # now d loss / d logits
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
    """`llamafactory-cli` with the lean loss installed (argv as llamafactory-cli takes it,
    after an optional `--selective-checkpointing`)."""
    from synthpack.train.launch import SELECTIVE_FLAG

    args = sys.argv[1:]
    if args[:1] == [SELECTIVE_FLAG]:
        from synthpack.train import lean_checkpoint

        lean_checkpoint.install()
        args = args[1:]
    install()
    skip_lora_casts_under_autocast()
    install_lean_norms()
    from llamafactory.cli import main as llamafactory_main

    sys.argv = ["llamafactory-cli", *args]
    llamafactory_main()


if __name__ == "__main__":
    main()
