"""`synthpack eval mlp`: does synthetic data help the downstream classifier?

Trains the same MLP on the real training data (the baseline run `real`), on real + each
synthetic set (`real+NAME`) and on each synthetic set alone (`NAME`), scores all of them on the
evaluation set and on every extra one (another domain: texts from another source, labelled
another way), and writes report.json, a terminal table, f1.png and the saved classifiers.
Every run takes its epoch count and decision threshold from the same folds of the real data
(`TextClassifier.fit_with_folds`), so a run differs from `real` only in what it trains on.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from synthpack.common.errors import SynthpackError
from synthpack.common.files import atomic_write_json, atomic_write_text
from synthpack.common.metrics import (
    binary_metrics,
    bootstrap_intervals,
    mcnemar,
    paired_bootstrap,
)
from synthpack.common.plots import figure, save_png
from synthpack.common.problems import Problems
from synthpack.common.step import Context, StepSettings
from synthpack.common.tables import format_table
from synthpack.common.text import text_key
from synthpack.formats.texts import Labelled, drop_overlap, read_labelled
from synthpack.models.classifier.mlp import MLPConfig, TextClassifier
from synthpack.models.embeddings import EmbeddingStore

BASELINE = "real"
LATENCY_BOUND_MS = 10.0  # the first paper's requirement for one moderation decision
SIGNIFICANCE = 0.05  # one-sided, on the paired bootstraps of F1 and of AUROC
VERDICTS = ("significant gain", "no significant change", "significant loss")
EVAL_NAME = "eval"  # the section name of the --eval set when the settings give none
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def parse_named(
    specs: list[str], option: str, taken: tuple[str, ...] = ()
) -> list[tuple[str, Path]]:
    """`NAME=FILE` option values -> (name, path), every bad one reported at once; a name may
    not repeat or be one of `taken`."""
    out: list[tuple[str, Path]] = []
    problems = Problems(option, noun="bad option value(s)")
    for spec in specs:
        name, eq, path = spec.partition("=")
        if not eq or not name or not path:
            problems.add("expected NAME=FILE", field=repr(spec))
        elif not _NAME_RE.match(name):
            problems.add("name may hold only letters, digits, _ . -", field=repr(spec))
        elif name in taken or name in {n for n, _ in out}:
            problems.add(f"name {name!r} is already used", field=repr(spec))
        else:
            out.append((name, Path(path)))
    problems.raise_if_any()
    return out


def parse_synthetic(specs: list[str]) -> list[tuple[str, Path]]:
    """`--synthetic NAME=FILE` values; names become run names and folder names."""
    return parse_named(specs, "--synthetic", (BASELINE,))


def parse_extra_eval(specs: list[str], eval_name: str = EVAL_NAME) -> list[tuple[str, Path]]:
    """`--extra-eval NAME=FILE` values; names head the report's sections, one per domain."""
    return parse_named(specs, "--extra-eval", (eval_name,))


def measure_latency(clf: TextClassifier, texts: list[str], n_single: int = 1000) -> dict:
    """Single-text end-to-end latency (featurise + predict) and batched throughput.

    Wall-clock percentiles are what a caller sees; CPU-time percentiles show the cost of the
    work itself when other processes share the machine.
    """
    sample = [texts[i % len(texts)] for i in range(min(n_single, max(len(texts), 1)))]
    for text in sample[:20]:  # warm caches and lazy imports
        clf.score_one(text)
    wall, cpu = [], []
    for text in sample:
        t0, c0 = time.perf_counter(), time.process_time()
        clf.score_one(text)
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - t0)
    batch = list(texts)
    clf.score(batch)
    passes, started = 0, time.perf_counter()
    # At least a second: many passes of fast TF-IDF; one pass of MiniLM, which is ~100x slower.
    while passes < 1 or time.perf_counter() - started < 1.0:
        clf.score(batch)
        passes += 1
    elapsed = time.perf_counter() - started
    wall_ms, cpu_ms = np.array(wall) * 1e3, np.array(cpu) * 1e3
    return {
        "latency_ms": {
            "p50": float(np.percentile(wall_ms, 50)),
            "p99": float(np.percentile(wall_ms, 99)),
            "mean": float(wall_ms.mean()),
            "cpu_p50": float(np.percentile(cpu_ms, 50)),
            "cpu_p99": float(np.percentile(cpu_ms, 99)),
            "n": len(sample),
        },
        "throughput_per_s": passes * len(batch) / elapsed,
    }


@dataclass(frozen=True)
class MlpEvalSettings(StepSettings):
    """The classifier trained on `train` (real), on real + each `synthetic` set and on each set
    alone, scored on `eval` (named `eval_name` in the report) and on each `extra_eval` set;
    `synthetic` holds (run name, accepted.jsonl) pairs, `extra_eval` (name, labelled file)."""

    step = "eval_mlp"
    train: Path
    eval: Path
    synthetic: tuple[tuple[str, Path], ...] = ()
    features: str = "tfidf"
    config: MLPConfig = field(default_factory=MLPConfig)
    n_boot: int = 1000
    text_field: str = "text"
    label_field: str = "label"
    eval_name: str = EVAL_NAME
    extra_eval: tuple[tuple[str, Path], ...] = ()

    def reads(self) -> dict[str, Path | None]:
        extra = {f"eval:{name}": path for name, path in self.extra_eval}
        return {"train": self.train, "eval": self.eval, **dict(self.synthetic), **extra}

    def writes(self, folder: Path) -> dict[str, Path]:
        names = ("report.json", "table.txt", "f1.png", "models")
        return {name.split(".")[0]: Path(folder) / name for name in names}


def run_mlp_eval(settings: MlpEvalSettings, out: Path, context: Context = Context()) -> dict:
    """Run every comparison, write the outputs under `out`, return the report.

    With MiniLM features one `EmbeddingStore` serves every fold, run and evaluation set, so
    each distinct text is embedded once (the report counts them under `embeddings`).
    """
    s, echo = settings, context.echo
    config, features, n_boot = s.config, s.features, s.n_boot
    out = Path(out)
    started = time.perf_counter()
    domains = ((s.eval_name, s.eval), *s.extra_eval)
    real, evaluation, synth, data_info = load_data(
        s.train, domains, list(s.synthetic), config, s.text_field, s.label_field, echo
    )
    plan, skipped = plan_runs(real, synth, echo)
    store = EmbeddingStore() if features == "minilm" else None
    options = {"store": store} if store else None
    scores = {name: {} for name in evaluation}
    thresholds, fitted = {}, {}  # per run: its threshold; its training facts (clf.info)
    for number, (name, extra, with_real) in enumerate(plan, 1):
        n_train = len(extra) + (len(real) if with_real else 0)
        echo(f"[{number}/{len(plan)}] {name}: fitting on {n_train} texts ({features})")
        # Every run is tuned on the same real folds: synthetic rows only add training examples.
        clf = TextClassifier.fit_with_folds(
            real.texts, real.labels, extra.texts, extra.labels,
            train_on_pool=with_real, features=features, config=config,
            progress=lambda msg, n=name: echo(f"  {n}: {msg}"), feature_options=options,
        )  # fmt: skip
        clf.save(out / "models" / name)
        fitted[name], thresholds[name] = clf.info, clf.threshold
        for domain, data in evaluation.items():
            scores[domain][name] = clf.score(data.texts)
        for domain, data in evaluation.items():
            got = binary_metrics(np.asarray(data.labels), scores[domain][name], clf.threshold)
            echo(f"  {name} on {domain}: F1 {got['f1']:.3f}, AUROC {got['auroc']:.3f}")
        echo(f"  {name}: fitted in {clf.info['fit_s']:.1f} s")
    sections = {
        domain: score_domain(np.asarray(data.labels), scores[domain], thresholds, fitted, n_boot,
                             majority=int(np.mean(real.labels) >= 0.5))
        for domain, data in evaluation.items()
    }  # fmt: skip

    echo("measuring latency of the saved 'real' classifier ...")
    speed = measure_latency(
        TextClassifier.load(out / "models" / BASELINE), evaluation[s.eval_name].texts
    )
    report = {
        "command": "synthpack eval mlp",
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "features": features,
        "config": asdict(config),
        "bootstrap_resamples": n_boot,
        "significance_level": SIGNIFICANCE,
        "data": data_info,
        "eval_name": s.eval_name,
        **{k: sections[s.eval_name][k] for k in ("majority_baseline", "runs", "verdict")},
        "extra_eval": {name: sections[name] for name, _ in s.extra_eval},
        "skipped_runs": skipped,
        **speed,
        "latency_model": BASELINE,
        "latency_bound_ms": LATENCY_BOUND_MS,
        "meets_latency_bound": speed["latency_ms"]["p99"] <= LATENCY_BOUND_MS,
        "embeddings": store.counts() if store else None,
        "seconds": round(time.perf_counter() - started, 1),
    }
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / "report.json", report)
    table = format_report(report)
    atomic_write_text(out / "table.txt", table + "\n")
    plot_f1(report, out / "f1.png")
    echo(table)
    echo(f"wrote {out / 'report.json'}, {out / 'f1.png'}, models under {out / 'models'}")
    return report


def score_domain(
    y_eval, scores: dict, thresholds: dict, fitted: dict, n_boot: int, majority: int
) -> dict:
    """One evaluation set's part of the report: every run's metrics, each `real+NAME` and
    `NAME` run's paired comparison with `real`, the majority baseline and the verdict."""
    runs = [run_row(name, fitted[name], thresholds[name], y_eval, scores[name], n_boot)
            for name in fitted]  # fmt: skip
    for row in runs[1:]:
        row["vs_real"] = compare_to_baseline(y_eval, scores, thresholds, row["name"], n_boot)
    section = {
        "n": int(len(y_eval)),
        "n_harmful": int(np.sum(y_eval)),
        "majority_baseline": {
            "predicts": majority,
            **binary_metrics(y_eval, np.full(len(y_eval), float(majority))),
        },
        "runs": runs,
    }
    section["verdict"] = verdict_sentence(section)
    return section


def domains_of(report: dict) -> dict[str, dict]:
    """Every evaluation set's section of an `eval mlp` report, the --eval set first (a report
    from before extra sets existed has that one only, named `eval`)."""
    main = {key: report[key] for key in ("runs", "majority_baseline", "verdict") if key in report}
    main["n"] = report["data"]["eval"]["n"]
    return {report.get("eval_name", EVAL_NAME): main, **(report.get("extra_eval") or {})}


def load_data(
    train: Path,
    domains: tuple[tuple[str, Path], ...],
    synthetic: list[tuple[str, Path]],
    config: MLPConfig,
    text_field: str,
    label_field: str,
    echo: Callable[[str], None],
) -> tuple[Labelled, dict[str, Labelled], list[tuple[str, Labelled]], dict]:
    """Read every set and drop training rows that are in any evaluation set; returns
    (real, evaluation sets by name (the --eval set first), synthetic, description)."""

    def read(path: Path) -> Labelled:
        return read_labelled(path, text_field=text_field, label_field=label_field)

    evaluation = {name: read(path) for name, path in domains}
    for (_, path), data in zip(domains, evaluation.values(), strict=True):
        if not len(data):
            raise SynthpackError(f"{path}: the evaluation file holds no texts")
        if len(set(data.labels)) < 2:
            raise SynthpackError(
                f"{path}: the evaluation set needs both labels; all {len(data)} texts "
                f"have label {data.labels[0]}"
            )
    eval_keys = {text_key(t) for data in evaluation.values() for t in data.texts}
    main, *extra = evaluation.values()
    data_info = {"eval": _describe(main)}
    if extra:
        data_info["extra_eval"] = {name: _describe(evaluation[name]) for name, _ in domains[1:]}
    eval_path = domains[0][1] if not extra else ", ".join(str(p) for _, p in domains)
    real = read(train)
    n_read = len(real)
    real, dropped = drop_overlap(real, eval_keys)
    check_training(real, train, eval_path, n_read, dropped)
    data_info[BASELINE] = {**_describe(real), "dropped_eval_overlap": dropped}
    synth = []
    for name, path in synthetic:
        data, dropped = drop_overlap(read(path), eval_keys)
        if not len(data):  # a verdict on no data would read as "no significant change"
            why = f"all {dropped} texts are in the evaluation set" if dropped else "no texts"
            raise SynthpackError(f"{path}: synthetic set {name!r} has {why}; nothing to compare")
        data_info[name] = {**_describe(data), "dropped_eval_overlap": dropped}
        synth.append((name, data))
    shown = {**{f"eval {n}": _describe(d) for n, d in evaluation.items()}, **{
        k: v for k, v in data_info.items() if k not in ("eval", "extra_eval")}}  # fmt: skip
    for name, info in shown.items():
        extra_note = f", {info['dropped_eval_overlap']} dropped (in eval)" if info.get(
            "dropped_eval_overlap") else ""  # fmt: skip
        echo(f"{name}: {info['n']} texts, {info['n_harmful']} harmful{extra_note}")
    data_info["threshold_folds"] = {"folds": config.folds, "taken_from": BASELINE}
    echo(f"early stopping and thresholds: {config.folds}-fold cross-validation on {BASELINE}")
    return real, evaluation, synth, data_info


def check_training(real: Labelled, train: Path, eval_path, n_read: int, dropped: int):
    """Name the real cause when the training data cannot train a classifier."""
    if n_read == 0:
        raise SynthpackError(f"{train}: the training file holds no texts")
    if not len(real):
        raise SynthpackError(
            f"{train}: all {n_read} training texts are also in the evaluation set {eval_path} "
            "and were dropped (they would leak into the scores); train on other texts"
        )
    if len(set(real.labels)) < 2:
        after = f" after dropping {dropped} texts that are in {eval_path}" if dropped else ""
        raise SynthpackError(
            f"{train}: the training data needs both labels (harmful 1 and harmless 0); "
            f"all {len(real)} texts{after} have label {real.labels[0]}"
        )


def plan_runs(
    real: Labelled, synth: list[tuple[str, Labelled]], echo: Callable[[str], None]
) -> tuple[list[tuple[str, Labelled, bool]], list[dict]]:
    """`real`, then `real+NAME` and `NAME` per synthetic set, each as (name, its synthetic
    rows, whether the real data trains too); a one-class set trains no synthetic-only run
    (returned as skipped, with the reason)."""
    plan = [(BASELINE, Labelled(source="none"), True)]
    skipped: list[dict] = []
    for name, data in synth:
        plan.append((f"{BASELINE}+{name}", data, True))
        if len(set(data.labels)) == 2:
            plan.append((name, data, False))
        else:  # a classifier cannot learn from one class alone; the augmented run still can
            have = f"only label {data.labels[0]}"  # an empty set was refused by load_data
            skipped.append(
                {"name": name, "reason": f"synthetic-only run needs both labels: {have}"}
            )
            echo(f"{name}: synthetic-only run skipped ({have})")
    return plan, skipped


def run_row(name: str, info: dict, threshold: float, y_eval, scores, n_boot: int) -> dict:
    """One run's line of the report: its data (`info` of its classifier), its metrics on one
    evaluation set at its decision `threshold`, its model."""
    return {
        "name": name,
        "train_size": info["n_train"],
        "train_harmful": info["n_harmful"],
        **binary_metrics(y_eval, scores, threshold),
        "intervals": bootstrap_intervals(y_eval, scores, threshold, n_boot=n_boot),
        "threshold": threshold,
        "fit_s": info["fit_s"],
        "best_epoch": info["best_epoch"],
        "model": f"models/{name}",
    }


def compare_to_baseline(y_eval, scores: dict, thresholds: dict, name: str, n_boot: int) -> dict:
    """Paired bootstraps of F1 and of AUROC, and McNemar's test, of run `name` against `real`.

    AUROC does not depend on the decision threshold, so a gain in F1 that is only a shifted
    threshold shows up as an F1 gain without an AUROC gain.
    """
    boot, rank = (
        paired_bootstrap(
            y_eval, scores[BASELINE], scores[name], threshold=thresholds[BASELINE],
            threshold_other=thresholds[name], metric=metric, n_boot=n_boot,
        )
        for metric in ("f1", "auroc")
    )  # fmt: skip
    base_pred = scores[BASELINE] >= thresholds[BASELINE]
    return {
        "f1_delta": boot["delta"],
        "f1_delta_interval": boot["interval"],
        "p_better": boot["p_better"],
        "p_worse": boot["p_worse"],
        "significantly_better": boot["p_better"] < SIGNIFICANCE,
        "significantly_worse": boot["p_worse"] < SIGNIFICANCE,
        "auroc_delta": rank["delta"],
        "auroc_delta_interval": rank["interval"],
        "auroc_p_better": rank["p_better"],
        "auroc_p_worse": rank["p_worse"],
        "mcnemar": mcnemar(y_eval, base_pred, scores[name] >= thresholds[name]),
    }


def verdict_of(p_better: float, p_worse: float, alpha: float = SIGNIFICANCE) -> str:
    """One of VERDICTS from two one-sided p-values of the same paired test."""
    if p_better < alpha:
        return VERDICTS[0]
    if p_worse < alpha:
        return VERDICTS[2]
    return VERDICTS[1]


def verdict_sentence(report: dict, alpha: float = SIGNIFICANCE) -> str:
    """What the figures say about the synthetic data, in one sentence, from every
    `real+NAME` run's F1 and AUROC deltas and their one-sided p-values."""
    parts = []
    for row in report["runs"]:
        versus = row.get("vs_real")
        if not versus or not row["name"].startswith(BASELINE + "+"):
            continue
        f1 = verdict_of(versus["p_better"], versus["p_worse"], alpha)
        rank = verdict_of(versus["auroc_p_better"], versus["auroc_p_worse"], alpha)
        # A significant F1 change without one in AUROC ranks the texts no better or worse:
        # the scores moved against the decision threshold (common on a set from another
        # source, whose balance the threshold was not tuned for).
        shift = " (a threshold shift, not a change in ranking)" if (
            f1 != VERDICTS[1] and rank == VERDICTS[1]) else ""  # fmt: skip
        parts.append(
            f"{row['name']} shows {_with_p(f1, versus['f1_delta'], versus, '')} in F1 and "
            f"{_with_p(rank, versus['auroc_delta'], versus, 'auroc_')} in AUROC{shift}"
        )
    if not parts:
        return "No synthetic set was compared with the real data."
    return (
        f"Against real data alone (paired bootstrap, one-sided, alpha {alpha:g}): "
        + "; ".join(parts)
        + "."
    )


def _with_p(verdict: str, delta: float, versus: dict, prefix: str) -> str:
    """'a significant gain (+0.031, p = 0.012)': the p-value of the side that was tested."""
    key = "p_worse" if verdict == VERDICTS[2] else "p_better"
    article = "no" if verdict == VERDICTS[1] else "a"
    words = verdict.removeprefix("no ") if article == "no" else verdict
    return f"{article} {words} ({delta:+.3f}, p = {versus[prefix + key]:.3f})"


def _describe(data: Labelled) -> dict:
    return {
        "source": data.source,
        "n": len(data),
        "n_harmful": data.n_harmful,
        "notes": data.notes,
    }


def format_report(report: dict) -> str:
    """The comparison as tables, one per evaluation set with one row per run (the paper's
    Tables 3-5 and 7), each after its verdict; then the latency against the 10 ms bound."""
    header = (
        "run", "n train", "P", "R", "F1 [95% CI]", "Acc", "macro-F1", "AUROC [95% CI]",
        "dF1 vs real", "dAUROC vs real",
    )  # fmt: skip
    lines = []
    sections = domains_of(report)
    for domain, section in sections.items():
        rows = []
        for row in section["runs"]:
            lo, hi = row["intervals"]["f1"]
            a_lo, a_hi = row["intervals"]["auroc"]
            versus = row.get("vs_real")
            if versus:
                delta = _delta_cell(versus["f1_delta"], versus["p_better"], versus["p_worse"])
                rank = _delta_cell(
                    versus["auroc_delta"], versus["auroc_p_better"], versus["auroc_p_worse"]
                )
            else:
                delta = rank = "baseline"
            rows.append((
                row["name"], str(row["train_size"]), f"{row['precision']:.3f}",
                f"{row['recall']:.3f}", f"{row['f1']:.3f} [{lo:.3f}, {hi:.3f}]",
                f"{row['accuracy']:.3f}", f"{row['macro_f1']:.3f}",
                f"{row['auroc']:.3f} [{a_lo:.3f}, {a_hi:.3f}]", delta, rank,
            ))  # fmt: skip
        table = format_table(header, rows)
        majority = section["majority_baseline"]
        if len(sections) > 1:
            lines.append(f"== {domain} ({section['n']} texts, {report['features']} features) ==")
        lines += [
            section["verdict"],
            table,
            table.splitlines()[1],
            f"majority class ({majority['predicts']}): accuracy {majority['accuracy']:.3f}, "
            f"F1 {majority['f1']:.3f}",
        ]
    lat = report["latency_ms"]
    verdict = "meets" if report["meets_latency_bound"] else "MISSES"
    embedded = report.get("embeddings")
    if embedded:
        lines.append(
            f"MiniLM: {embedded['texts_embedded']} distinct texts embedded once, "
            f"{embedded['lookups_reused']} look-ups reused"
        )
    return "\n".join([
        *lines,
        f"latency per text ({report['latency_model']}, saved model, featurise + predict, "
        f"{report['features']}): p50 {lat['p50']:.3f} ms, p99 {lat['p99']:.3f} ms ({verdict} "
        f"the {report['latency_bound_ms']:g} ms bound); "
        f"batched {report['throughput_per_s']:,.0f} texts/s",
        "* significantly better than real, - significantly worse "
        f"(paired bootstraps of F1 and AUROC, one-sided p < {report['significance_level']})",
    ])  # fmt: skip


def _delta_cell(delta: float, p_better: float, p_worse: float) -> str:
    """`+0.031 (p=0.012) *`: the delta, the one-sided p of a gain, and the significance mark."""
    mark = {VERDICTS[0]: " *", VERDICTS[2]: " -"}.get(verdict_of(p_better, p_worse), "")
    return f"{delta:+.3f} (p={p_better:.3f}){mark}"


def plot_f1(report: dict, path: Path) -> Path:
    """Bar chart of F1 per run with its bootstrap interval; the baseline as a dashed line."""
    runs = report["runs"]
    names = [r["name"] for r in runs]
    f1 = np.array([r["f1"] for r in runs])
    lo = np.array([r["intervals"]["f1"][0] for r in runs])
    hi = np.array([r["intervals"]["f1"][1] for r in runs])
    colors = ["#4c72b0" if n == BASELINE else "#dd8452" if n.startswith(BASELINE + "+")
              else "#8c8c8c" for n in names]  # fmt: skip
    fig, ax = figure(max(4.0, 1.1 * len(runs) + 1.5), 3.6, dpi=120)
    ax.bar(names, f1, color=colors, yerr=[f1 - lo, hi - f1], capsize=4)
    ax.axhline(runs[0]["f1"], color="#4c72b0", linestyle="--", linewidth=1)
    ax.set_ylabel("F1 (harmful class)")
    ax.set_ylim(0, 1)
    ax.set_title(f"MLP ({report['features']}): F1, 95% bootstrap CI")
    ax.tick_params(axis="x", labelrotation=20)
    return save_png(fig, path)
