"""The dataset card (README.md, Hugging Face format) written beside every cleaned set.

Peers (distilabel, DataDreamer) ship a card with every generated set so that a reader learns
what it is, how it was made and how to make it again without the run's logs. The card is
rebuilt from the set's own files (report.json, raw.jsonl's provenance, the prompts and their
manifests), so it cannot disagree with them; `synthpack register` adds where the set is
registered. No generated text ever goes into the card.
"""

from __future__ import annotations

import json
import re
import shlex
import sys
from pathlib import Path

import yaml

from synthpack.clean.files import CARD, CARD_INFO, CleanedFiles
from synthpack.common.files import atomic_write_text, read_jsonl
from synthpack.generate.run import RAW

WARNING = (
    "**Content warning.** The positive entries were generated on purpose to be harmful "
    "({category}); they are training data for classifiers that detect such text, not text to "
    "publish. Keep the files owner-only and read them only where you need to."
)
KNOWN_LICENCES = {  # phrase in a seed folder's SOURCE.md or LICENSE -> Hugging Face identifier
    "CDLA-Permissive-2.0": "cdla-permissive-2.0",
    "Apache-2.0": "apache-2.0",
    "Apache License": "apache-2.0",
    "MIT License": "mit",
    "CC BY-SA 4.0": "cc-by-sa-4.0",
    "CC BY 4.0": "cc-by-4.0",
}


def size_category(n: int) -> str:
    """The Hugging Face size bucket of `n` rows."""
    for bound, name in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K")):
        if n < bound:
            return name
    return "100K<n<1M" if n < 1_000_000 else "n>1M"


def command_line(argv: list[str] | None = None) -> str:
    """The command that made the set, as one copyable shell line."""
    argv = list(sys.argv if argv is None else argv)
    if argv and Path(argv[0]).name in ("synthpack", "__main__.py"):
        argv[0] = "synthpack"
    return shlex.join(argv)


def _manifests(prompts_path: Path) -> list[dict]:
    """render's manifest.json for the prompts file: beside it, or one per stem folder below."""
    folder = Path(prompts_path).parent
    paths = [folder / "manifest.json"] if (folder / "manifest.json").exists() else []
    paths = paths or sorted(folder.glob("*/manifest.json"))
    return [json.loads(p.read_text(encoding="utf-8")) for p in paths]


def seed_origin(seed_file: str) -> dict:
    """The nearest SOURCE.md / README.md / LICENSE above a seed file, and the licence it names."""
    path = Path(seed_file)
    for folder in list(path.parents)[:3]:
        for name in ("SOURCE.md", "LICENSE.txt", "LICENSE", "README.md"):
            doc = folder / name
            if doc.is_file():
                text = doc.read_text(encoding="utf-8", errors="replace")
                licence = next((v for k, v in KNOWN_LICENCES.items() if k in text), "other")
                return {"file": seed_file, "described_in": str(doc), "license": licence}
    return {"file": seed_file, "described_in": None, "license": "other"}


def collect_facts(out_dir: Path, prompts_path: Path, settings: dict, command: str) -> dict:
    """Everything the card says, as plain data (written to OUT/card.json beside the card)."""
    out_dir = Path(out_dir)
    report = json.loads(CleanedFiles.of(out_dir).report.read_text(encoding="utf-8"))
    raw = read_jsonl(out_dir / RAW)
    prompts = read_jsonl(prompts_path)
    manifests = _manifests(prompts_path)
    seeds = sorted({f for m in manifests for f in m.get("seed_files", [])})
    return {
        "name": out_dir.name,
        "command": command,
        "generator": raw[0].get("provenance", {}) if raw else {},
        "prompts": {
            "file": str(prompts_path),
            "count": len(prompts),
            "categories": sorted({str(p.get("category")) for p in prompts}),
            "versions": sorted({str(p.get("version")) for p in prompts}),
            "polarities": sorted({str(p.get("polarity")) for p in prompts}),
            "shots": sorted({len(p.get("examples") or []) for p in prompts}),
            "n_entries": sorted({p.get("n_entries") for p in prompts if p.get("n_entries")}),
            "seed": sorted({m["seed"] for m in manifests if "seed" in m}),
        },
        "cleaning": settings,
        "report": report,
        "seeds": [seed_origin(f) for f in seeds],
        "registered": {},
    }


def _header(facts: dict) -> dict:
    report = facts["report"]
    licences = sorted({s["license"] for s in facts["seeds"]} - {"other"})
    return {
        "license": licences[0] if len(licences) == 1 else "other",
        "language": ["en"],
        "task_categories": ["text-classification"],
        "size_categories": [size_category(report["accepted"])],
        "pretty_name": f"synthpack {facts['name']}",
        "tags": ["synthetic", "synthpack", "content-warning", "not-for-all-audiences"]
        + [f"category:{c}" for c in facts["prompts"]["categories"]],
        "dataset_info": {
            "features": [
                {"name": "text", "dtype": "string"},
                {"name": "label", "dtype": "int64"},
            ],
            "splits": [{"name": "train", "num_examples": report["accepted"]}],
        },
    }


def _table(head: list[str], rows: list[list]) -> list[str]:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    return lines + [
        "| " + " | ".join("-" if c is None else str(c) for c in row) + " |" for row in rows
    ]


def _served(generation: dict) -> list[str]:
    """Which servers answered, for answers from `generate --endpoint`."""
    per_endpoint = generation.get("per_endpoint")
    if not per_endpoint:
        return []
    served = ", ".join(f"`{url}` ({c['answered']})" for url, c in per_endpoint.items())
    failed = generation.get("failed") or 0
    note = f"; {failed} prompt(s) got no answer" if failed else ""
    heading = "Answers from OpenAI-compatible servers (prompts each answered in the last run)"
    return [f"{heading}: {served}{note}.", ""]


def _conditions(by_polarity: dict) -> list[str]:
    """Kept entries per target group and attribute value (conditioned prompts only)."""
    counted = {p: s for p, s in by_polarity.items() if s.get("by_group")}
    if not counted:
        return []
    polarities = list(counted)
    groups = sorted({g for s in counted.values() for g in s["by_group"]})
    total = sum(counted[p]["accepted"] for p in polarities)
    rows = [[g, *(counted[p]["by_group"].get(g, 0) for p in polarities)] for g in groups]
    rows.append(["total", *(counted[p]["accepted"] for p in polarities)])
    rows = [[*row, round(100 * sum(row[1:]) / total, 1) if total else 0.0] for row in rows]
    lines = ["Kept entries per target group (each prompt asked for one group):", ""]
    lines += [*_table(["group", *polarities, "% of kept"], rows), ""]
    attributes = [
        [p, axis, value, n]
        for p in polarities
        for axis, values in counted[p]["by_attribute"].items()
        for value, n in values.items()
    ]
    if attributes:
        lines += [*_table(["polarity", "attribute", "value", "kept"], attributes), ""]
    return lines


def render_card(facts: dict) -> str:
    """The card's text: YAML header, then what it is, how it was made and how to redo it."""
    report, prompts, gen = facts["report"], facts["prompts"], facts["generator"]
    category = ", ".join(prompts["categories"])
    sampling = gen.get("sampling") or {}
    lines = [
        "---",
        yaml.safe_dump(_header(facts), sort_keys=False).rstrip(),
        "---",
        "",
        f"# {facts['name']}: synthetic {category} data made with synthpack",
        "",
        WARNING.format(category=category),
        "",
        "## What it is",
        "",
        f"{report['accepted']} entries labelled harmful (1) or harmless (0) for the category "
        f"{category}, generated by a language model from {prompts['count']} prompts and cleaned "
        "(parsed, filtered, deduplicated). Files: `accepted.jsonl` (the set), `rejected.jsonl` "
        "(every dropped entry with its reason), `alpaca.json` (LLaMA-Factory SFT records), "
        "`report.json` (the numbers below), `raw.jsonl` (the model's answers).",
        "",
        "## Generator",
        "",
        *_table(
            ["model", "adapter", "backend", "temperature", "top_p", "max_new_tokens", "seed"],
            [
                [
                    gen.get("model"),
                    gen.get("adapter"),
                    gen.get("backend"),
                    sampling.get("temperature"),
                    sampling.get("top_p"),
                    sampling.get("max_new_tokens"),
                    sampling.get("seed"),
                ]
            ],
        ),  # fmt: skip
        "",
        *(
            [f"Answers read from LLaMA-Factory's predictions: `{gen['predictions']}`.", ""]
            if gen.get("predictions")
            else []
        ),
        *_served(report.get("generation") or {}),
        "## Prompts",
        "",
        *_table(
            ["file", "prompts", "category", "versions", "polarities", "shots", "n_entries"],
            [
                [
                    prompts["file"],
                    prompts["count"],
                    category,
                    ", ".join(prompts["versions"]),
                    ", ".join(prompts["polarities"]),
                    ", ".join(map(str, prompts["shots"])),
                    ", ".join(map(str, prompts["n_entries"])),
                ]
            ],
        ),  # fmt: skip
        "",
        "## Cleaning",
        "",
        "Settings: "
        + ", ".join(f"{k} {json.dumps(v)}" for k, v in facts["cleaning"].items())
        + ".",
        "",
        f"Entries parsed {report['entries_parsed']} = accepted {report['accepted']} + "
        f"rejected {report['rejected']}; refusal rate {report['refusal_rate']:.2%}.",
        "",
        *_table(["reason", "entries"], [[k, v] for k, v in report["rejected_by_reason"].items()]),
        "",
        *_table(
            ["polarity", "kept", "duplication rate %", "duplicated entries", "success rate"],
            [
                [
                    p,
                    s["accepted"],
                    s["duplication_rate_pct"],
                    s["duplicated_entries"],
                    s["success_rate_mean"],
                ]
                for p, s in report["by_polarity"].items()
            ],
        ),  # fmt: skip
        "",
        *_conditions(report["by_polarity"]),
    ]
    if report.get("label_check"):
        lines += ["## Label check", "", "```json", json.dumps(report["label_check"], indent=2)]
        lines += ["```", ""]
    lines += ["## Seed data", ""]
    lines += [
        f"- `{s['file']}`: licence {s['license']}; origin: "
        + (f"`{s['described_in']}`" if s["described_in"] else "not documented")
        for s in facts["seeds"]
    ] or ["- not recorded (the prompts file has no render manifest beside it)"]
    lines += ["", "## Use with LLaMA-Factory", ""]
    lines += [
        f"- registered as `{name}` in `{where}`" for name, where in facts["registered"].items()
    ] or ["- not registered yet: `synthpack register` (or `generate --register`) adds it"]
    lines += ["", "## Reproduce", "", "```bash", facts["command"], "```", ""]
    return "\n".join(lines)


def write_card(
    out_dir: Path, prompts_path: Path, settings: dict, command: str | None = None
) -> Path:
    """Write OUT/README.md and OUT/card.json from the set's files; return the card's path."""
    facts = collect_facts(out_dir, prompts_path, settings, command or command_line())
    return _write(Path(out_dir), facts)


def derive_card(source: Path, folder: Path, report: dict) -> Path:
    """A card for a set made from a carded one (the demo's label-checked entries): the
    source's facts (generator, prompts, seeds, command) with the new set's `report`."""
    facts = json.loads((Path(source) / CARD_INFO).read_text(encoding="utf-8"))
    facts.update(name=Path(folder).name, report=report, registered={})
    return _write(Path(folder), facts)


def note_registration(data_file: Path, name: str, dataset_dir: Path) -> Path | None:
    """After `register`: add the dataset name to the card beside `data_file`, if there is one."""
    folder = Path(data_file).parent
    if not (folder / CARD_INFO).exists():
        return None
    facts = json.loads((folder / CARD_INFO).read_text(encoding="utf-8"))
    facts["registered"][name] = str(Path(dataset_dir) / "dataset_info.json")
    return _write(folder, facts)


def _write(folder: Path, facts: dict) -> Path:
    atomic_write_text(folder / CARD_INFO, json.dumps(facts, indent=2) + "\n")
    atomic_write_text(folder / CARD, render_card(facts))
    return folder / CARD


def read_header(card: Path) -> dict:
    """The YAML header of a card (for tests and for tools without huggingface_hub)."""
    match = re.match(r"---\n(.*?)\n---\n", Path(card).read_text(encoding="utf-8"), re.S)
    return yaml.safe_load(match.group(1)) if match else {}
