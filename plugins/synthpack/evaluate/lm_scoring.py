"""Sentence log-likelihood under a causal LM, batched: the model side of StereoSet, CrowS-Pairs
and perplexity.

Each text is scored after the tokenizer's BOS token (so its first token is predicted too), and
optionally after a context whose own tokens are not scored (StereoSet intersentence).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from synthpack.common.errors import SynthpackError


@dataclass(frozen=True)
class TextScore:
    """Summed log-probability (natural log) of a text's tokens and how many tokens were scored."""

    logprob: float
    tokens: int

    @property
    def mean(self) -> float:
        """Mean token log-probability: the length-fair sentence score StereoSet uses."""
        return self.logprob / self.tokens if self.tokens else float("-inf")


def start_token_id(tokenizer) -> int:
    """BOS, or EOS for tokenizers such as GPT-2's that start documents with their EOS token."""
    for token_id in (tokenizer.bos_token_id, tokenizer.eos_token_id):
        if token_id is not None:
            return int(token_id)
    raise SynthpackError("the tokenizer has neither a BOS nor an EOS token to start sentences with")


def resolve_start_token(tokenizer, token: str | None) -> int:
    """The id of `token` (e.g. "<|endoftext|>"), or the tokenizer's BOS when None."""
    if token is None:
        return start_token_id(tokenizer)
    token_id = tokenizer.convert_tokens_to_ids(token)
    if token_id is None or token_id == tokenizer.unk_token_id and token != tokenizer.unk_token:
        special = ", ".join(tokenizer.all_special_tokens)
        raise SynthpackError(f"Unknown start token {token!r}. Special tokens: {special}")
    return int(token_id)


def encode(
    tokenizer, text: str, context: str | None = None, start_id: int | None = None
) -> tuple[list[int], int]:
    """Token ids (start token, context, text) and how many trailing ids belong to the text."""
    start = [start_token_id(tokenizer) if start_id is None else start_id]
    if context:
        ctx = tokenizer(context, add_special_tokens=False).input_ids
        cont = tokenizer(" " + text, add_special_tokens=False).input_ids
        return start + ctx + cont, len(cont)
    ids = tokenizer(text, add_special_tokens=False).input_ids
    return start + ids, len(ids)


def score_texts(
    model,
    tokenizer,
    texts: Sequence[str],
    contexts: Sequence[str | None] | None = None,
    batch_size: int = 16,
    progress: Callable[[int], None] | None = None,
    start_id: int | None = None,
) -> list[TextScore]:
    """Score every text; batches are built from length-sorted inputs to keep padding small.

    `progress(n)` is called after each batch with the number of texts just scored; `start_id`
    replaces the BOS token that every sequence starts with.
    """
    import torch

    contexts = list(contexts) if contexts is not None else [None] * len(texts)
    if len(contexts) != len(texts):
        raise ValueError("texts and contexts differ in length")
    encoded = [encode(tokenizer, t, c, start_id) for t, c in zip(texts, contexts, strict=True)]
    order = sorted(range(len(encoded)), key=lambda i: len(encoded[i][0]))
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    device = next(model.parameters()).device
    results: list[TextScore | None] = [None] * len(texts)
    for start in range(0, len(order), batch_size):
        batch = order[start : start + batch_size]
        width = max(len(encoded[i][0]) for i in batch)
        ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for row, i in enumerate(batch):  # right padding keeps position ids 0..n-1 for real tokens
            seq = encoded[i][0]
            ids[row, : len(seq)] = torch.tensor(seq)
            mask[row, : len(seq)] = 1
        with torch.no_grad():
            logits = model(input_ids=ids.to(device), attention_mask=mask.to(device)).logits
            logprobs = torch.log_softmax(logits[:, :-1].float(), dim=-1)
            token_lp = logprobs.gather(-1, ids[:, 1:].to(device).unsqueeze(-1)).squeeze(-1).cpu()
        for row, i in enumerate(batch):
            seq, n_text = encoded[i]
            # logits at position p predict token p+1: the text's tokens are the last n_text of seq
            lp = token_lp[row, len(seq) - 1 - n_text : len(seq) - 1]
            results[i] = TextScore(logprob=float(lp.sum()), tokens=n_text)
        if progress:
            progress(len(batch))
    return results  # type: ignore[return-value]


def perplexity(scores: Sequence[TextScore]) -> float:
    """Corpus perplexity: exp of the mean negative log-likelihood per token over all texts."""
    tokens = sum(s.tokens for s in scores)
    if not tokens:
        return float("nan")
    return math.exp(-sum(s.logprob for s in scores) / tokens)


def load_scoring_model(model_dir, adapter=None, precision=None):
    """Causal LM + tokenizer for scoring (optionally with a PEFT adapter), on a GPU if any.

    At bf16 (`precision`: auto / bf16 / fp32) the transformer runs in bf16 but the output
    layer stays fp32: bf16 logits carry about 3 significant digits, which moved SmolLM2's
    StereoSet SS by 0.4 points, while the fp32 head keeps every figure within 0.3 of fp32
    (bench/RESULTS.md, "CPU precision") at a fraction of the time.
    """
    from synthpack.common.precision import Precision, model_device, resolve_precision
    from synthpack.generate.backends import load_model

    chosen = resolve_precision(precision, model_device())
    model, tokenizer = load_model(model_dir, adapter, Precision("fp32", chosen.reason))
    if chosen.is_bf16:
        _bf16_body_fp32_head(model)
    return model, tokenizer


def _bf16_body_fp32_head(model) -> None:
    """Cast `model` to bf16 except its output layer, which gets an fp32 copy of its weights
    (untied from the input embeddings, which go to bf16 with the rest)."""
    import torch

    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    weight = base.get_output_embeddings().weight.detach().clone()
    model.to(torch.bfloat16)
    head = torch.nn.Linear(weight.shape[1], weight.shape[0], bias=False, device=weight.device)
    head.weight = torch.nn.Parameter(weight, requires_grad=False)
    head.register_forward_pre_hook(lambda _module, args: (args[0].float(),))
    base.set_output_embeddings(head)
