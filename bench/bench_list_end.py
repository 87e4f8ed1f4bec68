"""Generation that stops when the list is done, against generation that runs to the token limit.

The demo's own generate and clean steps (settings from the demo's planner) on a finished
demo run's tuned model and prompts, twice at the same seed: as the demo generates, and with
`stop_at_list_end`. Per variant: new tokens, seconds, tokens/s, answers stopped at their
list's end, entries kept, tokens per kept entry, success rate and duplication.

    python bench/bench_list_end.py RUN_DIR --out bench/list_end_results.json

RUN_DIR: a `synthpack demo` folder whose train step has finished (e.g. runs/demo).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import tempfile
from datetime import date
from pathlib import Path

from bench_train_step import cpu_name


def measure(run_dir: Path, stop: bool, folder: Path) -> dict:
    from synthpack.common.step import run_step
    from synthpack.demo.pipeline import synthesis_steps
    from synthpack.demo.recipes import Recipe
    from synthpack.models.precision import as_precision
    from synthpack.prepare.real_data import find_data

    settings = json.loads((run_dir / "settings.json").read_text())
    recipe = Recipe(**settings["recipe"])
    plan = synthesis_steps(recipe, find_data(None), run_dir, as_precision(None))
    runs = {s.name: s.runs[0] for s in plan if s.runs}
    generate, clean = runs["generate"], runs["clean"]
    sampling = dataclasses.replace(generate.settings.sampling, stop_at_list_end=stop)
    stats = run_step(generate.runner, dataclasses.replace(generate.settings, sampling=sampling),
                     folder)  # fmt: skip
    report = run_step(clean.runner, dataclasses.replace(clean.settings, generations=folder),
                      folder)  # fmt: skip
    by = report["by_polarity"]
    return {
        "stop_at_list_end": stop,
        "answers": report["generations"],
        "answers_list_done": stats["answers_list_done"],
        "new_tokens": stats["new_tokens"],
        "seconds": stats["seconds"],
        "tokens_per_s": stats["tokens_per_s"],
        "accepted": report["accepted"],
        "tokens_per_kept_entry": round(stats["new_tokens"] / max(1, report["accepted"]), 2),
        "rejected_by_reason": report["rejected_by_reason"],
        "success_rate": {p: v["success_rate_mean"] for p, v in by.items()},
        "duplication_rate_pct": {p: v["duplication_rate_pct"] for p, v in by.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--out", type=Path, default=Path("bench/list_end_results.json"))
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-list-end-"))
    rows = [measure(args.run_dir, stop, work / f"stop_{stop}") for stop in (False, True)]
    before, after = rows

    def down(key: str) -> float:
        return round(100 * (1 - after[key] / before[key]), 1)

    result = {"date": date.today().isoformat(), "cpu": cpu_name(), "run_dir": str(args.run_dir),
              "runs": rows, "tokens_per_kept_entry_down_pct": down("tokens_per_kept_entry"),
              "new_tokens_down_pct": down("new_tokens"), "seconds_down_pct": down("seconds"),
              "accepted_down_pct": down("accepted")}  # fmt: skip
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
