"""Top-p (nucleus) sampling without sorting the whole vocabulary at every step.

transformers samples by sorting all 49k logits of every row for top-p and then drawing with
`torch.multinomial` over the whole vocabulary; on a CPU these two take about 40 ms of a
110 ms decoding step of SmolLM2 at batch 16 (bench/RESULTS.md, "CPU precision"). The
nucleus of a trained model almost always lies within its few hundred most likely tokens, so
`NucleusSampler` finds it with `topk`, draws among those tokens only, and falls back to a
larger `topk` (then a full sort) for the rows whose nucleus is wider. The distribution it
samples from is exactly transformers' temperature + top-p one.
"""

from __future__ import annotations

FIRST_K = 256  # candidates tried first; rows whose nucleus needs more get FALLBACK_K, then all
FALLBACK_K = 4096


def nucleus_candidates(scores, top_p: float, k: int):
    """Top-`k` token ids per row, their probabilities with the tokens outside the nucleus set
    to 0, and per row whether the nucleus fitted within the `k` tokens.

    A token is in the nucleus when the probability of the tokens more likely than it is
    below `top_p` (the smallest set whose mass reaches `top_p`, as transformers keeps it).
    """
    import torch

    k = min(k, scores.shape[-1])
    values, ids = scores.topk(k, dim=-1)
    probs = (values - torch.logsumexp(scores, dim=-1, keepdim=True)).exp()
    before = probs.cumsum(dim=-1) - probs
    fitted = (before[:, -1] + probs[:, -1] >= top_p) | (k == scores.shape[-1])
    return ids, probs.masked_fill(before >= top_p, 0.0), fitted


def sample_nucleus(scores, temperature: float, top_p: float):
    """One token id per row, drawn from the temperature-scaled top-p distribution of
    `scores` (batch x vocabulary logits), using torch's global random generator."""
    import torch

    scores = scores.float() / temperature
    chosen = torch.empty(scores.shape[0], dtype=torch.long, device=scores.device)
    rows = torch.arange(scores.shape[0], device=scores.device)
    for k in (FIRST_K, FALLBACK_K, scores.shape[-1]):
        ids, probs, fitted = nucleus_candidates(scores[rows], top_p, k)
        if bool(fitted.any()):
            draw = torch.multinomial(probs[fitted], 1)
            chosen[rows[fitted]] = ids[fitted].gather(-1, draw).squeeze(-1)
        rows = rows[~fitted]
        if rows.numel() == 0:
            break
    return chosen


def nucleus_processor(temperature: float, top_p: float):
    """A transformers logits processor that samples (as `sample_nucleus`) and returns scores
    that are 0 for the drawn token and -inf elsewhere, so that greedy decoding
    (`do_sample=False`) emits exactly the drawn token."""
    from transformers import LogitsProcessor

    class NucleusSampler(LogitsProcessor):
        def __call__(self, input_ids, scores):
            token = sample_nucleus(scores, temperature, top_p)
            picked = scores.new_full(scores.shape, float("-inf"))
            return picked.scatter_(-1, token.unsqueeze(-1), 0.0)

    return NucleusSampler()
