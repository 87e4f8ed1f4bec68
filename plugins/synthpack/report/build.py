"""The last step, report: one self-contained HTML page and `summary.json` for a run folder.

Everything is read back from the step records and the files the steps wrote, so `synthpack
report RUN_DIR` rebuilds the page at any time (for example after re-running one step), for a
demo's folder or a folder of hand-run commands alike. The plots are PNG files under
RUN_DIR/report/ and are embedded in the page as data URIs, so the HTML can be mailed alone.

It never drops results (issue 26): a file a step's record says it wrote that is now missing or
unreadable is an error naming the file and the step, and a `summary.json` that holds results
the rebuilt one would lack is not replaced (unless forced). Both are checked before anything
is written.
"""

from __future__ import annotations

import base64
import json
import platform
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from synthpack.clean.report import SUCCESS_BAR
from synthpack.common.errors import SynthpackError
from synthpack.common.files import atomic_write_json, atomic_write_text
from synthpack.common.plots import figure, save_png
from synthpack.common.step import (
    RECORD_SUFFIX,
    Context,
    StepSettings,
    find_records,
    record_path,
)
from synthpack.common.tables import format_table
from synthpack.models.classifier.features import FEATURE_KINDS
from synthpack.models.precision import cpu_description

SUMMARY = "summary.json"
REPORT_HTML = "report.html"
PLOTS = "report"  # the PNGs, under the run folder
TEMPLATE = "run.html.jinja2"  # beside this module
PER_MODEL_STEPS = ("stereoset", "crows_pairs", "eval_debias")  # one folder per model


# The sections of summary.json that hold results, and (`_named`) the named parts inside them:
# what a rebuilt summary must keep (`lost_results`).
RESULT_SECTIONS = ("settings", "generation", "label_check", "classifier", "stereoset", "debias",
                   "verdict")  # fmt: skip


def _load_dict(path: Path, what: str) -> dict:
    """A JSON object from `path`; missing or unreadable is a SynthpackError naming the file,
    with `what` (whose file it is, and what to do) after it."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        problem = "missing"
    except OSError as exc:
        problem = f"unreadable ({exc.strerror or exc})"
    except UnicodeDecodeError as exc:
        problem = f"not UTF-8 text (byte {exc.start})"
    except json.JSONDecodeError as exc:
        problem = f"not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
    else:
        if isinstance(data, dict):
            return data
        problem = f"holds a JSON {type(data).__name__}, not an object"
    raise SynthpackError(f"{path}: {problem}; {what}")


def _run_settings(root: Path) -> dict | None:
    """The demo's settings.json of the run folder; None in a folder of hand-run commands."""
    path = root / "settings.json"
    if not path.exists():
        return None
    return _load_dict(path, f"the demo wrote it: rerun `synthpack demo --out {root}`")


def _written(found: tuple[Path, dict], role: str) -> Path | None:
    """The file a step's record lists under `role`, checked: None when the step did not write
    one; a SynthpackError naming the file and the step when it is missing now.

    It is looked for as recorded, then under the same name beside the record (a run folder
    that was moved, or a step run from another directory with a relative --out).
    """
    folder, record = found
    listed = (record.get("writes") or {}).get(role)
    if not listed:
        return None
    recorded, beside = Path(listed), Path(folder) / Path(listed).name
    for path in (recorded, beside):
        if path.exists():
            return path
    shown = recorded if recorded.is_absolute() else beside
    raise SynthpackError(f"{shown}: missing; {_rerun_hint(found)}")


def _rerun_hint(found: tuple[Path, dict]) -> str:
    folder, record = found
    step = record["step"]
    return (
        f"step '{step}' wrote it (record {record_path(folder, step)}) and the report needs it: "
        f"rerun step '{step}' into {folder}, then the report"
    )


def collect(run_dir: Path, found: list[tuple[Path, dict]] | None = None) -> dict:
    """Everything the report shows, as plain data (this is also `summary.json`).

    Read from the step records below `run_dir` (`common.step.find_records`): a demo's folder
    and a folder of hand-run commands read alike.
    """
    root = Path(run_dir)
    if not root.is_dir():
        raise SynthpackError(f"{run_dir}: no such run folder")
    found = _finished(root) if found is None else found
    latest = {r["step"]: (folder, r) for folder, r in found}  # the newest of each kind
    cleaned = _report_of(latest.get("clean"))
    mlp = _mlp_reports(found)
    label_check = (_report_of(latest.get("label_check")) or {}).get("label_check")
    stereoset = {
        folder.name: report["intrasentence"]
        for folder, r in found
        if r["step"] == "stereoset"
        and (report := _report_of((folder, r)))
        and "intrasentence" in report
    }
    debias = _debias_summary(found, latest)
    return {
        "run_dir": str(root.resolve()),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{cpu_description()}; {_cpu_count()} CPU cores, Python "
        f"{platform.python_version()}",
        "settings": _run_settings(root),
        "steps": [_step_row(folder, r) for folder, r in found],
        "total_seconds": round(sum(r["seconds"] for _, r in found), 1),
        "generation": cleaned and _generation_summary(cleaned),
        "label_check": label_check,
        "classifier": _classifier_summary(mlp) if mlp else None,
        "stereoset": stereoset or None,
        "debias": debias,
        "verdict": debias and debias["verdict"],
    }


def _debias_summary(found: list[tuple[Path, dict]], latest: dict) -> dict | None:
    """The debias run's judge, each rewriter's figures, their paired comparison, CrowS-Pairs,
    and the verdict: did tuning beat prompting alone, and did bias move?"""
    rewriters = {folder.name: _rewriter_summary(report) for folder, r in found
                 if r["step"] == "eval_debias" and (report := _report_of((folder, r)))}  # fmt: skip
    if not rewriters:
        return None
    judge = _report_of(latest.get("judge"))
    compare = _report_of(latest.get("debias_compare"))
    crows = {folder.name: (folder, _report_of((folder, r))) for folder, r in found
             if r["step"] == "crows_pairs"}  # fmt: skip
    stereoset = {folder.name: folder for folder, r in found if r["step"] == "stereoset"}
    for item in found:  # the per-example files the paired comparison reads back
        role = {"stereoset": "predictions", "crows_pairs": "scores"}.get(item[1]["step"])
        if role:
            _written(item, role)
    bias = bias_comparison(stereoset, {name: folder for name, (folder, _) in crows.items()})
    sentences = [compare["verdict"]] if compare else []
    if bias:
        sentences.append(bias["sentence"])
    return {
        "judge": judge and _judge_summary(judge),
        "rewriters": rewriters,
        "compare": compare,
        "crows_pairs": {name: _crows_summary(report) for name, (_, report) in crows.items()}
        or None,
        "bias": bias,
        "verdict": " ".join(sentences) or None,
    }


def bias_comparison(stereoset: dict[str, Path], crows: dict[str, Path]) -> dict | None:
    """Paired bootstraps of the tuned model against the base model on the same StereoSet
    examples and CrowS-Pairs pairs, and a sentence saying whether bias moved."""
    from synthpack.evaluate import crows_pairs
    from synthpack.evaluate import stereoset as stereoset_eval

    out, parts = {}, []
    if {"base", "tuned"} <= set(stereoset):
        out["stereoset"] = stereoset_eval.compare(
            *(stereoset_eval.run_outcomes(stereoset[name]) for name in ("base", "tuned"))
        )
        parts += [_moved("StereoSet SS", out["stereoset"]["ss"]),
                  _moved("ICAT", out["stereoset"]["icat"])]  # fmt: skip
    if {"base", "tuned"} <= set(crows):
        out["crows_pairs"] = crows_pairs.compare(
            *(crows_pairs.load_outcomes(crows[name] / "scores.jsonl") for name in ("base", "tuned"))
        )
        parts.append(_moved("CrowS-Pairs metric", out["crows_pairs"]["metric"]))
    if not parts:
        return None
    out["sentence"] = "Bias, tuned against base: " + "; ".join(parts) + "."
    return out


def _moved(name: str, paired: dict) -> str:
    """`SS rose (+1.2 points, 95% CI [+0.3, +2.1])`, or `did not clearly move` when the
    paired interval holds 0."""
    low, high = paired["interval"]
    span = f"{paired['delta']:+.1f} points, 95% CI [{low:+.1f}, {high:+.1f}]"
    if low <= 0 <= high:
        return f"{name} did not clearly move ({span})"
    return f"{name} {'rose' if paired['delta'] > 0 else 'fell'} ({span})"


def _judge_summary(report: dict) -> dict:
    run = report["runs"][0]
    return {
        "train_size": run["train_size"],
        "eval_size": report["data"]["eval"]["n"],
        "accuracy": run["accuracy"],
        "auroc": run["auroc"],
        "f1": run["f1"],
        "intervals": {
            k: run["intervals"][k] for k in ("accuracy", "auroc", "f1") if k in run["intervals"]
        },  # fmt: skip
        "features": report["features"],
    }


def _rewriter_summary(report: dict) -> dict:
    """One `eval debias` report's headline figures (None where a measure was switched off)."""
    safety, style = report["safety"], report["style"]
    return {
        "texts": report["pairs"],
        "unsafe_percent_before": safety["unsafe_percent_before"],
        "unsafe_percent_after": safety["unsafe_percent_after"],
        "similarity": (report.get("similarity") or {}).get("mean_cosine"),
        "fluent_percent": (report.get("fluency") or {}).get("accepted_percent"),
        "fluent_percent_originals": (report.get("fluency") or {}).get("originals_accepted_percent"),
        "perplexity_before": (report.get("perplexity") or {}).get("before"),
        "perplexity_after": (report.get("perplexity") or {}).get("after"),
        "j": (report.get("joint") or {}).get("j"),
        "retention_percent": report["retention"]["percent"],
        "clen_before": style["clen_before"],
        "clen_after": style["clen_after"],
        "words_before": style["mean_words_before"],
        "words_after": style["mean_words_after"],
        "change_ttest": safety["ttest_change_vs_0"],
    }


def _crows_summary(report: dict) -> dict:
    return {"metric": report["metric"], "interval": report.get("interval"),
            "pairs": report["pairs"]}  # fmt: skip


def _finished(root: Path) -> list[tuple[Path, dict]]:
    """The records of the finished steps below `root`, oldest first (the report's own aside)."""
    found = [(folder, r) for folder, r in find_records(root) if r["step"] != "report"]
    if not found:
        raise SynthpackError(
            f"{root}: no finished step found (no *{RECORD_SUFFIX} record in it or below it)"
        )
    return found


def _report_of(found: tuple[Path, dict] | None) -> dict | None:
    """The full report a step wrote (its `report` file), else the one in its record (a step
    that writes no report file). None when the step never ran: nothing to report. A report
    file the record lists that is missing or unreadable is an error, never a silent gap."""
    if found is None:
        return None
    path = _written(found, "report")
    if path is None:
        return found[1].get("report")
    return _load_dict(path, _rerun_hint(found))


def _step_row(folder: Path, record: dict) -> dict:
    """One row of the steps table; a step that runs once per model names it (the folder)."""
    name = record["step"]
    return {"step": f"{name} ({folder.name})" if name in PER_MODEL_STEPS else name,
            "seconds": record["seconds"], "peak_rss_gb": record.get("peak_rss_gb")}  # fmt: skip


def _cpu_count() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def _generation_summary(report: dict) -> dict:
    keys = ("generations", "entries_parsed", "accepted", "rejected", "refusal_rate")
    out = {k: report[k] for k in keys}
    out["rejected_by_reason"] = report["rejected_by_reason"]
    out["by_polarity"] = report["by_polarity"]
    out["tokens_per_s"] = (report.get("generation") or {}).get("tokens_per_s")
    # Conditioned prompts: kept entries per target group, a column per polarity
    grouped = {k: p for k, p in report["by_polarity"].items() if p.get("by_group")}
    out["groups"] = sorted({group for p in grouped.values() for group in p["by_group"]})
    out["grouped_polarities"] = list(grouped)
    return out


def _mlp_reports(found: list[tuple[Path, dict]]) -> dict[str, dict]:
    """The newest `eval mlp` report of each feature kind (the demo runs one per kind, in
    eval_mlp/<kind>), TF-IDF first."""
    newest = {}
    for item in found:  # oldest first: a later record of a kind replaces an earlier one
        if item[1]["step"] == "eval_mlp":
            report = _report_of(item)
            newest[report["features"]] = (item, report)
    order = sorted(newest, key=lambda k: FEATURE_KINDS.index(k) if k in FEATURE_KINDS else 99)
    return {kind: newest[kind][1] for kind in order}


def _classifier_summary(reports: dict[str, dict]) -> dict[str, dict]:
    """Per feature kind: per evaluation domain the runs, their deltas against `real` and the
    verdict; the latency of the real-only model against the bound; MiniLM's embedding count."""
    from synthpack.evaluate.run import domains_of

    out = {}
    for kind, report in reports.items():
        domains = {}
        for domain, section in domains_of(report).items():
            runs = []
            for r in section["runs"]:
                versus = r.get("vs_real") or {}
                runs.append({
                    "name": r["name"],
                    "train_size": r["train_size"],
                    **{k: r[k] for k in ("precision", "recall", "f1", "accuracy", "auroc")},
                    "f1_interval": r["intervals"]["f1"],
                    "auroc_interval": r["intervals"]["auroc"],
                    "f1_delta_vs_real": versus.get("f1_delta"),
                    "p_better": versus.get("p_better"),
                    "auroc_delta_vs_real": versus.get("auroc_delta"),
                    "auroc_p_better": versus.get("auroc_p_better"),
                })  # fmt: skip
            domains[domain] = {"verdict": section.get("verdict"), "eval_size": section["n"],
                               "runs": runs}  # fmt: skip
        out[kind] = {
            "features": kind,
            "domains": domains,
            "skipped_runs": report.get("skipped_runs", []),
            "latency_ms": report["latency_ms"],
            "throughput_per_s": report["throughput_per_s"],
            "latency_bound_ms": report["latency_bound_ms"],
            "meets_latency_bound": report["meets_latency_bound"],
            "embeddings": report.get("embeddings"),
            "seconds": report.get("seconds"),
        }
    return out


# --- plots ------------------------------------------------------------------------------------
def plot_step_times(summary: dict, path: Path) -> Path:
    steps = [s for s in summary["steps"] if s["step"] != "report"]
    fig, ax = figure(6.0, 0.35 * len(steps) + 0.9)
    ax.barh([s["step"] for s in steps][::-1], [s["seconds"] for s in steps][::-1], color="#4c72b0")
    ax.set_xlabel("seconds")
    ax.set_title(f"Time per step (total {summary['total_seconds']:.0f} s)")
    return save_png(fig, path)


def plot_rejects(generation: dict, path: Path) -> Path:
    reasons = generation["rejected_by_reason"] or {"(none)": 0}
    fig, ax = figure(6.0, 0.35 * len(reasons) + 0.9)
    names = sorted(reasons, key=reasons.get)
    ax.barh(names, [reasons[n] for n in names], color="#c44e52")
    ax.set_xlabel("entries")
    ax.set_title(
        f"Rejected entries by reason ({generation['rejected']} of "
        f"{generation['entries_parsed']} parsed)"
    )
    return save_png(fig, path)


def plot_generation_quality(generation: dict, path: Path) -> Path:
    """Duplication rate (Table 6) and success rate (Table 2), per polarity."""
    polarities = list(generation["by_polarity"])
    stats = generation["by_polarity"]
    fig, (left, right) = figure(7.0, 2.8, ncols=2)
    left.bar(polarities, [stats[p]["duplication_rate_pct"] for p in polarities], color="#8172b3")
    left.set_ylabel("%")
    left.set_ylim(0, max(5.0, *(1.2 * stats[p]["duplication_rate_pct"] for p in polarities)))
    left.set_title("Duplication rate")
    right.bar(polarities, [stats[p]["success_rate_mean"] for p in polarities], color="#55a868")
    right.axhline(SUCCESS_BAR, color="black", linestyle="--", linewidth=1, label="60% bar")
    right.set_ylim(0, 1)
    right.set_title("Mean success rate per prompt")
    right.legend(loc="upper right", fontsize=8)
    return save_png(fig, path)


def plot_latency(classifier: dict, path: Path) -> Path:
    """p50, p99 and mean per text of each feature kind's real-only model, against the bound."""
    labels = [f"{kind} {k}" for kind in classifier for k in ("p50", "p99", "mean")]
    values = [c["latency_ms"][k] for c in classifier.values() for k in ("p50", "p99", "mean")]
    fig, ax = figure(5.0, 0.3 * len(labels) + 1.5)
    ax.barh(labels[::-1], values[::-1], color="#4c72b0")
    bound = next(iter(classifier.values()))["latency_bound_ms"]
    ax.axvline(bound, color="#c44e52", linestyle="--", label=f"{bound:g} ms bound")
    ax.set_xscale("log")
    ax.set_xlabel("milliseconds per text (log scale)")
    ax.set_title("Classifier latency, one text at a time")
    ax.legend(loc="lower right", fontsize=8)
    return save_png(fig, path)


def make_plots(root: Path, summary: dict, found: list[tuple[Path, dict]]) -> dict[str, Path]:
    from synthpack.evaluate.run import plot_f1

    folder = root / PLOTS
    plots = {"steps": plot_step_times(summary, folder / "steps.png")}
    if summary["generation"]:
        plots["rejects"] = plot_rejects(summary["generation"], folder / "rejects.png")
        plots["quality"] = plot_generation_quality(summary["generation"], folder / "quality.png")
    if (summary["debias"] or {}).get("compare"):
        from synthpack.evaluate.debias.compare import plot_comparison

        plots["compare"] = plot_comparison(summary["debias"]["compare"], folder / "compare.png")
    if summary["classifier"]:
        for kind, report in _mlp_reports(found).items():
            plots[f"f1_{kind}"] = plot_f1(report, folder / f"f1_{kind}.png")
        plots["latency"] = plot_latency(summary["classifier"], folder / "latency.png")
    return plots


# --- page -------------------------------------------------------------------------------------
def _data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def render_html(summary: dict, plots: dict[str, Path]) -> str:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(Path(__file__).parent)),
        undefined=jinja2.StrictUndefined,
        autoescape=True,
    )
    images = {name: _data_uri(path) for name, path in plots.items()}
    return env.get_template(TEMPLATE).render(s=summary, images=images)


def _named(value, key: str = "name") -> list[str]:
    """The names inside one part of a summary: a dict's keys, or the `key` of each row of a
    list (what `lost_results` compares; a part of another shape names nothing)."""
    if isinstance(value, dict):
        return [str(name) for name in value]
    if isinstance(value, list):
        return [str(row[key]) for row in value if isinstance(row, dict) and key in row]
    return []


def _results(summary: dict) -> list[str]:
    """The results a summary holds, by name: its filled sections, the finished steps, and the
    named parts of a section (a model's StereoSet scores, a classifier run, a rewriter)."""

    def part(*keys):
        value = summary
        for key in keys:
            value = value.get(key) if isinstance(value, dict) else None
        return value

    names = [key for key in RESULT_SECTIONS if part(key)]
    names += [f"steps.{name}" for name in _named(part("steps"), "step")]
    names += [f"stereoset.{name}" for name in _named(part("stereoset"))]
    names += _classifier_results(part("classifier"))
    names += [f"debias.{key}" for key in ("judge", "compare", "bias") if part("debias", key)]
    for key in ("rewriters", "crows_pairs"):
        names += [f"debias.{key}.{name}" for name in _named(part("debias", key))]
    return names


def _classifier_results(classifier) -> list[str]:
    """`classifier.KIND.runs.RUN` for the first (--eval) domain of each feature kind and
    `classifier.KIND.DOMAIN.runs.RUN` for the others; a summary from before feature kinds and
    domains (one kind, its runs at the top) names its runs as that kind's first domain, so a
    rebuilt summary that keeps them loses nothing."""
    if not isinstance(classifier, dict):
        return []
    if "runs" in classifier:
        kind = classifier.get("features", "tfidf")
        return [f"classifier.{kind}.runs.{name}" for name in _named(classifier["runs"])]
    names = []
    for kind, section in classifier.items():
        domains = section.get("domains") if isinstance(section, dict) else None
        for number, (domain, part) in enumerate((domains or {}).items()):
            where = f"classifier.{kind}" + (f".{domain}" if number else "")
            names += [f"{where}.runs.{name}" for name in _named((part or {}).get("runs"))]
    return names


def lost_results(old: dict, new: dict) -> list[str]:
    """The results (`_results`) the summary on disk holds that a rebuilt one lacks, in order:
    a figure that changed is not lost, a section or a named run that is gone is."""
    kept = set(_results(new))
    return [name for name in _results(old) if name not in kept]


def refuse_shrinking(path: Path, summary: dict) -> None:
    """Fail when `path` (an existing summary.json) holds results `summary` would drop: their
    step records are gone, so only `--force` may replace it."""
    if not Path(path).exists():
        return
    force = "or pass --force to replace it"
    old = _load_dict(path, f"cannot tell which results it holds: fix or move it away, {force}")
    lost = lost_results(old, summary)
    if lost:
        raise SynthpackError(
            f"{path}: the rebuilt summary would lose {', '.join(lost)} (no step record below "
            f"{summary['run_dir']} gives them now); nothing was written: restore or rerun those "
            f"steps, {force}"
        )


def build_report(run_dir: Path, force: bool = False) -> Path:
    """Write RUN_DIR/report.html, RUN_DIR/summary.json and the PNGs; return the HTML path.

    Everything is read and checked first; an existing summary.json with results the new one
    lacks is only replaced with `force`.
    """
    root = Path(run_dir)
    found = _finished(root)
    summary = collect(root, found)
    if not force:
        refuse_shrinking(root / SUMMARY, summary)
    plots = make_plots(root, summary, found)
    atomic_write_json(root / SUMMARY, summary)
    atomic_write_text(root / REPORT_HTML, render_html(summary, plots))
    return root / REPORT_HTML


@dataclass(frozen=True)
class ReportSettings(StepSettings):
    """The report of the run folder it is given."""

    step = "report"
    force: bool = False  # replace a summary.json that holds results the new one would lack

    def writes(self, folder: Path) -> dict[str, Path]:
        return {"html": Path(folder) / REPORT_HTML, "summary": Path(folder) / SUMMARY,
                "plots": Path(folder) / PLOTS}  # fmt: skip


def run_report(settings: ReportSettings, folder: Path, context: Context = Context()) -> dict:
    """The report step: the page and summary.json of FOLDER, from every step record below it."""
    return {"html": str(build_report(folder, settings.force))}


def rebuild_report(run_dir: Path, force: bool = False) -> tuple[Path, str]:
    """`synthpack report RUN_DIR`: the rebuilt page and the results table of its summary."""
    html = build_report(run_dir, force)
    summary = json.loads((Path(run_dir) / SUMMARY).read_text(encoding="utf-8"))
    return html, results_table(summary)


# --- terminal ---------------------------------------------------------------------------------
def debias_tables(debias: dict) -> list[str]:
    """The judge's accuracy, the rewriters side by side, and CrowS-Pairs, as terminal text."""

    def f(value, digits=1):
        return "-" if value is None else f"{value:.{digits}f}"

    blocks = []
    judge = debias.get("judge")
    if judge:
        blocks.append(
            f"toxicity judge ({judge['features']} MLP, {judge['train_size']} training texts): "
            f"accuracy {judge['accuracy']:.3f}, AUROC {judge['auroc']:.3f} on the "
            f"{judge['eval_size']} held-out gold texts (toxic sentence vs its paraphrase)"
        )
    rewriters = debias["rewriters"]
    first = next(iter(rewriters.values()))
    rows = [["originals", f(first["unsafe_percent_before"]), "-",
             f(first["fluent_percent_originals"]), "-", f(first["perplexity_before"]),
             f(first["words_before"])]]  # fmt: skip
    rows += [[name, f(r["unsafe_percent_after"]), f(r["similarity"], 3), f(r["fluent_percent"]),
              f(r["j"], 3), f(r["perplexity_after"]), f(r["words_after"])]
             for name, r in rewriters.items()]  # fmt: skip
    head = ["texts", "unsafe %", "similarity", "fluent %", "J", "perplexity", "words"]
    blocks.append(format_table(head, rows))
    compare = debias.get("compare")
    if compare:
        from synthpack.evaluate.debias.compare import p_text

        rows = [[name, f(m["delta"], 3), f"[{m['interval'][0]:.3f}, {m['interval'][1]:.3f}]",
                 p_text(m["p_better"])] for name, m in compare["metrics"].items()]  # fmt: skip
        head = [f"{compare['candidate']} - {compare['baseline']}", "delta", "95% CI", "p(better)"]
        blocks.append(format_table(head, rows))
    crows = debias.get("crows_pairs")
    if crows:
        rows = [[name, f(c["metric"], 2), _interval(c["interval"]), c["pairs"]]
                for name, c in crows.items()]  # fmt: skip
        blocks.append(format_table(["CrowS-Pairs", "metric %", "95% CI", "pairs"], rows))
    return blocks


def classifier_tables(classifier: dict) -> list[str]:
    """Per feature kind and evaluation domain: the runs' F1, AUROC and deltas, then the verdict
    sentence; last, one latency row per kind against the bound."""
    blocks = []
    for kind, c in classifier.items():
        for domain, d in c["domains"].items():
            rows = []
            for r in d["runs"]:
                lo, hi = r["f1_interval"]
                delta, rank = r.get("f1_delta_vs_real"), r.get("auroc_delta_vs_real")
                rows.append([
                    r["name"], r["train_size"], f"{r['f1']:.3f} [{lo:.3f}, {hi:.3f}]",
                    f"{r['auroc']:.3f}", "baseline" if delta is None else f"{delta:+.3f}",
                    "" if r.get("p_better") is None else f"{r['p_better']:.3f}",
                    "baseline" if rank is None else f"{rank:+.3f}",
                    "" if r.get("auroc_p_better") is None else f"{r['auroc_p_better']:.3f}",
                ])  # fmt: skip
            head = [f"{kind} on {domain} ({d['eval_size']})", "train", "F1 [95% CI]", "AUROC",
                    "dF1", "p", "dAUROC", "p"]  # fmt: skip
            blocks.append(format_table(head, rows))
            if d.get("verdict"):
                blocks.append(f"{kind} on {domain}: {d['verdict']}")
    rows = [[kind, f"{c['latency_ms']['p50']:.2f}", f"{c['latency_ms']['p99']:.2f}",
             "yes" if c["meets_latency_bound"] else "NO"]
            for kind, c in classifier.items()]  # fmt: skip
    bound = next(iter(classifier.values()))["latency_bound_ms"]
    blocks.append(format_table(["latency per text", "p50 ms", "p99 ms", f"p99 <= {bound:g} ms"],
                               rows))  # fmt: skip
    return blocks


def _interval(pair) -> str:
    return f"[{pair[0]:.2f}, {pair[1]:.2f}]" if pair else "-"


def results_table(summary: dict) -> str:
    """The run's results for the terminal: numbers only, never a generated text.

    Per polarity the success rate, duplication and kept entries; the classifier runs with F1
    [interval], AUROC, delta and p; latency against its bound; StereoSet base against tuned;
    and the report's verdict sentence when it has one.
    """
    blocks = []
    generation = summary.get("generation")
    if generation:
        rows = [
            [p, f"{s['success_rate_mean']:.2f}", f"{s['prompts_passing_pct']:.1f}",
             f"{s['duplication_rate_pct']:.1f}", s["accepted"]]
            for p, s in generation["by_polarity"].items()
        ]  # fmt: skip
        head = ["polarity", "success", "pass %", "dup %", "kept"]
        if generation.get("groups"):  # conditioned prompts: how evenly the groups came back
            head += ["groups", "largest group %"]
            for row, s in zip(rows, generation["by_polarity"].values(), strict=True):
                row += [len(s["by_group"]), f"{s['largest_group_pct']:.1f}"] if s.get(
                    "by_group") else ["-", "-"]  # fmt: skip
        blocks.append(format_table(head, rows))
    classifier = summary.get("classifier")
    if classifier:
        blocks.extend(classifier_tables(classifier))
    if summary.get("debias"):
        blocks.extend(debias_tables(summary["debias"]))
    stereoset = summary.get("stereoset")
    if stereoset:
        rows = [
            [name, f"{b['lms']:.2f}", f"{b['ss']:.2f}", f"{b['icat']:.2f}", b["examples"]]
            for name, b in stereoset.items()
        ]
        blocks.append(format_table(["StereoSet", "LMS", "SS", "ICAT", "examples"], rows))
    if summary.get("verdict"):
        blocks.append(summary["verdict"])
    return "\n\n".join(blocks) if blocks else "no results yet (no step wrote any)"
