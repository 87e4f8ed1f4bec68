"""The run report: one self-contained HTML page and `summary.json` built from a demo run folder.

Everything is read back from the files the steps wrote, so `synthpack report RUN_DIR` rebuilds
the page at any time (for example after re-running one step). The plots are PNG files under
RUN_DIR/report/ and are embedded in the page as data URIs, so the HTML can be mailed alone.
"""

from __future__ import annotations

import base64
import json
import platform
from datetime import datetime, timezone
from pathlib import Path

from synthpack.demo import STEPS
from synthpack.errors import SynthpackError
from synthpack.files import atomic_write_json, atomic_write_text

LATENCY_BOUND_MS = 10.0  # the first paper's requirement for one moderation decision


def _read_json(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.exists() else None


def collect(run_dir: Path) -> dict:
    """Everything the report shows, as plain data (this is also `summary.json`)."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise SynthpackError(f"{run_dir}: no such run folder")
    steps = [s for s in (_read_json(run_dir / f".{n}.done") for n in STEPS) if s]
    if not steps:
        raise SynthpackError(f"{run_dir}: no finished demo step found (no .STEP.done files)")
    generation = _read_json(run_dir / "generations" / "report.json")
    mlp = _read_json(run_dir / "eval_mlp" / "report.json")
    stereoset = {
        name: report["intrasentence"]
        for name in ("base", "tuned")
        if (report := _read_json(run_dir / "stereoset" / name / "report.json"))
    }
    return {
        "run_dir": str(run_dir.resolve()),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {_cpu_count()} CPU cores, Python "
        f"{platform.python_version()}",
        "settings": _read_json(run_dir / "settings.json"),
        "steps": [{k: v for k, v in s.items() if k != "status"} for s in steps],
        "total_seconds": round(sum(s["seconds"] for s in steps if s["step"] != "report"), 1),
        "generation": generation and _generation_summary(generation),
        "classifier": mlp and _classifier_summary(mlp),
        "stereoset": stereoset or None,
    }


def _cpu_count() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def _generation_summary(report: dict) -> dict:
    keys = ("generations", "entries_parsed", "accepted", "rejected", "refusal_rate")
    out = {k: report[k] for k in keys}
    out["rejected_by_reason"] = report["rejected_by_reason"]
    out["by_polarity"] = report["by_polarity"]
    out["tokens_per_s"] = (report.get("generation") or {}).get("tokens_per_s")
    return out


def _classifier_summary(report: dict) -> dict:
    runs = []
    for r in report["runs"]:
        versus = r.get("vs_real") or {}
        runs.append(
            {
                "name": r["name"],
                "train_size": r["train_size"],
                **{k: r[k] for k in ("precision", "recall", "f1", "accuracy", "auroc")},
                "f1_interval": r["intervals"]["f1"],
                "f1_delta_vs_real": versus.get("f1_delta"),
                "p_better": versus.get("p_better"),
            }
        )
    return {
        "eval_size": report["data"]["eval"]["n"],
        "features": report["features"],
        "runs": runs,
        "skipped_runs": report.get("skipped_runs", []),
        "latency_ms": report["latency_ms"],
        "throughput_per_s": report["throughput_per_s"],
        "latency_bound_ms": LATENCY_BOUND_MS,
        "meets_latency_bound": report["latency_ms"]["p99"] <= LATENCY_BOUND_MS,
    }


# --- plots ------------------------------------------------------------------------------------
def _figure(width: float = 6.0, height: float = 3.0, ncols: int = 1):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(1, ncols, figsize=(width, height), dpi=110)


def _save(fig, path: Path) -> Path:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fig.savefig(tmp, format="png")
    plt.close(fig)
    tmp.chmod(0o600)
    tmp.replace(path)
    return path


def plot_step_times(summary: dict, path: Path) -> Path:
    steps = [s for s in summary["steps"] if s["step"] != "report"]
    fig, ax = _figure(6.0, 0.35 * len(steps) + 0.9)
    ax.barh([s["step"] for s in steps][::-1], [s["seconds"] for s in steps][::-1], color="#4c72b0")
    ax.set_xlabel("seconds")
    ax.set_title(f"Time per step (total {summary['total_seconds']:.0f} s)")
    return _save(fig, path)


def plot_rejects(generation: dict, path: Path) -> Path:
    reasons = generation["rejected_by_reason"] or {"(none)": 0}
    fig, ax = _figure(6.0, 0.35 * len(reasons) + 0.9)
    names = sorted(reasons, key=reasons.get)
    ax.barh(names, [reasons[n] for n in names], color="#c44e52")
    ax.set_xlabel("entries")
    ax.set_title(
        f"Rejected entries by reason ({generation['rejected']} of "
        f"{generation['entries_parsed']} parsed)"
    )
    return _save(fig, path)


def plot_generation_quality(generation: dict, path: Path) -> Path:
    """Duplication rate (Table 6) and success rate (Table 2), per polarity."""
    polarities = list(generation["by_polarity"])
    stats = generation["by_polarity"]
    fig, (left, right) = _figure(7.0, 2.8, ncols=2)
    left.bar(polarities, [stats[p]["duplication_rate_pct"] for p in polarities], color="#8172b3")
    left.set_ylabel("%")
    left.set_ylim(0, max(5.0, *(1.2 * stats[p]["duplication_rate_pct"] for p in polarities)))
    left.set_title("Duplication rate")
    right.bar(polarities, [stats[p]["success_rate_mean"] for p in polarities], color="#55a868")
    right.axhline(0.6, color="black", linestyle="--", linewidth=1, label="60% bar")
    right.set_ylim(0, 1)
    right.set_title("Mean success rate per prompt")
    right.legend(loc="upper right", fontsize=8)
    return _save(fig, path)


def plot_latency(classifier: dict, path: Path) -> Path:
    lat = classifier["latency_ms"]
    fig, ax = _figure(5.0, 2.4)
    labels = ["p50", "p99", "mean"]
    ax.barh(labels[::-1], [lat[k] for k in labels][::-1], color="#4c72b0")
    ax.axvline(LATENCY_BOUND_MS, color="#c44e52", linestyle="--", label="10 ms bound")
    ax.set_xscale("log")
    ax.set_xlabel("milliseconds per text (log scale)")
    ax.set_title("Classifier latency, one text at a time")
    ax.legend(loc="lower right", fontsize=8)
    return _save(fig, path)


def make_plots(run_dir: Path, summary: dict) -> dict[str, Path]:
    from synthpack.evaluate.mlp_report import plot_f1

    folder = Path(run_dir) / "report"
    plots = {"steps": plot_step_times(summary, folder / "steps.png")}
    if summary["generation"]:
        plots["rejects"] = plot_rejects(summary["generation"], folder / "rejects.png")
        plots["quality"] = plot_generation_quality(summary["generation"], folder / "quality.png")
    if summary["classifier"]:
        mlp_report = json.loads((Path(run_dir) / "eval_mlp" / "report.json").read_text())
        plot_f1(mlp_report, folder / "f1.png")
        plots["f1"] = folder / "f1.png"
        plots["latency"] = plot_latency(summary["classifier"], folder / "latency.png")
    return plots


# --- page -------------------------------------------------------------------------------------
def _data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def render_html(summary: dict, plots: dict[str, Path], templates_dir: Path | None = None) -> str:
    import jinja2

    from synthpack.templates import templates_root

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_root(templates_dir) / "report")),
        undefined=jinja2.StrictUndefined,
        autoescape=True,
    )
    images = {name: _data_uri(path) for name, path in plots.items()}
    return env.get_template("run.html.jinja2").render(s=summary, images=images)


def build_report(run_dir: Path) -> Path:
    """Write RUN_DIR/report.html, RUN_DIR/summary.json and the PNGs; return the HTML path."""
    run_dir = Path(run_dir)
    summary = collect(run_dir)
    plots = make_plots(run_dir, summary)
    atomic_write_json(run_dir / "summary.json", summary)
    html = run_dir / "report.html"
    atomic_write_text(html, render_html(summary, plots))
    return html
