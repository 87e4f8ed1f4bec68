"""Tiny random models whose tokenizers carry the special tokens of the pack's GPU model families.

The shipped YAMLs name LLaMA-Factory templates (`llama3`, `llama2`, `mistral`) that look for
those tokens: `llama3` makes <|eot_id|> the eos and would add it as a new token to a tokenizer
without it, which a model without that embedding cannot train. Built like tests/tiny_model.py
(2 layers, 64 wide, grouped-query attention, a small byte-level BPE), in about a second.
"""

from __future__ import annotations

from pathlib import Path

from tiny_model import _training_corpus

# Special tokens and roles as in the real tokenizers (Llama-3.x Instruct, Llama-2 / Mistral).
FAMILIES = {
    "llama3": {
        "special": [
            "<|begin_of_text|>",
            "<|end_of_text|>",
            "<|start_header_id|>",
            "<|end_header_id|>",
            "<|eot_id|>",
            "<|eom_id|>",
        ],
        "bos": "<|begin_of_text|>",
        "eos": "<|eot_id|>",
        "chat_template": (
            "{{ bos_token }}{% for message in messages %}"
            "{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'"
            " + message['content'] + '<|eot_id|>' }}{% endfor %}"
            "{% if add_generation_prompt %}"
            "{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}"
        ),
    },
    "llama2": {
        "special": ["<unk>", "<s>", "</s>"],
        "bos": "<s>",
        "eos": "</s>",
        "chat_template": (
            "{% for message in messages %}{% if message['role'] == 'user' %}"
            "{{ bos_token + '[INST] ' + message['content'] + ' [/INST]' }}"
            "{% elif message['role'] == 'assistant' %}{{ ' ' + message['content'] + eos_token }}"
            "{% endif %}{% endfor %}"
        ),
    },
}
# Mistral-7B-Instruct-v0.2: Llama-2's tokens, its own architecture class (MistralForCausalLM).
FAMILIES["mistral"] = {**FAMILIES["llama2"], "architecture": "mistral"}


def build_tiny_family(out_dir: Path, family: str, dataset_dir: Path) -> Path:
    """Write a tiny random model with `family`'s special tokens and, like them, no pad token."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import (
        LlamaConfig,
        LlamaForCausalLM,
        MistralConfig,
        MistralForCausalLM,
        PreTrainedTokenizerFast,
    )

    spec = FAMILIES[family]
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=600,
        special_tokens=spec["special"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    corpus = _training_corpus(dataset_dir) + ["[INST] [/INST] <<SYS>> <</SYS>> user assistant"]
    bpe.train_from_iterator(corpus, trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe, bos_token=spec["bos"], eos_token=spec["eos"], padding_side="left"
    )
    tokenizer.chat_template = spec["chat_template"]
    mistral = spec.get("architecture") == "mistral"
    config = (MistralConfig if mistral else LlamaConfig)(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        tie_word_embeddings=True,
    )
    torch.manual_seed(0)
    model = (MistralForCausalLM if mistral else LlamaForCausalLM)(config)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.eos_token_id
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return out_dir
