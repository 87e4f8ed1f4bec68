"""Step 5b, label check: a classifier trained on real labelled data only scores every
accepted entry; entries that contradict their prompt's polarity are rejected (or relabelled).

`run_label_check` is the one runner: `synthpack generate --label-check` runs it on the set it
just cleaned, the demo as its own step. The checker must never see the evaluation set (one
that has would let the evaluation leak into the synthetic data), so `train_checker` drops
every training text that is also in `exclude`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

from synthpack.clean.card import derive_card
from synthpack.clean.files import CleanedFiles
from synthpack.clean.label_check import LabelCheck, LabelChecker
from synthpack.clean.report import checked_report
from synthpack.clean.run import alpaca_records
from synthpack.common.errors import SynthpackError
from synthpack.common.files import (
    atomic_write_json,
    atomic_write_jsonl,
    atomic_write_rejects,
    private_dir,
    read_jsonl,
)
from synthpack.common.step import Context, StepSettings, check_outputs
from synthpack.common.text import text_key
from synthpack.formats.texts import read_labelled
from synthpack.generate.run import RAW
from synthpack.models.classifier.mlp import MLPConfig, TextClassifier
from synthpack.models.toxicity import load_toxicity_scorer, toxicity_loader

CLASSIFIER_FILES = ("classifier.json", "weights.npz")  # what `TextClassifier.save` writes


def train_checker(
    train: Path,
    out: Path,
    features: str = "tfidf",
    exclude: list[Path] = (),
    config: MLPConfig | None = None,
) -> dict:
    """Fit the `eval mlp` classifier on real data (minus `exclude`), save it in `out`; `out`
    is checked first (a folder, replacing no input), so a bad one costs no training."""
    from synthpack.formats.texts import drop_overlap

    inputs = {"train": train, **{f"exclude {n}": p for n, p in enumerate(exclude, 1)}}
    out = Path(out)
    check_outputs(inputs, {name: out / name for name in CLASSIFIER_FILES})
    data = read_labelled(train)
    keys = {text_key(t) for path in exclude for t in read_labelled(path).texts}
    data, dropped = drop_overlap(data, keys)
    labels = set(data.labels)
    if labels != {0, 1}:
        have = "no texts" if not labels else f"only label {labels.pop()}"
        raise SynthpackError(
            f"{train}: a label checker needs harmful (1) and harmless (0) texts; found {have}"
        )
    clf = TextClassifier.fit(data.texts, data.labels, features=features, config=config)
    clf.info["trained_on"] = str(train)
    clf.info["dropped_excluded"] = dropped
    clf.save(out)
    return {
        "model": str(out),
        "n_train": clf.info["n_train"],
        "n_harmful": clf.info["n_harmful"],
        "n_val": clf.info["n_val"],
        "dropped_excluded": dropped,
        "threshold": clf.threshold,
        "fit_s": clf.info["fit_s"],
    }


def checker_settings(path: Path, check: LabelCheck = LabelCheck()) -> LabelCheck:
    """Check a checker folder without loading its model, and return `check` with the cut it
    implies: what `synthpack generate --label-check` asks before minutes of generation.

    A synthpack classifier whose record says it saw one label only is refused: its scores
    would say nothing about the other class. Without a threshold in `check`, a synthpack
    classifier's own decision threshold (the F1-best on its real validation split) is the
    cut: "the checker calls it harmful" then means what its own predictions mean.
    """
    path = Path(path)
    if path.is_file():
        raise SynthpackError(
            f"{path}: --label-check wants a classifier folder (classifier.json + weights.npz "
            "from `synthpack eval mlp` / `eval train-checker`, or a Hugging Face folder), "
            "not a file"
        )
    meta = path / "classifier.json"
    if meta.is_file():
        saved = json.loads(meta.read_text(encoding="utf-8"))
        info = saved.get("info") or {}
        if check.threshold is None and saved.get("threshold") is not None:
            check = replace(check, threshold=float(saved["threshold"]))
        n_train, n_harmful = info.get("n_train"), info.get("n_harmful")
        if n_train is not None and n_harmful in (0, n_train):
            raise SynthpackError(
                f"{meta}: info.n_harmful: the checker was trained on one label only "
                f"({n_harmful} harmful of {n_train}); train it on both classes "
                "(synthpack eval train-checker)"
            )
    toxicity_loader(path)  # a folder no loader recognises is named now
    return check


def load_checker(path: Path, check: LabelCheck = LabelCheck()) -> LabelChecker:
    """A saved `eval mlp` classifier or any classifier `eval debias --toxicity` loads, with
    the cut `checker_settings` gives it."""
    check = checker_settings(path, check)
    scorer = load_toxicity_scorer(path)
    return LabelChecker(scorer.name, scorer, check)


@dataclass(frozen=True)
class LabelCheckSettings(StepSettings):
    """Check the cleaned set in `cleaned` (a clean step's folder, raw.jsonl beside it) with the
    classifier in `checker`, or with one trained first on `train` (minus `exclude`) into
    FOLDER/checker. The output folder may be `cleaned` itself: the set is then replaced by
    its checked version (what `synthpack generate --label-check` writes)."""

    step = "label_check"
    shares_files_with = ("clean",)
    cleaned: Path
    check: LabelCheck = LabelCheck()
    checker: Path | None = None
    train: Path | None = None
    exclude: tuple[Path, ...] = ()
    features: str = "tfidf"

    def __post_init__(self):
        if (self.checker is None) == (self.train is None):
            raise SynthpackError("a label check needs a checker folder or real data to train one")

    def reads(self) -> dict[str, Path | None]:
        files = CleanedFiles.of(self.cleaned)
        excluded = {f"exclude_{i}": p for i, p in enumerate(self.exclude)}
        return {"accepted": files.accepted, "report": files.report, "checker": self.checker,
                "train": self.train, **excluded}  # fmt: skip

    def writes(self, folder: Path) -> dict[str, Path]:
        trained = {"checker": Path(folder) / "checker"} if self.train else {}
        return {**CleanedFiles.of(folder).all(), **trained}

    def replaces(self, folder: Path) -> set[str]:
        """Checking in place (`generate --label-check`) replaces the cleaned set on purpose."""
        in_place = Path(folder).resolve() == Path(self.cleaned).resolve()
        return {"accepted", "report"} if in_place else set()


def run_label_check(
    settings: LabelCheckSettings, folder: Path, context: Context = Context()
) -> dict:
    """Score the accepted entries, write the checked set's files into FOLDER (rejected rows
    = the cleaning's + the disagreeing ones, so read = accepted + rejected still holds) and
    return its report."""
    s, source, out = settings, CleanedFiles.of(settings.cleaned), CleanedFiles.of(folder)
    trained = None
    checker_dir = s.checker
    if s.train is not None:
        checker_dir = Path(folder) / "checker"
        trained = train_checker(s.train, checker_dir, s.features, exclude=list(s.exclude))
    checker = load_checker(checker_dir, s.check)
    rows = read_jsonl(source.accepted)
    earlier_rejects = read_jsonl(source.rejected, allow_empty=True)
    cleaned_report = json.loads(source.report.read_text(encoding="utf-8"))
    generations = read_jsonl(Path(s.cleaned) / RAW)
    checked = checker.apply(rows)
    training = {"checker_training": trained} if trained else {}
    check = {"read": len(rows), "kept": len(checked.kept), **training, **checked.report}
    report = checked_report(cleaned_report, check, checked.kept)
    private_dir(Path(folder))
    atomic_write_jsonl(out.accepted, checked.kept)
    atomic_write_rejects(out.rejected, earlier_rejects + checked.rejected)
    atomic_write_json(out.alpaca, alpaca_records(generations, checked.kept))
    atomic_write_json(out.report, report)
    derive_card(Path(s.cleaned), Path(folder), report)
    return report
