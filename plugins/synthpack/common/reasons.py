"""Why a row was dropped: the one vocabulary of reject reasons.

The `reason` column of every rejects file and the keys of a report's `rejected_by_reason` come
from here, so a typo cannot start a new report column."""

from __future__ import annotations

# Why an entry was dropped: the `reason` column of rejected.jsonl and the keys of the report's
# `rejected_by_reason`. A step that drops rows for a new reason adds it here, or registers it
# with `reason()`; the report refuses a reason that is in neither place.
REJECT_REASONS: dict[str, str] = {
    "refusal": "the model declined or lectured instead of writing an entry",
    "garbage": "a random string, symbol run, word loop, URL or code fragment",
    "too_short": "fewer words or characters than the limits allow",
    "too_long": "more words or characters than the limits allow",
    "echo_example": "a copy or near copy of one of the prompt's examples",
    "echo_prompt": "repeats the prompt's own instructions",
    "truncated": "the last entry, cut off by the token limit",
    "meta": "the model talking about the task ('Here are 10 entries:')",
    "no_entries": "a generation in which no numbered entry was found",
    "no_answer": "a prompt no server answered, after every retry (`failure` says why); rerunning "
    "`synthpack generate` sends it again",
    "excess": "beyond the cap of one generation (3 x n_entries, at least 30)",
    "duplicate": "the same text (after text_key) as an earlier entry",
    "near_duplicate": "word-bigram Jaccard at or above the threshold with an earlier entry",
    "duplicate_of_against": "the same text as one of the --against texts",
    "near_duplicate_of_against": "a near duplicate of one of the --against texts",
    "semantic_duplicate": "MiniLM cosine similarity at or above --semantic-dedup with an earlier "
    "kept entry (`matched_id` names it)",
    "semantic_duplicate_of_against": "MiniLM cosine similarity at or above --semantic-dedup with "
    "an --against text",
    "label_disagrees": "a classifier trained on real data scores it against its prompt's "
    "polarity (`label_check_score`)",
}


def reason(name: str, meaning: str) -> str:
    """Add a reject reason to the vocabulary (once) and return its name."""
    if REJECT_REASONS.setdefault(name, meaning) != meaning:
        raise ValueError(f"reject reason {name!r} is already defined with another meaning")
    return name


def check_reason(name: str) -> str:
    """A reject reason, or ValueError: a typo must not start a new report column."""
    if name not in REJECT_REASONS:
        raise ValueError(f"unknown reject reason {name!r}; known: {', '.join(REJECT_REASONS)}")
    return name
