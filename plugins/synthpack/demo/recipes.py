"""Demo recipes: the sizes and settings of a demo run, as YAML files in the pack's recipes/.

A recipe file holds `Recipe`'s fields (a header comment says what it is for, the hardware it
was timed on, and the command), or `base: NAME` plus the fields it changes. `synthpack demo
--recipe NAME|FILE key=value ...` loads one and overrides single fields; `synthpack recipes`
lists them.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass
from pathlib import Path

from synthpack.common.errors import SynthpackError
from synthpack.common.pack_yaml import find_yaml, header_line, names_in, read_mapping
from synthpack.common.paths import pack_dir
from synthpack.common.problems import Problems, shown, unknown_name
from synthpack.models.embedded import MODELS
from synthpack.prompts.conditions import check_axis_names
from synthpack.train.launch import CHECKPOINTING
from synthpack.train.lf_config import parse_override

DEFAULT_RECIPE = "default"
SEED_SOURCES = ("demonstrations", "real_train")
PIPELINES = ("synthesis", "debias")
CATEGORY = "hate"  # the demo's harm category: the one the shipped ToxiGen subset labels


class Overridable:
    """What every recipe kind can do: take `key=value` overrides."""

    def with_overrides(self, overrides: list[str] | tuple[str, ...]):
        """The recipe with `key=value` overrides (values read as YAML: 36, 1e-3, null)."""
        return _build(dataclasses.asdict(self), dict(parse_override(o) for o in overrides), "")


@dataclass(frozen=True)
class Recipe(Overridable):
    """How much work each step of a demo does, and with which settings."""

    prompts_per_polarity: int
    n_entries: int  # entries each prompt asks for
    shots: int  # few-shot examples in each prompt
    sft_per_class: int  # SFT records per polarity
    train_steps: int
    learning_rate: float
    cutoff_len: int
    max_new_tokens: int
    temperature: float
    top_p: float
    real_train: int  # real labelled texts for the classifier (ToxiGen annotated)
    real_eval: int
    stereoset_examples: int  # intrasentence examples, evenly spaced over the dev set
    seed: int = 0
    # The label check: P(harmful) cut of the checker trained on real_train only;
    # None = the checker's own decision threshold (F1-best on its validation split).
    label_check_threshold: float | None = None
    label_check_negative_threshold: float | None = None  # None: 0.5
    label_check_mode: str = "reject"
    # tfidf: the same features as the classifier it judges for; minilm: a second opinion
    label_check_features: str = "tfidf"
    version: str = "v1"  # the prompt template version (V1-V3, first paper's Table 2)
    # Few-shot examples and SFT answers: ToxiGen's demonstrations, or the classifier's own
    # real training texts (the paper's D_train)
    seeds: str = "demonstrations"
    generator: str = "smollm2"  # the embedded model that is tuned and generates
    pipeline: str = "synthesis"
    stop_at_list_end: bool = False  # stop each answer once entry n_entries + 1 starts
    # Activation checkpointing in training: none, selective (less memory for a little time)
    # or full (the least memory, the most time); train/lean_checkpoint.py
    checkpointing: str = "none"
    # What each prompt is conditioned on: "" (nothing), or axes such as "group,tone,form"
    # (prompts/conditions.py); SFT records teach the group
    condition: str = ""

    @property
    def condition_axes(self) -> tuple[str, ...]:
        return tuple(a.strip() for a in self.condition.split(",") if a.strip())

    def __post_init__(self):
        if self.seeds not in SEED_SOURCES:
            raise unknown_name("seed source", self.seeds, SEED_SOURCES)
        if self.generator not in MODELS:
            raise unknown_name("generator", self.generator, list(MODELS))
        if self.pipeline not in PIPELINES:
            raise unknown_name("pipeline", self.pipeline, PIPELINES)
        if self.checkpointing not in CHECKPOINTING:
            raise unknown_name("checkpointing", self.checkpointing, CHECKPOINTING)
        check_axis_names(self.condition_axes)

    @property
    def synthetic_dataset(self) -> str:
        """The name the label-checked set is registered under."""
        return f"{CATEGORY}_{self.version}_synthetic"


@dataclass(frozen=True)
class DebiasRecipe(Overridable):
    """The debias demo: how much ParaDetox it tunes on and holds out, and the tuning."""

    train_sources: int  # toxic sentences (with their paraphrases) the rewriter is tuned on
    test_sources: int  # held-out toxic sentences both rewriters rewrite
    train_steps: int
    learning_rate: float
    batch_size: int  # LoRA SFT sequences per step
    cutoff_len: int
    max_new_tokens: int  # the longest rewrite
    rewrite_batch_size: int
    stereoset_examples: int
    crows_pairs_examples: int
    val_ratio: float = 0.05  # share of training sources the SFT step holds out for validation
    qlora: bool = False  # QLoRA: the base weights in 4-bit NF4 (bitsandbytes) while training
    system: str = "general"  # the SYS prompt (templates/debias/system_NAME.jinja2)
    seed: int = 0
    generator: str = "smollm2"  # the embedded model that is prompted, and tuned
    pipeline: str = "debias"

    def __post_init__(self):
        if self.generator not in MODELS:
            raise unknown_name("generator", self.generator, list(MODELS))
        if self.pipeline != "debias":
            raise unknown_name("pipeline", self.pipeline, ["debias"])


RECIPE_TYPES = {"synthesis": Recipe, "debias": DebiasRecipe}  # by the `pipeline` field


RECIPES = "recipes"  # the pack folder


def recipes_dir() -> Path:
    return pack_dir(RECIPES)


def list_recipes() -> list[str]:
    return names_in(RECIPES)


def describe(name: str) -> str:
    """A recipe's first header line: what it is for."""
    return header_line(find_yaml("recipe", RECIPES, name))


def _read(path: Path, seen: tuple[str, ...] = ()) -> dict:
    """A recipe file's fields, with its `base` recipe's fields under them."""
    fields = read_mapping(path, "recipe")
    base = fields.pop("base", None)
    if base is None:
        return fields
    if base in seen:
        raise SynthpackError(f"{path}: base: {base} includes itself")
    return {**_read(find_yaml("recipe", RECIPES, base), (*seen, base)), **fields}


def _build(fields: dict, overrides: dict, source: str) -> Recipe | DebiasRecipe:
    pipeline = overrides.get("pipeline", fields.get("pipeline", "synthesis"))
    if pipeline not in RECIPE_TYPES:
        raise SynthpackError(
            f"{source or 'recipe'}: " + unknown_name("pipeline", pipeline, PIPELINES).message
        )
    kind = RECIPE_TYPES[pipeline]
    names = [f.name for f in dataclasses.fields(kind)]
    for given, where in ((fields, f"{source}: " if source else ""), (overrides, "")):
        unknown = sorted(set(given) - set(names))
        if unknown:
            raise SynthpackError(where + unknown_name("recipe field", unknown[0], names).message)
    missing = [f.name for f in dataclasses.fields(kind) if f.default is dataclasses.MISSING]
    missing = [name for name in missing if name not in fields and name not in overrides]
    if missing:
        raise SynthpackError(f"{source or 'recipe'}: missing field(s): {', '.join(missing)}")
    fields, overrides = _typed(kind, fields, source or "recipe"), _typed(kind, overrides, "")
    try:
        return kind(**{**fields, **overrides})
    except TypeError as exc:
        raise SynthpackError(f"{source or 'recipe'}: {exc}") from exc


def _typed(kind: type, values: dict, source: str) -> dict:
    """`values` checked against the recipe's field types, every problem at once, before any
    step runs: a wrong type would otherwise surface minutes later, inside a step. A number
    YAML reads as text (`1e-3`, which YAML 1.1 does not take for a float) becomes the float."""
    hints = typing.get_type_hints(kind)
    problems = Problems(source or "command line", noun="bad recipe value(s)")
    typed = {}
    for name, value in values.items():
        try:
            typed[name] = _coerce(value, hints[name])
        except ValueError as exc:
            problems.add(str(exc), field=name)
    problems.raise_if_any()
    return typed


def _coerce(value, hint):
    """`value` as the field type `hint` (int, float, str, bool, or a union with None) takes it;
    ValueError saying what was expected."""
    kinds = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    if value is None and type(None) in kinds:
        return None
    for kind in kinds:
        if kind is bool and isinstance(value, bool):
            return value
        if isinstance(value, bool):  # True is an int to Python, not to a recipe
            continue
        if kind is int and isinstance(value, int):
            return value
        if kind is float and isinstance(value, (int, float)):
            return float(value)
        if kind is float and isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                continue
        if kind is str and isinstance(value, str):
            return value
    names = {int: "a whole number", float: "a number", str: "a text", bool: "true or false"}
    wanted = " or ".join(names.get(k, "null") for k in kinds)
    raise ValueError(f"expected {wanted}, got {shown(value)}")


def load_recipe(name_or_file: str | Path = DEFAULT_RECIPE, overrides=()) -> Recipe | DebiasRecipe:
    """A shipped recipe by name, or a recipe file, with `key=value` overrides."""
    path = find_yaml("recipe", RECIPES, name_or_file)
    return _build(_read(path), dict(parse_override(o) for o in overrides), str(path))


def recipe_command(recipe: Recipe | DebiasRecipe) -> list[str]:
    """`--recipe NAME key=value ...`: the closest shipped recipe of the same pipeline and the
    fields that differ."""
    candidates = []
    for name in list_recipes():
        shipped = load_recipe(name)
        if shipped.pipeline != recipe.pipeline:
            continue
        shipped = dataclasses.asdict(shipped)
        changed = {k: v for k, v in dataclasses.asdict(recipe).items() if shipped[k] != v}
        candidates.append((len(changed), name != DEFAULT_RECIPE, name, changed))
    _, _, name, changed = min(candidates)
    argv = [] if name == DEFAULT_RECIPE else ["--recipe", name]
    return argv + [f"{k}={'null' if v is None else v}" for k, v in changed.items()]
