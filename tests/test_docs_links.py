"""The docs hold together: relative links resolve, the README stays a front page.

Reads Markdown files only (no synthpack import), so it runs before the package is installed.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[1]
README_MAX_LINES = 250

# Inline links and images: [text](target) or [text](target "title"); the text may hold
# brackets one level deep (e.g. [`a[0]`](b)).
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
FENCE = re.compile(r"^\s*(```|~~~)")
HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")


def doc_files() -> list[Path]:
    """Every Markdown file whose links are checked."""
    files = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
    files += [REPO / "templates" / "README.md", REPO / "eval" / "README.md"]
    files.append(REPO / "bench" / "RESULTS.md")
    return [f for f in files if f.is_file()]


def prose_lines(text: str, keep_code: bool = False) -> list[tuple[int, str]]:
    """(line number, line) outside fenced code blocks; inline code spans blanked unless kept
    (link targets inside code are not links, but headings keep their code text)."""
    lines, fenced = [], False
    for number, line in enumerate(text.splitlines(), 1):
        if FENCE.match(line):
            fenced = not fenced
        elif not fenced:
            if not keep_code:
                line = re.sub(r"`[^`]*`", lambda m: " " * len(m.group()), line)
            lines.append((number, line))
    return lines


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link keeps its text
    text = re.sub(r"<[^>]+>", "", text).replace("`", "").lower()
    kept = "".join(
        ch
        for ch in text
        if ch in " -_" or unicodedata.category(ch)[0] in "LN" or unicodedata.category(ch) == "Mn"
    )
    return kept.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Every heading anchor of a Markdown file, with GitHub's -1, -2 suffixes for repeats."""
    seen: dict[str, int] = {}
    found = set()
    for _, line in prose_lines(path.read_text(encoding="utf-8"), keep_code=True):
        match = HEADING.match(line)
        if not match:
            continue
        base = slug(match.group(2))
        count = seen.get(base, 0)
        found.add(base if count == 0 else f"{base}-{count}")
        seen[base] = count + 1
    return found


def relative_links(path: Path) -> list[tuple[int, str]]:
    """(line, target) of every link that is not external (no scheme, not mail)."""
    links = []
    for number, line in prose_lines(path.read_text(encoding="utf-8")):
        for target in LINK.findall(line):
            if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", target):  # http:, https:, mailto:
                continue
            links.append((number, target))
    return links


def test_the_checked_files_exist():
    names = {f.relative_to(REPO).as_posix() for f in doc_files()}
    assert {"README.md", "templates/README.md", "eval/README.md", "bench/RESULTS.md"} <= names
    assert any(name.startswith("docs/") for name in names), "docs/ has no Markdown page"


@pytest.mark.parametrize("doc", doc_files(), ids=lambda p: p.relative_to(REPO).as_posix())
def test_every_relative_link_resolves(doc):
    problems = []
    for line, target in relative_links(doc):
        file_part, _, anchor = target.partition("#")
        resolved = (doc.parent / file_part).resolve() if file_part else doc
        where = f"{doc.relative_to(REPO)}:{line}: {target}"
        if not resolved.exists():
            problems.append(f"{where}: no such file")
            continue
        if anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
            problems.append(f"{where}: no heading with anchor #{anchor} in {resolved.name}")
    assert not problems, "\n".join(problems)


def test_readme_is_a_front_page():
    lines = (REPO / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines (at most 250)"


def test_readme_links_every_docs_page():
    readme = REPO / "README.md"
    linked = {
        (readme.parent / target.partition("#")[0]).resolve() for _, target in relative_links(readme)
    }
    missing = [
        page.relative_to(REPO).as_posix()
        for page in sorted((REPO / "docs").iterdir())
        if page.is_file() and page.resolve() not in linked
    ]
    assert not missing, f"README.md does not link: {', '.join(missing)}"


@pytest.mark.parametrize(
    "heading, anchor",
    [
        ("Install", "install"),
        (
            "The fast CPU path: bf16 (`synthpack --precision`)",
            "the-fast-cpu-path-bf16-synthpack---precision",
        ),
        (
            "The default demo and the --full run, timed (2026-12-04)",
            "the-default-demo-and-the---full-run-timed-2026-12-04",
        ),
        (
            "Debias evaluation (`synthpack eval stereoset | crows-pairs | debias`)",
            "debias-evaluation-synthpack-eval-stereoset--crows-pairs--debias",
        ),
        (
            "Fourth sweep: the decision threshold (2026-12-04, 15:45-16:05 UTC)",
            "fourth-sweep-the-decision-threshold-2026-12-04-1545-1605-utc",
        ),
    ],
)
def test_slug_follows_github(heading, anchor):
    assert slug(heading) == anchor
