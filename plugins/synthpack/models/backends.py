"""Answer chat prompts with a causal LM loaded here with transformers (CPU or GPU).

Prompts are rendered with the model's own chat template and run in left-padded batches,
which is several times faster per token than one sequence at a time on CPU as on GPU. The
synthesis generation and the debias rewrites both go through `generate_batch`. At scale the
model is served by vLLM or SGLang instead and `synthpack.models.endpoints` sends the prompts.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from synthpack.common.errors import SynthpackError
from synthpack.models.precision import as_precision, model_device

DEFAULT_BATCH_SIZE = 16  # prompts per padded batch: 3.96x single-sequence throughput on SmolLM2
# Compiling the decoding step saved ~15% per step on SmolLM2 at batch 16 but costs ~40 s per
# new shape; runs with at least this many batches compile (bench/RESULTS.md, "CPU precision").
COMPILE_MIN_BATCHES = 12
COMPILE_LENGTH_MULTIPLE = 64  # prompts padded to a multiple of this: few shapes to compile


DECODINGS = ("fast", "transformers")


@dataclass(frozen=True)
class Sampling:
    """Decoding settings; greedy when `temperature` is 0.

    `decoding="fast"` preallocates the KV cache (`static`, so it is not copied as it grows)
    and samples through `nucleus.nucleus_processor` (transformers' temperature + top-p
    distribution, drawn without sorting the vocabulary); "transformers" is the library's own
    sampling and growing cache, the reference the fast path is measured against.
    Prefix-tuning models keep the growing cache on either path: PEFT writes the prefix into it.
    """

    max_new_tokens: int = 256
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int = 0
    decoding: str = "fast"
    stop_at_list_end: bool = False  # stop an answer once entry n+1 of its list starts

    def generate_kwargs(self, static_cache: bool = True) -> dict:
        if self.decoding == "transformers":
            if self.temperature <= 0:
                return {"do_sample": False, "max_new_tokens": self.max_new_tokens}
            return {
                "do_sample": True,
                "temperature": self.temperature,
                "top_p": self.top_p,
                "max_new_tokens": self.max_new_tokens,
            }
        kwargs = {"do_sample": False, "max_new_tokens": self.max_new_tokens}
        if static_cache:
            kwargs["cache_implementation"] = "static"
        if self.temperature > 0:
            from transformers import LogitsProcessorList

            from synthpack.models.nucleus import nucleus_processor

            sampler = nucleus_processor(self.temperature, self.top_p)
            kwargs["logits_processor"] = LogitsProcessorList([sampler])
        return kwargs


GROUPED_ATTENTION = "synthpack_grouped_sdpa"


def grouped_sdpa_attention(
    module, query, key, value, attention_mask, dropout=0.0, scaling=None, **_kwargs
):
    """SDPA for grouped-query attention without copying the KV cache once per query head.

    With a padding mask (every left-padded batch), transformers' `sdpa` repeats each key and
    value head for its query heads at every step: at batch 16 and ~800 cached tokens that is
    about 1.8 GB of copies per token on SmolLM2. Folding the query heads of a group into the
    query length attends to the same keys with no copy, and gives identical logits.
    """
    import torch

    batch, heads, q_len, dim = query.shape
    groups = heads // key.shape[1]
    folded = query.reshape(batch, key.shape[1], groups * q_len, dim)
    mask = attention_mask
    if mask is not None:
        mask = mask.expand(batch, 1, q_len, mask.shape[-1]).repeat(1, 1, groups, 1)
    elif q_len > 1:  # no padding: plain causal attention over the cache and the new tokens
        causal = torch.ones(q_len, key.shape[2], dtype=torch.bool, device=query.device)
        mask = causal.tril(key.shape[2] - q_len).repeat(groups, 1)
    out = torch.nn.functional.scaled_dot_product_attention(
        folded, key, value, attn_mask=mask, dropout_p=dropout, scale=scaling
    )
    return out.reshape(batch, heads, q_len, dim).transpose(1, 2).contiguous(), None


def attention_for(config) -> str:
    """`GROUPED_ATTENTION` for grouped-query models (SmolLM2, Llama 3, Mistral), else sdpa."""
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

    heads = getattr(config, "num_attention_heads", None)
    kv_heads = getattr(config, "num_key_value_heads", None) or heads
    if not heads or kv_heads == heads or heads % kv_heads:
        return "sdpa"
    AttentionInterface.register(GROUPED_ATTENTION, grouped_sdpa_attention)
    AttentionMaskInterface.register(GROUPED_ATTENTION, sdpa_mask)  # the masks sdpa gets
    return GROUPED_ATTENTION


def load_model(
    model_dir: Path, adapter_dir: Path | None = None, precision=None, merge: bool = True
):
    """Load base model and tokenizer, at `precision` (a `Precision`, or auto / bf16 / fp32),
    on the GPU when there is one; apply a PEFT adapter when given.

    A LoRA adapter is merged into the base weights (in fp32, before the cast to `precision`)
    unless `merge` is False: the merged model gives the same outputs without the adapter's
    extra matmuls in every layer, which made decoding about 20% faster on a CPU.
    Prefix-tuning adapters cannot be merged and stay a `PeftModel`.
    """
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    if Path(model_dir).is_dir() and not (Path(model_dir) / "config.json").is_file():
        raise SynthpackError(
            f"{model_dir}: not a model folder (no config.json); give a Hugging Face model "
            "folder, such as the one `synthpack model prepare` prints"
        )
    device = model_device()
    precision = as_precision(precision)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    merging = merge and adapter_dir is not None and _mergeable(adapter_dir)
    model = AutoModelForCausalLM.from_pretrained(
        model_dir,
        attn_implementation=attention_for(AutoConfig.from_pretrained(model_dir)),
        dtype=torch.float32 if merging else precision.dtype,  # merge first, round once
    )
    if adapter_dir is not None:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, adapter_dir)
        if merging:
            model = model.merge_and_unload()
        model.to(precision.dtype)  # the adapter's weights are saved in fp32
    model.to(device)
    model.eval()
    return model, tokenizer


def compile_decoding(model) -> None:
    """Have `generate` compile the model's decoding step with torch.compile (inductor), on
    the CPU as on a GPU; batches are then padded to `COMPILE_LENGTH_MULTIPLE` tokens so that
    the static cache takes few shapes (each new one compiles again)."""
    from transformers import CompileConfig

    config = CompileConfig(fullgraph=False, dynamic=False)
    config._compile_all_devices = True  # transformers compiles on CUDA/XPU only, unless told
    model.generation_config.compile_config = config


def _compiled(model) -> bool:
    return getattr(model.generation_config, "compile_config", None) is not None


def _prompt_learning(model) -> bool:
    """A PeftModel with a prefix-tuning (or other prompt-learning) adapter."""
    config = getattr(model, "active_peft_config", None)
    return bool(config is not None and config.is_prompt_learning)


def _mergeable(adapter_dir: Path) -> bool:
    """LoRA-style adapters fold into the weights; prompt-learning ones (prefix tuning) do not."""
    from peft import PeftConfig

    return not PeftConfig.from_pretrained(adapter_dir).is_prompt_learning


def chat_prompts(tokenizer, prompts: list[str], system: str | None = None) -> list[str]:
    """Each prompt as a user turn (after `system`, if given) in the tokenizer's chat template."""
    head = [{"role": "system", "content": system}] if system else []
    return [
        tokenizer.apply_chat_template(
            [*head, {"role": "user", "content": p}], tokenize=False, add_generation_prompt=True
        )
        for p in prompts
    ]


ENTRY_MARKS = ".)、:"  # what follows an entry's number: "9." "9)" "9、" "9:"
# Where a numbered entry starts: a new line, then a number (bold or after '#' as models write
# it) and its mark.
ENTRY_START = re.compile(r"\n[ \t]*(?:\*\*|#)?\d{1,4}[ \t]*[.)、:]")


def list_end(text: str, n: int) -> int | None:
    """Where a list of `n` entries ends in an answer: the start of the entry after the n-th,
    whatever its number (n+1, or 1 when the model starts a second list); None: not yet."""
    starts = [m.start() for m in ENTRY_START.finditer("\n" + text)]
    return max(0, starts[n] - 1) if len(starts) > n else None


@functools.lru_cache(maxsize=1 << 16)
def _has_mark(tokenizer, token_id: int) -> bool:
    """Whether a token's text holds an entry mark: decoded once per token, not per step."""
    return any(mark in tokenizer.decode([token_id]) for mark in ENTRY_MARKS)


class _Progress:
    """The stopping criterion of a batch: it reports after every decoding step how many
    answers are still running (so a batch shows progress before it finishes), and, given
    each prompt's list length n, stops an answer once an entry starts after its n-th: that
    list is done, and the rest would be entries nobody asked for (Gemma 3 starts the list
    again at 1), or a cut-off one."""

    def __init__(self, tokenizer, prompt_len: int, on_step, list_lengths):
        self.tokenizer, self.prompt_len, self.on_step = tokenizer, prompt_len, on_step
        self.lengths = list(list_lengths or [])
        self.done_at: dict[int, int] = {}  # row -> new tokens when its list was done

    def __call__(self, input_ids, scores, **kwargs):
        import torch

        new = input_ids[:, self.prompt_len :]
        for row, n in enumerate(self.lengths):
            if not n or row in self.done_at:
                continue
            if _has_mark(self.tokenizer, int(new[row, -1])):
                text = self.tokenizer.decode(new[row], skip_special_tokens=True)
                if list_end(text, n) is not None:
                    self.done_at[row] = new.shape[1]
        done = torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)
        done[list(self.done_at)] = True
        if self.on_step is not None:
            ended = (new == self.tokenizer.eos_token_id).any(dim=1) | done
            self.on_step(int((~ended).sum()))
        return done


def generate_batch(
    model,
    tokenizer,
    prompts: list[str],
    sampling: Sampling,
    seed: int,
    system: str | None = None,
    on_step: Callable[[int], None] | None = None,
    list_lengths: list[int] | None = None,
) -> list[dict]:
    """Answer each prompt as a user turn in one left-padded batch.

    Seeding per batch makes a resumed run produce exactly what an uninterrupted one would.
    Returns, per prompt, the text, the number of new tokens and whether it stopped by itself
    (False means it hit `max_new_tokens`, so its last entry is cut off). `on_step(running)`
    is called after every decoding step with the number of answers not finished yet.
    With `list_lengths` (the n each prompt asks for) and `sampling.stop_at_list_end`, an
    answer stops once its entry n+1 starts, and is cut just before it (`list_done`).
    """
    import torch
    from transformers import StoppingCriteriaList

    torch.manual_seed(seed)
    texts = chat_prompts(tokenizer, prompts, system)
    multiple = COMPILE_LENGTH_MULTIPLE if _compiled(model) else None
    enc = tokenizer(
        texts, return_tensors="pt", padding=True, add_special_tokens=False,
        pad_to_multiple_of=multiple,
    )  # fmt: skip
    enc = enc.to(next(model.parameters()).device)
    # transformers compiles by itself on a GPU with a static cache, recompiling for every new
    # batch shape; only `compile_decoding` (long runs) turns compiling on, on any device.
    extra = {"disable_compile": not _compiled(model)}
    lengths = list_lengths if sampling.stop_at_list_end else None
    criterion = _Progress(tokenizer, enc.input_ids.shape[1], on_step, lengths)
    if on_step is not None or lengths:
        extra["stopping_criteria"] = StoppingCriteriaList([criterion])
    with torch.no_grad():
        out = model.generate(
            **enc,
            **sampling.generate_kwargs(static_cache=not _prompt_learning(model)),
            pad_token_id=tokenizer.pad_token_id,
            eos_token_id=tokenizer.eos_token_id,
            **extra,
        )
    results = []
    for index, row in enumerate(out[:, enc.input_ids.shape[1] :].cpu()):
        if index in criterion.done_at:
            n_tokens = criterion.done_at[index]
            text = tokenizer.decode(row[:n_tokens], skip_special_tokens=True)
            text = text[: list_end(text, criterion.lengths[index])]
            results.append({"text": text, "new_tokens": n_tokens, "stopped": True,
                            "list_done": True})  # fmt: skip
            continue
        is_eos = row == tokenizer.eos_token_id
        stopped = bool(is_eos.any())
        n_tokens = (
            int(is_eos.int().argmax()) + 1
            if stopped
            else int((row != tokenizer.pad_token_id).sum())
        )
        results.append(
            {
                "text": tokenizer.decode(row, skip_special_tokens=True),
                "new_tokens": n_tokens,
                "stopped": stopped,
            }
        )
    return results


def generate_chat(
    model,
    tokenizer,
    prompts: list[str],
    sampling: Sampling,
    batch_size: int = DEFAULT_BATCH_SIZE,
    system: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> list[dict]:
    """Answer many prompts, `batch_size` at a time (see `generate_batch`); `progress(n)` is
    called after each batch with the number of prompts it answered."""
    results = []
    for start in range(0, len(prompts), batch_size):
        batch = prompts[start : start + batch_size]
        results += generate_batch(model, tokenizer, batch, sampling, sampling.seed + start, system)
        if progress:
            progress(len(batch))
    return results


def make_generator(model_dir: Path, adapter_dir: Path | None, precision=None, compile_step=False):
    """Load a model once; return `answer(prompts, sampling, seed, on_step=None,
    list_lengths=None) -> list[dict]` (as `generate_batch`); `compile_step`: see
    `compile_decoding`."""
    model, tokenizer = load_model(model_dir, adapter_dir, precision)
    if compile_step:
        compile_decoding(model)
    return lambda prompts, sampling, seed, on_step=None, list_lengths=None: generate_batch(
        model, tokenizer, prompts, sampling, seed, on_step=on_step, list_lengths=list_lengths
    )
