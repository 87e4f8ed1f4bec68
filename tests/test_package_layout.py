"""The package's shape: steps import only the layers below them and the steps before them, no
import circles, click only in `synthpack.cli`, the library never imports the CLI, and every
module says why it exists.

Read from the source with `ast`, so lazy imports inside functions count too: a circle through a
function-level import is still two modules that need each other.
"""

from __future__ import annotations

import ast
from pathlib import Path

from conftest import REPO

PACKAGE = REPO / "plugins" / "synthpack"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports_of(path: Path) -> set[str]:
    """The synthpack modules a file imports (`from synthpack.x import y` names x.y when y is a
    module), and the third-party top-level names it imports."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names} & set(MODULES)
    return found


GRAPH = {
    name: {m for m in imports_of(path) if m in MODULES and m != name}
    for name, path in MODULES.items()
}


def cycles() -> list[list[str]]:
    """Every import circle, each as the list of modules around it (Tarjan's components)."""
    index, low, stack, on_stack, out = {}, {}, [], set(), []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in GRAPH[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for node in GRAPH:
        if node not in index:
            visit(node)
    return out


# The layers, lowest first: the shared foundation (`common`, then the file formats, then the
# model layer), the steps of the data flow in order, then what composes them. A module may import
# its own package and the packages before it, never one after it.
ORDER = (
    "common",
    "formats",
    "models",
    "prepare",
    "prompts",
    "sft",
    "train",
    "generate",
    "clean",
    "register",
    "evaluate",
    "report",
    "demo",
    "cli",
)


def layer(module: str) -> int:
    """A module's place in ORDER (`synthpack` itself, the version string, sits below all)."""
    parts = module.split(".")
    return ORDER.index(parts[1]) if len(parts) > 1 else -1


def layer_violations(graph: dict[str, set[str]]) -> list[tuple[str, str]]:
    return sorted(
        (name, dep) for name, deps in graph.items() for dep in deps if layer(dep) > layer(name)
    )


def test_every_package_has_a_place_in_the_order():
    packages = {name.split(".")[1] for name in MODULES if name != "synthpack"}
    assert packages == set(ORDER)


def test_a_step_imports_only_the_foundation_and_the_steps_before_it():
    assert layer_violations(GRAPH) == []


def test_the_order_rule_catches_a_step_importing_a_later_one():
    graph = {"synthpack.generate.run": {"synthpack.clean.pipeline"}}
    assert layer_violations(graph) == [("synthpack.generate.run", "synthpack.clean.pipeline")]
    assert layer_violations({"synthpack.clean.run": {"synthpack.generate.run"}}) == []


def test_the_cycle_finder_finds_a_circle():
    GRAPH["synthpack.common.labels"].add("synthpack.formats.texts")  # texts imports labels
    try:
        assert any(
            {"synthpack.common.labels", "synthpack.formats.texts"} <= set(c) for c in cycles()
        )
    finally:
        GRAPH["synthpack.common.labels"].discard("synthpack.formats.texts")


def test_no_module_imports_one_that_imports_it_back():
    assert cycles() == []


def test_only_the_cli_imports_click_and_nothing_imports_the_cli():
    for name, path in MODULES.items():
        uses_click = any(m.split(".")[0] == "click" for m in imports_of(path))
        assert uses_click == name.startswith("synthpack.cli"), name
        if not name.startswith("synthpack.cli"):
            assert not any(m.startswith("synthpack.cli") for m in GRAPH[name]), name


def test_common_depends_on_nothing_else_in_the_package():
    for name, deps in GRAPH.items():
        if name.startswith("synthpack.common"):
            assert all(d.startswith("synthpack.common") for d in deps), (name, deps)


def test_every_module_opens_with_a_docstring():
    for name, path in MODULES.items():
        assert ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))), name
