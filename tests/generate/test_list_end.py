"""Stopping an answer when its list is done: entry n+1 starting ends it, cut just before."""

from __future__ import annotations

import json

import pytest
import torch
from conftest import FIXTURES

from synthpack.models.backends import Sampling, _Progress, generate_batch, list_end


@pytest.mark.parametrize(
    ("text", "end"),
    [
        ("1. a\n2. b\n3. c", "1. a\n2. b"),  # entry n+1
        ("1. a\n2. b\n1. c\n2. d", "1. a\n2. b"),  # a second list (Gemma 3 does this)
        ("1. a\n2. b\n\n  3) c", "1. a\n2. b\n"),
        ("**1.** a\n**2.** b\n**3.** c", "**1.** a\n**2.** b"),
        ("1、a\n2、b\n3、c", "1、a\n2、b"),
        ("1. a\n2. b was 3. c", None),  # a number inside an entry
        ("1. a\n2. b\n3 cats", None),  # a number without its mark
        ("Here:\n1. a\n2. b", None),
    ],
)
def test_where_a_list_of_two_ends(text, end):
    cut = list_end(text, 2)
    assert (None if cut is None else text[:cut]) == end


def test_the_criterion_stops_a_row_when_its_next_entry_starts_and_counts_running(tiny_model):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    answer = tokenizer("1. one\n2. two\n3. three")["input_ids"]
    running = []
    criterion = _Progress(tokenizer, 0, running.append, [2, None])
    stopped_at = None
    for step in range(1, len(answer) + 1):
        ids = torch.tensor([answer[:step], answer[:step]])
        done = criterion(ids, None)
        if done[0] and stopped_at is None:
            stopped_at = step
        assert not done[1]  # no list length: never stopped by the list
    assert tokenizer.decode(answer[:stopped_at]).endswith("\n3.")  # the first step it shows
    assert "\n3." not in tokenizer.decode(answer[: stopped_at - 1])
    assert running[-1] == 1 and criterion.done_at == {0: stopped_at}


@pytest.mark.slow
def test_smollm2_answers_stop_at_the_end_of_the_list(smollm2):
    from synthpack.models.backends import load_model

    model, tokenizer = load_model(smollm2, None, "fp32")
    rows = [
        json.loads(x) for x in (FIXTURES / "smollm2_hate_prompts.jsonl").read_text().splitlines()
    ]
    prompts = [r["prompt"] for r in rows[:2]]
    free = generate_batch(model, tokenizer, prompts, Sampling(max_new_tokens=200), seed=0)
    stop = Sampling(max_new_tokens=200, stop_at_list_end=True)
    done = generate_batch(model, tokenizer, prompts, stop, seed=0, list_lengths=[2, 2])
    for before, after in zip(free, done, strict=True):
        if after.get("list_done"):
            assert after["new_tokens"] < before["new_tokens"]
            assert before["text"].startswith(after["text"].rstrip())  # same tokens, cut
            assert list_end(after["text"], 2) is None and list_end(after["text"], 1) is not None
    assert any(a.get("list_done") for a in done), [a["text"][:80] for a in free]
