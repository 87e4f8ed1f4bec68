"""Local toxicity classifiers behind one seam: `load_toxicity_scorer(path)(texts) -> P(unsafe)`.

The paper judged safety with hosted moderation APIs; here any classifier that runs offline will
do. Built in: a Hugging Face sequence-classification folder. Other formats (such as the
classifier `synthpack eval mlp` saves) plug in with `register_toxicity_loader`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from synthpack.common.errors import SynthpackError

UNSAFE_THRESHOLD = 0.5
# Label names read as "unsafe" when a classifier has several classes, in order of preference.
UNSAFE_LABELS = ("toxic", "toxicity", "unsafe", "hate", "harmful", "offensive", "label_1", "1")


@dataclass
class ToxicityScorer:
    """A named callable from texts to probabilities of the unsafe class."""

    name: str
    score: Callable[[Sequence[str]], list[float]]

    def __call__(self, texts: Sequence[str]) -> list[float]:
        return self.score(list(texts))


# (description, accepts(folder) -> bool, load(folder, unsafe_label) -> ToxicityScorer)
_LOADERS: list[tuple[str, Callable[[Path], bool], Callable[..., ToxicityScorer]]] = []


def register_toxicity_loader(description: str, accepts, load) -> None:
    """Teach `load_toxicity_scorer` another classifier format (tried before the built-in ones)."""
    _LOADERS.insert(0, (description, accepts, load))


def toxicity_loader(path: Path) -> Callable[..., ToxicityScorer]:
    """The loader that recognises the classifier folder (cheap: nothing is loaded yet)."""
    path = Path(path)
    if not path.is_dir():
        raise SynthpackError(f"{path}: toxicity classifier folder not found")
    for _, accepts, load in _LOADERS:
        if accepts(path):
            return load
    known = "; ".join(description for description, _, _ in _LOADERS)
    raise SynthpackError(f"{path}: not a toxicity classifier synthpack can read. Known: {known}")


def load_toxicity_scorer(path: Path, unsafe_label: str | None = None) -> ToxicityScorer:
    """Open a classifier folder with the first loader that recognises it."""
    return toxicity_loader(path)(Path(path), unsafe_label)


def _is_hf_classifier(path: Path) -> bool:
    try:
        config = json.loads((path / "config.json").read_text())
    except (OSError, ValueError):
        return False
    return any(a.endswith("ForSequenceClassification") for a in config.get("architectures", []))


def unsafe_index(id2label: dict, unsafe_label: str | None) -> int:
    """Which output is the unsafe class: the named one, a known name, or class 1 of two."""
    labels = {int(i): str(name) for i, name in id2label.items()}
    by_name = {name.casefold(): i for i, name in labels.items()}
    if unsafe_label is not None:
        if unsafe_label.casefold() not in by_name:
            raise SynthpackError(
                f"Unknown label {unsafe_label!r}. Available: {', '.join(labels.values())}"
            )
        return by_name[unsafe_label.casefold()]
    for name in UNSAFE_LABELS:
        if name in by_name:
            return by_name[name]
    if len(labels) == 2:
        return 1
    raise SynthpackError(
        f"cannot tell which class is unsafe among {', '.join(labels.values())}; pass --unsafe-label"
    )


def _load_hf_classifier(path: Path, unsafe_label: str | None, batch_size: int = 32):
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForSequenceClassification.from_pretrained(path).eval()
    config = model.config
    multi_label = config.problem_type == "multi_label_classification" or config.num_labels == 1
    index = 0 if config.num_labels == 1 else unsafe_index(config.id2label, unsafe_label)

    def score(texts: list[str]) -> list[float]:
        probs = []
        for start in range(0, len(texts), batch_size):
            enc = tokenizer(
                texts[start : start + batch_size],
                padding=True,
                truncation=True,
                max_length=256,
                return_tensors="pt",
            )
            with torch.no_grad():
                logits = model(**enc).logits.float()
            p = torch.sigmoid(logits) if multi_label else torch.softmax(logits, dim=-1)
            probs.extend(p[:, index].tolist())
        return probs

    return ToxicityScorer(name=f"{path.name} (HF, class {config.id2label.get(index)})", score=score)


def _is_synthpack_classifier(path: Path) -> bool:
    return (path / "classifier.json").is_file() and (path / "weights.npz").is_file()


def _load_synthpack_classifier(path: Path, unsafe_label: str | None):
    """The MLP `synthpack eval mlp` saves (classifier.json + weights.npz; P(harmful))."""
    from synthpack.models.classifier.mlp import TextClassifier

    model = TextClassifier.load(path)
    return ToxicityScorer(
        name=f"{path.name} (synthpack MLP)",
        score=lambda texts: [float(p) for p in model.score(texts)],
    )


register_toxicity_loader(
    "a classifier saved by `synthpack eval mlp` (classifier.json + weights.npz)",
    _is_synthpack_classifier,
    _load_synthpack_classifier,
)
register_toxicity_loader(
    "a Hugging Face sequence-classification folder (config.json, *ForSequenceClassification)",
    _is_hf_classifier,
    _load_hf_classifier,
)
