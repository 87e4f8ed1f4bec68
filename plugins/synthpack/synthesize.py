"""`synthpack generate`: generate (or read LLaMA-Factory's predictions), clean, write, register.

Generations are appended to raw.jsonl one batch at a time, so a rerun with the same
arguments continues where a stopped run ended and produces the same files.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict
from pathlib import Path

import click

from synthpack.clean.dedup import DedupSettings
from synthpack.clean.filters import Limits
from synthpack.clean.pipeline import clean_generations
from synthpack.errors import SynthpackError
from synthpack.files import atomic_write_json, atomic_write_jsonl, read_jsonl
from synthpack.generate import Sampling
from synthpack.sft import numbered

PROMPT_FIELDS = ("id", "category", "version", "polarity", "n_entries", "examples", "prompt")
KEPT_FIELDS = ("stem", "category", "version", "polarity", "n_entries", "examples", "prompt")


def _raw_row(prompt: dict, sample: int, batch: int, answer: dict, provenance: dict) -> dict:
    return {
        "prompt_id": prompt["id"],
        "sample": sample,
        "batch": batch,
        **{k: prompt.get(k) for k in KEPT_FIELDS},
        "output": answer["text"],
        "truncated": None if answer.get("stopped") is None else not answer["stopped"],
        "new_tokens": answer.get("new_tokens"),
        "provenance": provenance,
    }


def rows_from_predictions(prompts: list[dict], predictions_path: Path) -> list[dict]:
    """Pair LLaMA-Factory's generated_predictions.jsonl with the prompts, line by line."""
    preds = read_jsonl(predictions_path, ("predict",))
    if len(preds) != len(prompts):
        raise SynthpackError(
            f"{predictions_path}: {len(preds)} predictions for {len(prompts)} prompts; they must "
            "be line-aligned (run do_predict on the dataset that `synthpack render` registered)"
        )
    mismatched = [
        i + 1
        for i, (p, q) in enumerate(zip(prompts, preds, strict=False))
        if "prompt" in q and " ".join(p["prompt"].split()) not in " ".join(q["prompt"].split())
    ]
    if mismatched:
        raise SynthpackError(
            f"{predictions_path}, line {mismatched[0]}, field 'prompt': does not contain the "
            f"prompt of line {mismatched[0]} of the prompts file "
            f"({len(mismatched)} line(s) differ: "
            f"{', '.join(map(str, mismatched[:10]))})"
        )
    provenance = {"backend": "llamafactory-predictions", "predictions": str(predictions_path)}
    return [
        _raw_row(p, 0, i, {"text": q["predict"], "stopped": q.get("stopped")}, provenance)
        for i, (p, q) in enumerate(zip(prompts, preds, strict=False))
    ]


def _load_raw(raw_path: Path, batch_sizes: dict[int, int], provenance: dict) -> list[dict]:
    """Rows of the batches a previous run finished; a half-written tail is discarded."""
    if not raw_path.exists():
        return []
    text = raw_path.read_text(encoding="utf-8")
    lines = text.split("\n")[:-1]  # a last line without its newline was cut mid-write
    rows = [json.loads(line) for line in lines if line.strip()]
    for row in rows[:1]:
        if row["provenance"] != provenance:
            changed = sorted(k for k in provenance if row["provenance"].get(k) != provenance[k])
            raise SynthpackError(
                f"{raw_path}: made with other settings ({', '.join(changed)} differ); "
                "use another --out, or --restart to discard it"
            )
    counts: dict[int, int] = {}
    for row in rows:
        counts[row["batch"]] = counts.get(row["batch"], 0) + 1
    complete = [r for r in rows if counts[r["batch"]] == batch_sizes.get(r["batch"])]
    if len(complete) != len(rows) or not text.endswith("\n"):
        atomic_write_jsonl(raw_path, complete)
    return complete


def generate_resumable(
    prompts: list[dict],
    raw_path: Path,
    model_dir: Path,
    adapter_dir: Path | None,
    backend: str,
    sampling: Sampling,
    batch_size: int,
    samples: int,
) -> dict:
    """Generate every (prompt, sample) into raw.jsonl, skipping batches already there."""
    provenance = {
        "model": str(model_dir),
        "adapter": str(adapter_dir) if adapter_dir else None,
        "backend": backend,
        "sampling": asdict(sampling),
        "batch_size": batch_size,
    }
    work = [(p, s) for p in prompts for s in range(samples)]
    batches = [work[i : i + batch_size] for i in range(0, len(work), batch_size)]
    done = _load_raw(raw_path, {b: len(items) for b, items in enumerate(batches)}, provenance)
    finished = {r["batch"] for r in done}
    todo = [b for b in range(len(batches)) if b not in finished]
    stats = {
        "new_tokens": 0,
        "seconds": 0.0,
        "batches_run": len(todo),
        "batches_reused": len(finished),
    }
    if not todo:
        return stats
    from tqdm import tqdm

    from synthpack.generate import make_generator

    answer = make_generator(backend, model_dir, adapter_dir)
    fd = os.open(raw_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with (
        os.fdopen(fd, "a", encoding="utf-8") as raw,
        tqdm(total=len(todo), desc="generate", unit="batch", disable=None) as bar,
    ):
        for b in todo:
            items = batches[b]
            texts = [p["prompt"] for p, _ in items]
            started = time.perf_counter()
            answers = answer(texts, sampling, sampling.seed * 100_003 + b)
            stats["seconds"] += time.perf_counter() - started
            stats["new_tokens"] += sum(a["new_tokens"] for a in answers)
            rows = [
                _raw_row(p, s, b, a, provenance) for (p, s), a in zip(items, answers, strict=False)
            ]
            raw.write("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
            raw.flush()
            os.fsync(raw.fileno())
            bar.set_postfix(tok_s=f"{stats['new_tokens'] / max(stats['seconds'], 1e-9):.1f}")
            bar.update(1)
    return stats


def alpaca_records(generations: list[dict], accepted: list[dict]) -> list[dict]:
    """Each prompt with its cleaned entries, numbered: SFT data in the pack's own format."""
    by_key: dict[tuple, list[str]] = {}
    for row in accepted:
        by_key.setdefault((row["prompt_id"], row["sample"]), []).append(row["text"])
    records = []
    for gen in generations:
        entries = by_key.get((gen["prompt_id"], gen["sample"]))
        if entries:
            records.append({"instruction": gen["prompt"], "input": "", "output": numbered(entries)})
    return records


# (header, report key, format) of the per-polarity table on the terminal.
TABLE_COLUMNS = (
    ("gens", "generations", "d"),
    ("parsed", "entries_parsed", "d"),
    ("valid", "valid", "d"),
    ("kept", "accepted", "d"),
    ("dup %", "duplication_rate_pct", ".1f"),
    ("dups/prompt", "duplicates_per_prompt_mean", ".2f"),
    ("success", "success_rate_mean", ".2f"),
    ("pass %", "prompts_passing_pct", ".1f"),
    ("dist-2", "distinct_2", ".3f"),
)


def print_table(report: dict, stats: dict | None) -> None:
    """The paper's Table 2 and Table 6 numbers, one row per polarity."""
    widths = [max(len(head) + 1, 7) for head, _, _ in TABLE_COLUMNS]
    click.echo(
        "polarity "
        + "".join(f"{h:>{w}}" for (h, _, _), w in zip(TABLE_COLUMNS, widths, strict=True))
    )
    for polarity, p in report["by_polarity"].items():
        cells = [
            f"{p[key]:>{w}{fmt}}" for (_, key, fmt), w in zip(TABLE_COLUMNS, widths, strict=True)
        ]
        click.echo(f"{polarity:<9}" + "".join(cells))
    click.echo(
        f"entries parsed {report['entries_parsed']} = accepted {report['accepted']} + "
        f"rejected {report['rejected']}; refusal rate {report['refusal_rate']:.2%}"
    )
    reasons = ", ".join(f"{k} {v}" for k, v in report["rejected_by_reason"].items())
    click.echo(f"rejected by reason: {reasons or 'none'}")
    if stats and stats.get("seconds"):
        click.echo(f"generation: {report['generation']['tokens_per_s']} tokens/s")


def run_generate(
    prompts_path: Path,
    out_dir: Path,
    model_dir: Path | None = None,
    adapter_dir: Path | None = None,
    backend: str = "hf",
    predictions: Path | None = None,
    against: list[str] = (),
    sampling: Sampling = Sampling(max_new_tokens=512, temperature=0.8, top_p=0.95),
    batch_size: int = 8,
    samples: int = 1,
    limits: Limits = Limits(),
    dedup: DedupSettings = DedupSettings(),
    restart: bool = False,
) -> dict:
    """The whole command; returns the report (also written to OUT/report.json)."""
    if (model_dir is None) == (predictions is None):
        raise SynthpackError(
            "give either --model (to generate) or --predictions (to read), not both"
        )
    prompts = read_jsonl(prompts_path, PROMPT_FIELDS)
    out_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(out_dir, 0o700)
    raw_path = out_dir / "raw.jsonl"
    if restart:
        raw_path.unlink(missing_ok=True)
    stats = None
    if predictions is not None:
        atomic_write_jsonl(raw_path, rows_from_predictions(prompts, predictions))
    else:
        stats = generate_resumable(
            prompts, raw_path, model_dir, adapter_dir, backend, sampling, batch_size, samples
        )
    report = clean_raw(out_dir, prompts_path, against, limits, dedup, stats)
    print_table(report, stats)
    return report


def clean_raw(
    out_dir: Path,
    prompts_path: Path,
    against: list[str] = (),
    limits: Limits = Limits(),
    dedup: DedupSettings = DedupSettings(),
    stats: dict | None = None,
) -> dict:
    """Clean OUT/raw.jsonl into accepted / rejected / alpaca / report files; returns the report.

    `stats` (from `generate_resumable`) adds the generation speed to the report.
    """
    generations = read_jsonl(out_dir / "raw.jsonl")
    cleaned = clean_generations(generations, against=against, limits=limits, dedup=dedup)
    report = {"prompts": str(prompts_path), **cleaned.report}
    if stats is not None:
        report["generation"] = {
            **stats,
            "seconds": round(stats["seconds"], 2),
            "tokens_per_s": round(stats["new_tokens"] / stats["seconds"], 2)
            if stats["seconds"]
            else None,
        }
    atomic_write_jsonl(out_dir / "accepted.jsonl", cleaned.accepted)
    atomic_write_jsonl(out_dir / "rejected.jsonl", cleaned.rejected)
    atomic_write_json(out_dir / "alpaca.json", alpaca_records(generations, cleaned.accepted))
    atomic_write_json(out_dir / "report.json", report)
    return report


def augment(train: list[Path], synthetic: list[Path], out: Path) -> dict:
    """D_augmented = D_train ∪ D_synthetic: real rows first, synthetic rows not already there.

    Labels are read with the seed readers' spellings (1/0, pos/neg, hate/neutral, ...).
    """
    from synthpack.clean.text import normalize
    from synthpack.seeds import read_seeds

    seen: set[str] = set()
    rows, counts = [], {"read": 0, "written": 0, "duplicates_dropped": 0}
    for source, paths in (("real", train), ("synthetic", synthetic)):
        for seed in read_seeds(labelled=paths):
            counts["read"] += 1
            key = normalize(seed.text)
            if key in seen:
                counts["duplicates_dropped"] += 1
                continue
            seen.add(key)
            label = 1 if seed.label == "pos" else 0
            rows.append(
                {"text": seed.text, "label": label, "source": source, "origin": seed.where()}
            )
    counts["written"] = len(rows)
    atomic_write_jsonl(out, rows)
    return counts
