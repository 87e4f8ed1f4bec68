"""The prepared SmolLM2 folder: right special tokens, idempotent, and answers that end."""

from __future__ import annotations

import json

from synthpack.model import EOS_TOKEN, LLAMAFACTORY_TEMPLATE, MARKER, prepare_default_model


def test_prepared_folder_is_a_plain_hf_model_with_consistent_special_tokens(smollm2):
    from transformers import AutoConfig, AutoTokenizer, GenerationConfig

    assert (smollm2 / "model.safetensors").is_file()
    tokenizer = AutoTokenizer.from_pretrained(smollm2)
    config = AutoConfig.from_pretrained(smollm2)
    generation = GenerationConfig.from_pretrained(smollm2)
    eos_id = tokenizer.convert_tokens_to_ids(EOS_TOKEN)
    assert eos_id == 2
    assert tokenizer.eos_token == EOS_TOKEN
    assert config.eos_token_id == generation.eos_token_id == eos_id
    assert tokenizer.pad_token_id not in (None, eos_id)
    assert json.loads((smollm2 / MARKER).read_text())["dtype"] == "float32"


def test_second_prepare_reuses_the_folder_without_rewriting_it(smollm2):
    weights = smollm2 / "model.safetensors"
    before = weights.stat().st_mtime_ns
    assert prepare_default_model() == smollm2
    assert weights.stat().st_mtime_ns == before


def test_a_chat_answer_stops_by_itself(smollm2):
    from synthpack.generate.backends import Sampling, generate_chat, load_model

    model, tokenizer = load_model(smollm2)
    [answer] = generate_chat(
        model, tokenizer, ["What is the capital of France?"], Sampling(max_new_tokens=40)
    )
    assert answer["stopped"], answer
    assert "Paris" in answer["text"]


def test_llamafactory_sft_labels_end_with_the_token_generation_stops_on(smollm2):
    """A wrong eos would teach SFT to end answers with a token generation never stops on."""
    from llamafactory.data import get_template_and_fix_tokenizer
    from llamafactory.hparams import DataArguments
    from transformers import AutoTokenizer, GenerationConfig

    tokenizer = AutoTokenizer.from_pretrained(smollm2)
    template = get_template_and_fix_tokenizer(
        tokenizer, DataArguments(template=LLAMAFACTORY_TEMPLATE)
    )
    messages = [
        {"role": "user", "content": "List two colours."},
        {"role": "assistant", "content": "1. red\n2. blue"},
    ]
    _, answer_ids = template.encode_oneturn(tokenizer, messages)
    stop_id = GenerationConfig.from_pretrained(smollm2).eos_token_id
    assert stop_id in answer_ids
    end = answer_ids.index(stop_id)
    assert tokenizer.decode(answer_ids[:end]) == "1. red\n2. blue"
    assert tokenizer.decode(answer_ids[end + 1 :]).strip() == ""  # only the turn's newline follows
