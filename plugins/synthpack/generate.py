"""Generate chat answers with a Hugging Face causal LM, optionally with a LoRA adapter.

Prompts are rendered with the model's own chat template and run in left-padded batches,
which is several times faster per token than one sequence at a time on CPU as on GPU.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Sampling:
    """Decoding settings; greedy when `temperature` is 0."""

    max_new_tokens: int = 256
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int = 0

    def generate_kwargs(self) -> dict:
        if self.temperature <= 0:
            return {"do_sample": False, "max_new_tokens": self.max_new_tokens}
        return {
            "do_sample": True,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "max_new_tokens": self.max_new_tokens,
        }


def load_model(model_dir: Path, adapter_dir: Path | None = None):
    """Load base model and tokenizer; apply a PEFT adapter when given."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    if adapter_dir is not None:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, adapter_dir)
    model.eval()
    return model, tokenizer


def generate_chat(model, tokenizer, prompts: list[str], sampling: Sampling, batch_size: int = 8):
    """Answer each prompt as a user turn; returns one dict per prompt with text and token counts."""
    import torch

    torch.manual_seed(sampling.seed)
    results = []
    for start in range(0, len(prompts), batch_size):
        batch = prompts[start : start + batch_size]
        texts = [
            tokenizer.apply_chat_template(
                [{"role": "user", "content": p}], tokenize=False, add_generation_prompt=True
            )
            for p in batch
        ]
        enc = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False)
        with torch.no_grad():
            out = model.generate(
                **enc,
                **sampling.generate_kwargs(),
                pad_token_id=tokenizer.pad_token_id,
                eos_token_id=tokenizer.eos_token_id,
            )
        new_tokens = out[:, enc.input_ids.shape[1] :]
        for row in new_tokens:
            ended = bool((row == tokenizer.eos_token_id).any())
            n_tokens = int((row != tokenizer.pad_token_id).sum())
            results.append(
                {
                    "text": tokenizer.decode(row, skip_special_tokens=True),
                    "new_tokens": n_tokens,
                    "stopped": ended,
                }
            )
    return results
