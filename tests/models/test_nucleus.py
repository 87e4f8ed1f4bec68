"""The fast nucleus sampler draws from exactly transformers' temperature + top-p distribution."""

import pytest
import torch
from transformers import TemperatureLogitsWarper, TopPLogitsWarper

from synthpack.models.nucleus import FIRST_K, nucleus_candidates, sample_nucleus


def transformers_distribution(scores, temperature, top_p):
    """What transformers samples from: temperature, then top-p, then softmax."""
    warped = TemperatureLogitsWarper(temperature)(None, scores.clone())
    return TopPLogitsWarper(top_p)(None, warped).softmax(-1)


def rows_of_logits():
    torch.manual_seed(0)
    peaked = torch.randn(3, 5000) * 6  # a few tokens hold the mass: the nucleus fits in top-k
    flat = torch.randn(2, 5000) * 0.1  # nearly uniform: the nucleus needs most of the vocabulary
    return torch.cat([peaked, flat])


@pytest.mark.parametrize("temperature, top_p", [(0.8, 0.95), (1.0, 0.5), (1.3, 0.99)])
def test_the_nucleus_is_the_set_transformers_keeps(temperature, top_p):
    scores = rows_of_logits()
    expected = transformers_distribution(scores, temperature, top_p)
    ids, probs, fitted = nucleus_candidates(scores / temperature, top_p, scores.shape[-1])
    assert fitted.all()
    ours = torch.zeros_like(expected).scatter_(-1, ids, probs)
    assert torch.equal(ours > 0, expected > 0)
    # Renormalised over the nucleus, the probabilities are transformers' own.
    assert torch.allclose(ours / ours.sum(-1, keepdim=True), expected, atol=1e-6)


def test_rows_whose_nucleus_is_wider_than_the_first_k_are_told_apart():
    scores = rows_of_logits()
    _, _, fitted = nucleus_candidates(scores / 0.8, 0.95, FIRST_K)
    assert fitted.tolist() == [True, True, True, False, False]


def test_draws_follow_the_distribution_in_every_fallback_path():
    """Peaked rows are drawn from the top-k, flat ones through the full sort; the empirical
    frequencies of 4,000 draws match transformers' probabilities."""
    scores = torch.tensor([[4.0, 3.5, 1.0, 0.0] + [-20.0] * 300, [0.01 * i for i in range(304)]])
    expected = transformers_distribution(scores, 0.8, 0.9)
    torch.manual_seed(1)
    draws = torch.stack([sample_nucleus(scores, 0.8, 0.9) for _ in range(4000)])
    for row in range(2):
        counts = torch.bincount(draws[:, row], minlength=scores.shape[-1]).float() / 4000
        assert set(counts.nonzero().flatten().tolist()) <= set(
            expected[row].nonzero().flatten().tolist()
        )
        assert (counts - expected[row]).abs().max() < 0.03


def test_the_same_seed_draws_the_same_tokens():
    scores = rows_of_logits()
    torch.manual_seed(5)
    first = sample_nucleus(scores, 0.8, 0.95)
    torch.manual_seed(5)
    assert torch.equal(first, sample_nucleus(scores, 0.8, 0.95))
