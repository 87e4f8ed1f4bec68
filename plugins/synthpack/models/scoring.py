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

# Sentences per forward pass. With the output layer run only at scored positions, 64 was 15%
# faster than 16 on StereoSet (bench/RESULTS.md); HEAD_CHUNK bounds the logits' memory.
SCORING_BATCH_SIZE = 64
HEAD_CHUNK = 1024  # positions per output-layer call: 1024 x 49k vocabulary = 200 MB in fp32


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
    batch_size: int = SCORING_BATCH_SIZE,
    progress: Callable[[int], None] | None = None,
    start_id: int | None = None,
) -> list[TextScore]:
    """Score every text; batches are built from length-sorted inputs to keep padding small.

    A token that follows the same prefix in several texts (StereoSet's three sentences share
    everything before the blank) goes through the output layer once: its log-probability
    depends on nothing else. `progress(n)` is called after each batch with the number of
    texts just scored; `start_id` replaces the BOS token that every sequence starts with.
    """
    import torch

    contexts = list(contexts) if contexts is not None else [None] * len(texts)
    if len(contexts) != len(texts):
        raise ValueError("texts and contexts differ in length")
    encoded = [encode(tokenizer, t, c, start_id) for t, c in zip(texts, contexts, strict=True)]
    prefixes = prefix_ids([seq for seq, _ in encoded])
    known: dict[int, float] = {}  # prefix id -> log-probability of its last token
    order = sorted(range(len(encoded)), key=lambda i: len(encoded[i][0]))
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    device = next(model.parameters()).device
    results: list[TextScore | None] = [None] * len(texts)
    for start in range(0, len(order), batch_size):
        batch = order[start : start + batch_size]
        width = max(len(encoded[i][0]) for i in batch)
        ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        wanted: dict[int, tuple[int, int]] = {}  # new prefix id -> (row, position)
        for row, i in enumerate(batch):  # right padding keeps position ids 0..n-1 for real tokens
            seq, n_text = encoded[i]
            ids[row, : len(seq)] = torch.tensor(seq)
            mask[row, : len(seq)] = 1
            # logits at position p predict token p+1: the text's tokens are its last n_text
            for p in range(len(seq) - 1 - n_text, len(seq) - 1):
                if prefixes[i][p + 1] not in known:
                    wanted.setdefault(prefixes[i][p + 1], (row, p))
        if wanted:
            rows, positions = zip(*wanted.values(), strict=True)
            with torch.no_grad():
                token_lp = _token_logprobs(
                    model, ids.to(device), mask.to(device), torch.tensor(rows),
                    torch.tensor(positions),
                ).tolist()  # fmt: skip
            known.update(zip(wanted, token_lp, strict=True))
        for i in batch:
            seq, n_text = encoded[i]
            logprob = sum(known[node] for node in prefixes[i][len(seq) - n_text :])
            results[i] = TextScore(logprob=logprob, tokens=n_text)
        if progress:
            progress(len(batch))
    return results  # type: ignore[return-value]


def prefix_ids(sequences: Sequence[Sequence[int]]) -> list[list[int]]:
    """For each sequence, an id per position naming the prefix that ends there (its tokens up
    to and including that one): equal prefixes get equal ids, in any sequences."""
    trie: dict[tuple[int, int], int] = {}
    out = []
    for seq in sequences:
        node, nodes = 0, []
        for token in seq:
            node = trie.setdefault((node, token), len(trie) + 1)
            nodes.append(node)
        out.append(nodes)
    return out


def _token_logprobs(model, ids, mask, rows, positions):
    """log P(ids[row, pos + 1] | ids[row, :pos + 1]) for each (row, pos) pair.

    The output layer runs only at those positions (not at padding or context tokens), and
    the log-probability is the target's logit minus the log-sum-exp of its row, so no
    batch x length x vocabulary log-softmax is ever written. Prefix-tuning models (whose
    prefix lives outside the decoder) take the full forward pass.
    """
    import torch

    rows, positions = rows.to(ids.device), positions.to(ids.device)
    targets = ids[rows, positions + 1]
    with _autocast(model, ids.device):
        if getattr(model, "peft_config", None):  # an unmerged PEFT model: run it whole
            hidden, head = model(input_ids=ids, attention_mask=mask).logits, None
        else:
            hidden = model.get_decoder()(input_ids=ids, attention_mask=mask).last_hidden_state
            head = model.get_output_embeddings()
    out = []
    for start in range(0, len(rows), HEAD_CHUNK):
        part = slice(start, start + HEAD_CHUNK)
        states = hidden[rows[part], positions[part]].float()
        logits = (states if head is None else head(states)).float()
        picked = logits.gather(-1, targets[part].unsqueeze(-1)).squeeze(-1)
        out.append(picked - torch.logsumexp(logits, dim=-1))
    return torch.cat(out) if out else torch.zeros(0)


def perplexity(scores: Sequence[TextScore]) -> float:
    """Corpus perplexity: exp of the mean negative log-likelihood per token over all texts."""
    tokens = sum(s.tokens for s in scores)
    if not tokens:
        return float("nan")
    return math.exp(-sum(s.logprob for s in scores) / tokens)


AUTOCAST_ATTRIBUTE = "synthpack_autocast"  # set on a model whose matmuls run in bf16


def load_scoring_model(model_dir, adapter=None, precision=None):
    """Causal LM + tokenizer for scoring (optionally with a PEFT adapter), on a GPU if any.

    At bf16 (`precision`: auto / bf16 / fp32) only the decoder's matrix multiplications run in
    bf16 (their weights stored in bf16, under autocast); embeddings, norms, the residual
    stream and the output layer stay fp32. A model cast to bf16 throughout loses the large
    activations of the first positions (3 nats on some StereoSet sentences) and bf16 logits
    keep about 3 significant digits; this split keeps every sentence within 0.65 nats of
    fp32 and decides StereoSet's close calls in fp32 (`stereoset.model_scores`).
    """
    from synthpack.models.backends import load_model
    from synthpack.models.precision import Precision, as_precision

    chosen = as_precision(precision)
    model, tokenizer = load_model(model_dir, adapter, Precision("fp32", chosen.reason))
    if chosen.is_bf16:
        _bf16_matmuls(model)
    return model, tokenizer


def _bf16_matmuls(model) -> None:
    """Store the decoder's linear layers in bf16 and mark the model to run under autocast."""
    import torch

    for module in model.get_decoder().modules():
        if isinstance(module, torch.nn.Linear):
            module.to(torch.bfloat16)
    setattr(model, AUTOCAST_ATTRIBUTE, torch.bfloat16)


def scoring_dtype(model) -> str:
    """How `model` scores, in words for reports: `float32`, or `bfloat16 matmuls`."""
    if getattr(model, AUTOCAST_ATTRIBUTE, None) is not None:
        return "bfloat16 matmuls (fp32 residual stream and output layer)"
    return str(model.dtype).removeprefix("torch.")


def _autocast(model, device):
    """The autocast context `model` asks for (see `_bf16_matmuls`); a no-op otherwise."""
    import torch

    dtype = getattr(model, AUTOCAST_ATTRIBUTE, None)
    return torch.autocast(device.type, dtype=dtype, enabled=dtype is not None)
