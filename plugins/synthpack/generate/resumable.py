"""raw.jsonl: every generation with its prompt and provenance, written batch by batch.

Finished batches are appended (and fsynced) as they complete and each batch has its own seed,
so rerunning the same command after a stop skips what is done and gives the same file as an
uninterrupted run. LLaMA-Factory's predictions are turned into the same rows. The prompts and
predictions files are checked record by record where they are read: a polarity spelled
`positive` or `harmful` is normalised through the one vocabulary, one it does not know is an
error naming the file, line and field, so no harmful entry is ever labelled harmless.
"""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import asdict
from pathlib import Path

from synthpack.common.errors import SynthpackError
from synthpack.common.files import atomic_write_jsonl, iter_jsonl
from synthpack.common.labels import label_problem, version_of
from synthpack.common.problems import Problems, json_kind, located, shown
from synthpack.common.progress import ProgressBar, silent
from synthpack.models.backends import COMPILE_MIN_BATCHES, Sampling, make_generator
from synthpack.models.precision import Precision
from synthpack.prompts.render import MAX_N_ENTRIES

# Fields of a prompts.jsonl record that every raw row carries (the cleaning step needs them).
KEPT_FIELDS = ("stem", "category", "version", "polarity", "n_entries", "examples", "prompt",
               "target_group", "attributes")  # fmt: skip


def raw_row(prompt: dict, sample: int, batch: int, answer: dict, provenance: dict) -> dict:
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


_NAME = re.compile(r"^[a-z][a-z0-9_]*$")  # a category name: the stem of its YAML file
_VERSION = re.compile(r"^v\d+$")  # template versions of a forked pack: v4, v5, ...
# The fields of a prompts.jsonl record that generating and cleaning need.
PROMPT_FIELDS = ("id", "category", "version", "polarity", "n_entries", "examples", "prompt")


def _non_empty_jsonl(path: Path, problems: Problems):
    """(line, row) of a JSONL file that must hold at least one record."""
    path = Path(path)
    if not path.is_file():
        what = "a folder, not a JSONL file" if path.is_dir() else "file not found"
        raise SynthpackError(f"{path}: {what}")
    rows = list(iter_jsonl(path, problems))
    if not rows and not problems:
        raise SynthpackError(f"{path}: empty file (no JSON records)")
    return rows


def _check_prompt(row: dict, line: int, problems: Problems, versions: list[str]) -> dict:
    """One prompts.jsonl record with its polarity and version spelled the canonical way."""

    def bad(field: str, message: str) -> None:
        if field not in row:
            message = "missing"
        if (field, line) not in reported:
            reported.add((field, line))
            problems.add(message, line, field)

    reported: set[tuple[str, int]] = set()
    for name in PROMPT_FIELDS:
        if name not in row:
            bad(name, "missing")
    for name in ("id", "prompt", "category"):
        value = row.get(name)
        if not isinstance(value, str) or not value.strip():
            bad(name, f"expected a non-empty string, got {json_kind(value)}")
    category = row.get("category")
    if isinstance(category, str) and category.strip() and not _NAME.match(category):
        bad("category", f"{shown(category)} is not a category name (lower case, digits, _)")
    polarity, problem = label_problem(row.get("polarity"))
    if problem:
        bad("polarity", problem)
    version = version_of(row.get("version"), versions)
    if version is None and isinstance(row.get("version"), str):
        spelled = row["version"].strip().casefold()
        version = spelled if _VERSION.match(spelled) else None
    if version is None:
        known = ", ".join(versions)
        bad("version", f"unknown version {shown(row.get('version'))}. Available: {known}")
    n = row.get("n_entries")
    if isinstance(n, bool) or not isinstance(n, int) or not 0 < n <= MAX_N_ENTRIES:
        bad("n_entries", f"expected a whole number from 1 to {MAX_N_ENTRIES}, got {shown(n)}")
    examples = row.get("examples")
    if not isinstance(examples, list) or not all(isinstance(e, str) for e in examples):
        bad("examples", f"expected a list of strings, got {json_kind(examples)}")
    return {**row, "polarity": polarity, "version": version}


def read_prompts(path: Path, versions: list[str]) -> list[dict]:
    """prompts.jsonl as `synthpack render` writes it, every record checked, all problems
    reported at once; `versions` are the template versions the installed pack knows."""
    problems = Problems(path)
    records, first_line = [], {}
    for line, row in _non_empty_jsonl(path, problems):
        record = _check_prompt(row, line, problems, versions)
        key = record.get("id")
        if isinstance(key, str) and key in first_line:
            problems.add(f"the same id as line {first_line[key]}", line, "id")
        elif isinstance(key, str):
            first_line[key] = line
        records.append(record)
    problems.raise_if_any()
    return records


def read_predictions(path: Path) -> list[dict]:
    """LLaMA-Factory's generated_predictions.jsonl: `predict` and `prompt` strings on every
    line. The prompt is required: an answer is never matched to a prompt by its position
    alone, or a reordered file would label answers with the wrong polarity."""
    problems = Problems(path)
    rows = []
    for line, row in _non_empty_jsonl(path, problems):
        if not isinstance(row.get("predict"), str):  # the value may be harmful: not shown
            found = f"expected a string, got {json_kind(row.get('predict'))}"
            problems.add(found if "predict" in row else "missing", line, "predict")
        elif not isinstance(row.get("prompt"), str):  # what ties the answer to its prompt
            found = f"expected a string, got {json_kind(row.get('prompt'))}"
            needed = "missing (it matches each answer to its prompt; LLaMA-Factory writes it)"
            problems.add(found if "prompt" in row else needed, line, "prompt")
        elif row.get("stopped") is not None and not isinstance(row["stopped"], bool):
            problems.add(f"expected true or false, got {shown(row['stopped'])}", line, "stopped")
        rows.append(row)
    problems.raise_if_any()
    return rows


def predictions_provenance(predictions_path: Path) -> dict:
    return {"backend": "llamafactory-predictions", "predictions": str(predictions_path)}


def rows_from_predictions(prompts: list[dict], predictions_path: Path) -> list[dict]:
    """Pair LLaMA-Factory's generated_predictions.jsonl with the prompts, line by line, each
    pair checked: the prediction's `prompt` holds the prompt's text."""
    preds = read_predictions(predictions_path)
    if len(preds) != len(prompts):
        raise SynthpackError(
            f"{predictions_path}: {len(preds)} predictions for {len(prompts)} prompts; they must "
            "be line-aligned (run do_predict on the dataset that `synthpack render` registered)"
        )
    mismatched = [
        i + 1
        for i, (p, q) in enumerate(zip(prompts, preds, strict=False))
        if " ".join(p["prompt"].split()) not in " ".join(q["prompt"].split())
    ]
    if mismatched:
        raise SynthpackError(
            located(
                predictions_path,
                f"does not contain the prompt of line {mismatched[0]} of the prompts file "
                f"({len(mismatched)} line(s) differ: {', '.join(map(str, mismatched[:10]))})",
                mismatched[0],
                "prompt",
            )
        )
    provenance = predictions_provenance(predictions_path)
    return [
        raw_row(p, 0, i, {"text": q["predict"], "stopped": q.get("stopped")}, provenance)
        for i, (p, q) in enumerate(zip(prompts, preds, strict=False))
    ]


def read_raw_rows(raw_path: Path) -> tuple[list[dict], bool]:
    """The rows of an earlier run's raw.jsonl (none when absent) and whether its last line
    was cut mid-write (that line is dropped)."""
    if not raw_path.exists():
        return [], False
    text = raw_path.read_text(encoding="utf-8")
    torn = bool(text) and not text.endswith("\n")
    rows = []
    for line, raw in enumerate(text.split("\n")[:-1], start=1):  # the torn tail is not a row
        if not raw.strip():
            continue
        try:
            row = json.loads(raw)
        except json.JSONDecodeError:
            row = None
        if not isinstance(row, dict) or not isinstance(row.get("provenance"), dict):
            raise SynthpackError(
                located(raw_path, "not a row of `synthpack generate`; use another --out, or "
                        "--restart to discard the file", line)
            )  # fmt: skip
        rows.append(row)
    return rows, torn


def refuse_other_run(raw_path: Path, rows: list[dict], provenance: dict) -> None:
    """An earlier run's answers are continued or replaced only when they were made the same
    way (model, adapter, sampling, ..., or the same predictions file); anything else needs
    --restart, so another run's generations are never lost or mixed in."""
    for row in rows[:1]:
        if row["provenance"] != provenance:
            keys = sorted(set(provenance) | set(row["provenance"]))
            changed = [k for k in keys if row["provenance"].get(k) != provenance.get(k)]
            raise SynthpackError(
                f"{raw_path}: made by another run ({', '.join(changed)} differ); "
                "use another --out, or --restart to discard it"
            )


def generation_provenance(
    model_dir: Path,
    adapter_dir: Path | None,
    sampling: Sampling,
    batch_size: int,
    precision: Precision | None,
) -> dict:
    """What every row a model loaded here generated carries, and what a resumed run must
    match."""
    return {
        "model": str(model_dir),
        "adapter": str(adapter_dir) if adapter_dir else None,
        "backend": "hf",
        "sampling": asdict(sampling),
        "batch_size": batch_size,
        "precision": precision.name if precision else None,
    }


def batch_seed(sampling: Sampling, batch: int) -> int:
    """The seed of one batch (or one server request): fixed by its place, so a resumed run
    draws what an uninterrupted one would."""
    return sampling.seed * 100_003 + batch


def append_rows(raw, rows: list[dict], sync: bool = True) -> None:
    """Append rows to an open raw.jsonl in one write, flushed (and fsynced when `sync`): a kill
    leaves at most a torn last line, which the resume drops."""
    raw.write("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    raw.flush()
    if sync:
        os.fsync(raw.fileno())


def batches_of(prompts: list[dict], samples: int, batch_size: int) -> list[list[tuple[dict, int]]]:
    """The (prompt, sample) pairs of each batch, in the order a run (or its resume) takes."""
    work = [(p, s) for p in prompts for s in range(samples)]
    return [work[i : i + batch_size] for i in range(0, len(work), batch_size)]


def check_earlier_answers(
    raw_path: Path, batches: list, provenance: dict
) -> tuple[list[dict], bool]:
    """The rows an earlier run left in raw_path (and whether its last line was torn), once
    they are known to be this run's: made the same way (`refuse_other_run`) and answering
    these prompts at the same places."""
    rows, torn = read_raw_rows(raw_path)
    refuse_other_run(raw_path, rows, provenance)
    expected = {b: {(p["id"], s) for p, s in items} for b, items in enumerate(batches)}
    strays = [r for r in rows if (r.get("prompt_id"), r.get("sample")) not in
              expected.get(r.get("batch"), ())]  # fmt: skip
    if strays:
        raise SynthpackError(
            f"{raw_path}: {len(strays)} answer(s) to prompts that are not in this prompts file "
            "at the same place (made from another prompts file?); use another --out, or "
            "--restart to discard them"
        )
    return rows, torn


def load_answered(
    raw_path: Path, batches: list[list[tuple[dict, int]]], provenance: dict
) -> tuple[list[dict], int]:
    """The rows of the batches an earlier run answered, and how many of its batches failed
    (a server never answered them: they are sent again). A half-written batch and failed rows
    are dropped from the file, so what follows is appended to complete batches only."""
    rows, torn = check_earlier_answers(raw_path, batches, provenance)
    counts: dict[int, int] = {}
    failed = {r["batch"] for r in rows if r.get("failure")}
    for row in rows:
        counts[row["batch"]] = counts.get(row["batch"], 0) + 1
    whole = {b for b, n in counts.items() if n == len(batches[b]) and b not in failed}
    complete = [r for r in rows if r["batch"] in whole]
    if len(complete) != len(rows) or torn:
        atomic_write_jsonl(raw_path, complete)
    return complete, len(failed)


def generate_resumable(
    batches: list[list[tuple[dict, int]]],
    raw_path: Path,
    provenance: dict,
    model_dir: Path,
    adapter_dir: Path | None,
    sampling: Sampling,
    progress_bar: ProgressBar = silent,
    precision: Precision | None = None,
) -> dict:
    """Generate every batch of (prompt, sample) into raw.jsonl, skipping batches already there.

    `batches` (`batches_of`) and `provenance` (`generation_provenance`, which holds the
    precision too, so a resumed run cannot switch it halfway) are built once by the caller,
    which checks an earlier run's rows against the same values. `precision` is the resolved
    number format.

    The bar counts new tokens (so its rate is tokens/s) against the most the batches left can
    write; when an answer stops early its unused budget leaves the total, so the time left
    shrinks to the truth. Beside it: prompts done of prompts to do.
    """
    done, _ = load_answered(raw_path, batches, provenance)
    finished = {r["batch"] for r in done}
    todo = [b for b in range(len(batches)) if b not in finished]
    stats = {
        "new_tokens": 0,
        "seconds": 0.0,
        "batches_run": len(todo),
        "batches_reused": len(finished),
        "answers_list_done": 0,  # stopped once entry n+1 started (Sampling.stop_at_list_end)
        "precision": precision.describe() if precision else None,
    }
    if not todo:
        return stats
    # Decided on the whole run, not on what is left, so that a resumed run decodes alike.
    stats["compiled"] = len(batches) >= COMPILE_MIN_BATCHES
    answer = make_generator(model_dir, adapter_dir, precision, stats["compiled"])
    n_prompts = sum(len(batches[b]) for b in todo)
    budget = n_prompts * sampling.max_new_tokens
    fd = os.open(raw_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with (
        os.fdopen(fd, "a", encoding="utf-8") as raw,
        progress_bar(budget, "generate", unit="tok") as update,
    ):
        update(0, prompts=f"0/{n_prompts}")
        prompts_done = 0
        for b in todo:
            items = batches[b]
            texts = [p["prompt"] for p, _ in items]
            shown = 0

            def on_step(running: int) -> None:
                nonlocal shown
                shown += running
                update(running)

            started = time.perf_counter()
            lengths = [p["n_entries"] for p, _ in items]
            answers = answer(texts, sampling, batch_seed(sampling, b), on_step, lengths)
            stats["seconds"] += time.perf_counter() - started
            written = sum(a["new_tokens"] for a in answers)
            stats["answers_list_done"] += sum(bool(a.get("list_done")) for a in answers)
            stats["new_tokens"] += written
            budget -= len(items) * sampling.max_new_tokens - written
            prompts_done += len(items)
            rows = [
                raw_row(p, s, b, a, provenance) for (p, s), a in zip(items, answers, strict=False)
            ]
            append_rows(raw, rows)
            update(written - shown, total=budget, prompts=f"{prompts_done}/{n_prompts}")
    return stats
