"""Build the demo's shipped real data from full copies of ToxiGen and StereoSet.

Run once, from the repository root, with the full data in a folder laid out like
`../shared/data` (toxigen/, stereoset/):

    python dataset_info/demo/make_subset.py ../shared/data dataset_info/demo

Standard library only, seeded, so the same sources give the same bytes (a test checks it).
What it takes and why: SOURCE.md beside this file.
"""

from __future__ import annotations

import csv
import io
import json
import random
import re
import shutil
import sys
import unicodedata
from collections import defaultdict
from pathlib import Path

SEED = 16
N_TRAIN = 600  # the scarce-data setting: a few hundred real training texts
N_EVAL = 1000  # held out; the demo scores every classifier on it
N_STEREOSET = 300  # intrasentence examples, evenly spaced through dev.json
TOXIC_ABOVE = 5.5  # toxic iff toxicity_ai + toxicity_human > 5.5 (ToxiGen's SOURCE.md)


def same_text_key(text: str) -> str:
    """synthpack's "same text" rule (common.labels.text_key): NFKC, case-folded, punctuation
    dropped, single spaces; written out here so the script needs nothing but Python."""
    text = unicodedata.normalize("NFKC", text).casefold()
    return " ".join(re.sub(r"[^\w\s]+", " ", text).split())


def toxic(row: dict) -> bool:
    return float(row["toxicity_ai"]) + float(row["toxicity_human"]) > TOXIC_ABOVE


def split_annotated(rows: list[dict]) -> tuple[list[dict], list[dict]]:
    """Stratified by (target group, toxic): each stratum gives train and eval their share.

    A text that occurs twice (by synthpack's "same text" rule) is kept once, so no text is on
    both sides.
    """
    seen, unique = set(), []
    for row in rows:
        key = same_text_key(row["text"])
        if key not in seen:
            seen.add(key)
            unique.append(row)
    strata = defaultdict(list)
    for row in unique:
        strata[(row["target_group"], toxic(row))].append(row)
    keys = sorted(strata)
    sizes = [len(strata[k]) for k in keys]
    rng = random.Random(SEED)
    train, evaluation = [], []
    for key, n_eval, n_train in zip(keys, shares(sizes, N_EVAL), shares(sizes, N_TRAIN)):
        members = strata[key]
        rng.shuffle(members)
        evaluation += members[:n_eval]
        train += members[n_eval : n_eval + n_train]
    order = {id(row): i for i, row in enumerate(unique)}  # back into file order
    return sorted(train, key=lambda r: order[id(r)]), sorted(evaluation, key=lambda r: order[id(r)])


def shares(sizes: list[int], n: int) -> list[int]:
    """n split in proportion to sizes, exactly (largest remainders get the leftover rows)."""
    total = sum(sizes)
    quotas = [n * size / total for size in sizes]
    counts = [int(q) for q in quotas]
    by_remainder = sorted(range(len(sizes)), key=lambda i: (counts[i] - quotas[i], i))
    for i in by_remainder[: n - sum(counts)]:
        counts[i] += 1
    return counts


def write_csv(path: Path, header: list[str], rows: list[dict]) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, header, lineterminator="\r\n")  # CRLF, as upstream
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(buffer.getvalue(), encoding="utf-8", newline="")


def main(source: Path, out: Path) -> None:
    toxigen, stereoset = source / "toxigen", source / "stereoset"
    (out / "toxigen" / "annotated").mkdir(parents=True, exist_ok=True)
    (out / "stereoset").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(toxigen / "LICENSE.txt", out / "toxigen" / "LICENSE.txt")
    shutil.copyfile(stereoset / "LICENSE.md", out / "stereoset" / "LICENSE.md")

    demos = out / "toxigen" / "demonstrations"
    shutil.rmtree(demos, ignore_errors=True)
    shutil.copytree(toxigen / "demonstrations", demos)  # all 30 files, unchanged

    with (toxigen / "annotated" / "annotated_train.csv").open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        header, rows = list(reader.fieldnames), list(reader)
    train, evaluation = split_annotated(rows)
    write_csv(out / "toxigen" / "annotated" / "train.csv", header, train)
    write_csv(out / "toxigen" / "annotated" / "eval.csv", header, evaluation)

    dev = json.loads((stereoset / "dev.json").read_text(encoding="utf-8"))
    intra = dev["data"]["intrasentence"]
    picked = [intra[i * len(intra) // N_STEREOSET] for i in range(N_STEREOSET)]
    subset = {"version": dev["version"], "data": {"intrasentence": picked}}
    text = json.dumps(subset, ensure_ascii=False, separators=(",", ":")) + "\n"
    (out / "stereoset" / "dev_intrasentence_300.json").write_text(text, encoding="utf-8")

    for name, part in (("train", train), ("eval", evaluation)):
        n_toxic = sum(toxic(r) for r in part)
        print(f"toxigen {name}: {len(part)} rows, {n_toxic} toxic, {len(part) - n_toxic} not")
    print(f"stereoset intrasentence: {len(picked)} examples")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    main(Path(sys.argv[1]), Path(sys.argv[2]))
