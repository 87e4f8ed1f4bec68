"""Build the demo's shipped real data from full copies of ToxiGen, StereoSet, ParaDetox and
CrowS-Pairs.

Run once, from the repository root, with the full data in a folder laid out like
`../shared/data` (toxigen/, stereoset/, paradetox/, crows_pairs/):

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
from collections import Counter, defaultdict
from pathlib import Path

SEED = 16
N_TRAIN = 600  # the scarce-data setting: a few hundred real training texts
N_EVAL = 1000  # held out; the demo scores every classifier on it
N_STEREOSET = 300  # intrasentence examples, evenly spaced through dev.json
N_PARADETOX = 2400  # toxic sentences with their paraphrases; the demo holds 400 out for its test
N_CROWS = 300  # CrowS-Pairs pairs, evenly spaced through the file
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
    for key, n_eval, n_train in zip(
        keys, shares(sizes, N_EVAL), shares(sizes, N_TRAIN), strict=True
    ):
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


def pick_paradetox(rows: list[dict]) -> tuple[list[dict], Counter]:
    """N_PARADETOX rows, seeded, in file order, and the count of rows dropped per reason.

    Only rows with a paraphrase (nothing to learn otherwise), with no newline or tab in a field
    (one physical line per row), and the first row of each toxic text by the "same text" rule
    (so the demo's split by source sentence cannot put one sentence on both sides).
    """
    kept, dropped, seen = [], Counter(), set()
    for row in rows:
        key = same_text_key(row["toxic"])
        if not any(value.strip() for field, value in row.items() if field != "toxic"):
            dropped["no neutral paraphrase"] += 1
        elif any(char in value for value in row.values() for char in "\n\r\t"):
            dropped["newline or tab in a field"] += 1
        elif key in seen:
            dropped["same toxic text as an earlier row"] += 1
        else:
            seen.add(key)
            kept.append(row)
    chosen = sorted(random.Random(SEED).sample(range(len(kept)), N_PARADETOX))
    return [kept[i] for i in chosen], dropped


def paradetox_tsv(header: list[str], rows: list[dict]) -> str:
    """ParaDetox's TSV dialect, values unchanged; fails unless it reads back to the same rows,
    one physical line each."""
    buffer = io.StringIO()
    writer = csv.DictWriter(
        buffer, header, delimiter="\t", lineterminator="\n", quoting=csv.QUOTE_MINIMAL
    )
    writer.writeheader()
    writer.writerows(rows)
    text = buffer.getvalue()
    back = list(csv.DictReader(io.StringIO(text, newline=""), delimiter="\t"))
    if back != rows or text.count("\n") != len(rows) + 1:
        raise SystemExit("paradetox: the written TSV does not read back to the same rows")
    return text


def evenly_spaced_records(text: str, n: int) -> str:
    """The header and n records evenly spaced through a CSV (record i * total // n), each
    copied as its own physical lines, byte for byte (a quoted field may hold a newline)."""
    lines = io.StringIO(text, newline="").readlines()
    reader, spans, start = csv.reader(iter(lines)), [], 0
    for _ in reader:
        spans.append((start, reader.line_num))
        start = reader.line_num
    header, records = spans[0], spans[1:]
    picked = [header] + [records[i * len(records) // n] for i in range(n)]
    return "".join("".join(lines[first:end]) for first, end in picked)


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

    paradetox, crows = source / "paradetox", source / "crows_pairs"
    (out / "paradetox").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(paradetox / "LICENSE", out / "paradetox" / "LICENSE")
    with (paradetox / "paradetox.tsv").open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f, delimiter="\t")
        header, rows = list(reader.fieldnames), list(reader)
    pairs, dropped = pick_paradetox(rows)
    text = paradetox_tsv(header, pairs)
    (out / "paradetox" / f"paradetox_{N_PARADETOX}.tsv").write_text(
        text, encoding="utf-8", newline=""
    )

    # CrowS-Pairs states CC BY-SA 4.0 in its README and ships no licence file: StereoSet's
    # LICENSE.md is that licence's legal code.
    (out / "crows_pairs").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(stereoset / "LICENSE.md", out / "crows_pairs" / "LICENSE.md")
    text = (crows / "crows_pairs_anonymized.csv").read_bytes().decode("utf-8")  # lines as they are
    (out / "crows_pairs" / f"crows_pairs_{N_CROWS}.csv").write_text(
        evenly_spaced_records(text, N_CROWS), encoding="utf-8", newline=""
    )

    for name, part in (("train", train), ("eval", evaluation)):
        n_toxic = sum(toxic(r) for r in part)
        print(f"toxigen {name}: {len(part)} rows, {n_toxic} toxic, {len(part) - n_toxic} not")
    print(f"stereoset intrasentence: {len(picked)} examples")
    n_pairs = sum(bool(v.strip()) for row in pairs for f, v in row.items() if f != "toxic")
    print(f"paradetox: {len(pairs)} of {len(rows)} rows, {n_pairs} pairs; dropped {dict(dropped)}")
    print(f"crows-pairs: {N_CROWS} pairs")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    main(Path(sys.argv[1]), Path(sys.argv[2]))
