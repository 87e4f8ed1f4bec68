"""Prefix-tuning (SR_LLM's alternative to QLoRA) from a LLaMA-Factory-style YAML.

LLaMA-Factory 0.9.5 has no prefix-tuning (its finetuning_type is lora, oft, freeze or full),
so this module trains PEFT's prefix-tuning with the Hugging Face Trainer. What it shares with
LLaMA-Factory it takes from LLaMA-Factory: the keys are parsed by LLaMA-Factory's own argument
classes (a key means the same in both), and the data goes through its dataset_info loader and
chat templates (`llamafactory.data.get_dataset`), so `template: llama3` yields the very tokens
`llamafactory-cli train` would train on, with the prompt masked out of the loss the same way.

Keys of synthpack's own, under `### prefix` in the YAML: `num_virtual_tokens` (prefix length),
`prefix_projection`, `encoder_hidden_size`, `prefix_dropout`, and `early_stopping_steps` (the
LLaMA-Factory key of the same meaning).
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field
from pathlib import Path

from synthpack.common.errors import SynthpackError
from synthpack.common.problems import Problems, located
from synthpack.models.precision import as_precision
from synthpack.train.launch import trainer_precision_keys
from synthpack.train.lf_config import init_fields, llamafactory_train_keys, load_config

# The model keys the prefix trainer honours (LLaMA-Factory's ModelArguments has many more:
# quantization, adapters, RoPE scaling... which this trainer does not implement).
MODEL_KEYS = (
    "model_name_or_path",
    "cache_dir",
    "model_revision",
    "hf_hub_token",
    "trust_remote_code",
    "use_fast_tokenizer",
    "split_special_tokens",
)
# LLaMA-Factory data keys that need its own collators or trainers.
UNSUPPORTED_DATA_KEYS = ("packing", "neat_packing")
SETTINGS_FILE = "synthpack_prefix.json"


@dataclass
class PrefixArguments:
    """synthpack's keys for prefix-tuning, plus `stage`/`finetuning_type` to say what runs."""

    stage: str = field(default="sft", metadata={"help": "Only sft (supervised) is supported."})
    finetuning_type: str = field(
        default="prefix", metadata={"help": "Must be `prefix`: what this trainer does."}
    )
    num_virtual_tokens: int = field(default=30, metadata={"help": "Prefix length."})
    prefix_projection: bool = field(
        default=False,
        metadata={"help": "Reparametrise the prefix through an MLP (false: train it directly)."},
    )
    encoder_hidden_size: int | None = field(
        default=None, metadata={"help": "Hidden size of that MLP (default: the model's)."}
    )
    prefix_dropout: float = field(
        default=0.1, metadata={"help": "Dropout on the prefix keys and values while training."}
    )
    early_stopping_steps: int | None = field(
        default=None,
        metadata={"help": "Evaluations without improvement before stopping (LLaMA-Factory key)."},
    )


def prefix_keys() -> dict[str, set[str]]:
    """The keys a prefix-tuning YAML may hold, by origin (used by `synthpack check` too)."""
    from llamafactory.hparams import DataArguments
    from transformers import Seq2SeqTrainingArguments

    return {
        "model": set(MODEL_KEYS),
        "data": init_fields(DataArguments) - set(UNSUPPORTED_DATA_KEYS),
        # The Hugging Face Trainer's own keys; LLaMA-Factory adds overwrite_output_dir.
        "train": init_fields(Seq2SeqTrainingArguments) | {"overwrite_output_dir"},
        "prefix": init_fields(PrefixArguments),
    }


def unsupported_prefix_keys(config: dict) -> list[tuple[str, str]]:
    """(key, reason) for every key the prefix trainer cannot honour; empty when all is well."""
    allowed = set().union(*prefix_keys().values())
    lf_keys = llamafactory_train_keys()
    problems = []
    for key in config:
        if key in allowed:
            continue
        if key in lf_keys:
            problems.append((key, "a LLaMA-Factory key that prefix-tuning does not use"))
        else:
            close = difflib.get_close_matches(key, sorted(allowed), n=3, cutoff=0.75)
            hint = f" Did you mean: {', '.join(close)}?" if close else ""
            problems.append((key, f"unknown key.{hint}"))
    return problems


@dataclass
class PrefixSettings:
    model_args: object
    data_args: object
    training_args: object
    prefix_args: PrefixArguments


def parse_prefix_config(config: dict, source: str = "config") -> PrefixSettings:
    """Parse a prefix-tuning config with LLaMA-Factory's argument classes; report all problems."""
    from llamafactory.hparams import DataArguments, ModelArguments
    from llamafactory.hparams.training_args import TrainingArguments
    from transformers import HfArgumentParser

    problems = Problems(source, noun="problem(s)")
    for key, reason in unsupported_prefix_keys(config):
        problems.add(reason, field=key)
    finetuning_type = config.get("finetuning_type", "prefix")
    if finetuning_type != "prefix":
        problems.add(
            f"is {finetuning_type!r}; `synthpack train prefix` trains `prefix` (use "
            "llamafactory-cli train for lora, oft, freeze and full)",
            field="finetuning_type",
        )
    if config.get("stage", "sft") != "sft":
        problems.add(f"is {config.get('stage')!r}; only sft is supported", field="stage")
    if not config.get("do_train", False):
        problems.add("must be true (this command trains)", field="do_train")
    problems.raise_if_any()
    parser = HfArgumentParser((ModelArguments, DataArguments, TrainingArguments, PrefixArguments))
    try:
        model_args, data_args, training_args, prefix_args = parser.parse_dict(config)
    except (ValueError, TypeError, AssertionError) as exc:
        raise SynthpackError(f"{source}: {exc}") from exc
    if prefix_args.num_virtual_tokens < 1:
        raise SynthpackError(located(source, "must be at least 1", field="num_virtual_tokens"))
    if not 0 <= prefix_args.prefix_dropout < 1:
        raise SynthpackError(located(source, "must be in [0, 1)", field="prefix_dropout"))
    if data_args.dataset is None:
        raise SynthpackError(located(source, "missing (the training set)", field="dataset"))
    return PrefixSettings(model_args, data_args, training_args, prefix_args)


def _text_columns(dataset):
    """Keep the token columns; LLaMA-Factory's empty image/video/audio columns do not collate."""
    if dataset is None:
        return None
    if isinstance(dataset, dict):  # eval_on_each_dataset: one set per name
        return {name: _text_columns(part) for name, part in dataset.items()}
    keep = ("input_ids", "attention_mask", "labels")
    return dataset.remove_columns([c for c in dataset.column_names if c not in keep])


def _compute_dtype(training_args):
    import torch

    if training_args.bf16:
        return torch.bfloat16
    if training_args.fp16:
        return torch.float16
    return torch.float32


def _add_prefix_dropout(peft_model, p: float) -> None:
    """Dropout on the prefix encoder's output (the keys and values), as in Li & Liang's code.

    PEFT has no dropout for prefix-tuning; a forward hook adds it only while training (in
    inference mode PEFT reads the prefix table directly and the hook does not run).
    """
    if p <= 0:
        return
    import torch.nn.functional as F

    for encoder in peft_model.prompt_encoder.values():
        encoder.register_forward_hook(
            lambda module, _inputs, output: F.dropout(output, p=p, training=module.training)
        )


def load_prefix_data(settings: PrefixSettings):
    """Tokenizer and train / eval sets, through LLaMA-Factory's own loader and template."""
    from llamafactory.data import get_dataset, get_template_and_fix_tokenizer
    from llamafactory.model import load_tokenizer

    tokenizer = load_tokenizer(settings.model_args)["tokenizer"]
    template = get_template_and_fix_tokenizer(tokenizer, settings.data_args)
    tokenizer.padding_side = "right"  # training batches; generation pads on the left
    datasets = get_dataset(
        template, settings.model_args, settings.data_args, settings.training_args, "sft", tokenizer
    )
    train_set, eval_set = (
        _text_columns(datasets.get(key)) for key in ("train_dataset", "eval_dataset")
    )
    return tokenizer, train_set, eval_set


def load_prefix_model(settings: PrefixSettings, tokenizer):
    """The base model wrapped in a fresh PEFT prefix (with the training-time dropout hook)."""
    from peft import PrefixTuningConfig, TaskType, get_peft_model
    from transformers import AutoModelForCausalLM

    model_args, prefix_args = settings.model_args, settings.prefix_args
    model = AutoModelForCausalLM.from_pretrained(
        model_args.model_name_or_path,
        dtype=_compute_dtype(settings.training_args),
        trust_remote_code=model_args.trust_remote_code,
        cache_dir=model_args.cache_dir,
        revision=model_args.model_revision,
        token=model_args.hf_hub_token,
    )
    vocab = model.get_input_embeddings().num_embeddings
    if len(tokenizer) > vocab:
        raise SynthpackError(
            f"template {settings.data_args.template!r} added tokens the model lacks "
            f"({len(tokenizer)} > {vocab} embeddings); pick the model's own template "
            "(prefix-tuning cannot train new embeddings)"
        )
    peft_config = PrefixTuningConfig(
        task_type=TaskType.CAUSAL_LM,
        num_virtual_tokens=prefix_args.num_virtual_tokens,
        prefix_projection=prefix_args.prefix_projection,
        encoder_hidden_size=prefix_args.encoder_hidden_size or model.config.hidden_size,
    )
    model = get_peft_model(model, peft_config)
    _add_prefix_dropout(model, prefix_args.prefix_dropout)
    return model


def with_precision(config: dict, precision: str | None) -> dict:
    """`config` with the number format to train in: a YAML that sets `bf16` or `fp16` keeps it
    unless `precision` is given; otherwise `resolve_precision` decides."""
    if precision is None and ("bf16" in config or "fp16" in config):
        return config
    return {**config, **trainer_precision_keys(as_precision(precision))}


def train_prefix(
    config_path: Path, overrides: list[str] | tuple[str, ...] = (), precision: str | None = None
) -> dict:
    """Train prefix-tuning as the YAML says; save the PEFT adapter and return a summary."""
    from llamafactory.extras.constants import IGNORE_INDEX
    from transformers import DataCollatorForSeq2Seq, EarlyStoppingCallback, Trainer, set_seed

    config = with_precision(load_config(config_path, overrides), precision)
    settings = parse_prefix_config(config, source=str(config_path))
    tokenizer, train_set, eval_set = load_prefix_data(settings)
    # PEFT draws the prefix table when the model is built, before the Trainer seeds anything:
    # seed first, so the YAML's `seed` decides the initialisation too.
    set_seed(settings.training_args.seed)
    model = load_prefix_model(settings, tokenizer)
    trainable, total = model.get_nb_trainable_parameters()

    training_args, prefix_args = settings.training_args, settings.prefix_args
    training_args.label_names = ["labels"]  # PeftModel's forward hides the argument names
    training_args.remove_unused_columns = False
    callbacks = []
    if prefix_args.early_stopping_steps is not None:
        callbacks.append(
            EarlyStoppingCallback(early_stopping_patience=prefix_args.early_stopping_steps)
        )
    trainer = Trainer(
        model=model,
        args=training_args,
        train_dataset=train_set,
        eval_dataset=eval_set,
        data_collator=DataCollatorForSeq2Seq(
            tokenizer, padding=True, label_pad_token_id=IGNORE_INDEX
        ),
        processing_class=tokenizer,
        callbacks=callbacks,
    )
    result = trainer.train(resume_from_checkpoint=training_args.resume_from_checkpoint)
    trainer.save_model()  # the PEFT adapter (and the tokenizer) into output_dir
    trainer.log_metrics("train", result.metrics)
    trainer.save_metrics("train", result.metrics)
    trainer.save_state()
    out = Path(training_args.output_dir)
    summary = {
        "output_dir": str(out),
        "base_model": str(settings.model_args.model_name_or_path),
        "template": settings.data_args.template,
        "num_virtual_tokens": prefix_args.num_virtual_tokens,
        "prefix_dropout": prefix_args.prefix_dropout,
        "trainable_parameters": trainable,
        "total_parameters": total,
        "global_step": trainer.state.global_step,
        "train_loss": result.training_loss,
        "best_metric": trainer.state.best_metric,
    }
    if training_args.should_save:
        (out / SETTINGS_FILE).write_text(json.dumps(summary, indent=2) + "\n")
    return summary
