"""The package layout holds: imports flow one way through the layers of
docs/architecture.md, no module imports a private name from another package, and no
import cycle exists between modules (imports inside functions included)."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "gra"

#: lowest first; a module may import from its own layer and the ones before it
LAYERS = [
    ["core"],
    ["io"],
    ["models"],
    ["checks"],
    ["config"],
    ["ifd"],
    ["council"],
    ["executors"],
    ["curate"],
    ["synthesis"],
    ["report"],
    ["api"],
    ["cli", "__main__"],
]
RANK = {name: i for i, names in enumerate(LAYERS) for name in names}


def modules() -> dict[str, Path]:
    out = {}
    for p in SRC.rglob("*.py"):
        parts = list(p.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(["gra", *parts])] = p
    return out


def top(module: str) -> str:
    """The layer name of ``gra.X...``: X (``gra`` itself is the API)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "api"


def imports(module: str, path: Path) -> list[tuple[str, list[str], int]]:
    """(imported module, names, line) for every gra import in the file, at any depth."""
    is_pkg = path.name == "__init__.py"
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if is_pkg else module.split(".")[:-1]
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target == "gra" or target.startswith("gra."):
                out.append((target, [a.name for a in node.names], node.lineno))
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("gra.") or a.name == "gra":
                    out.append((a.name, [], node.lineno))
    return out


def edges() -> dict[str, set[str]]:
    """module -> the gra modules it imports (``from pkg import submodule`` resolved)."""
    mods = modules()
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for m, path in mods.items():
        for target, names, _ in imports(m, path):
            subs = [f"{target}.{n}" for n in names if f"{target}.{n}" in mods]
            graph[m].update(subs or ([target] if target in mods else []))
    return graph


def test_every_package_has_a_layer():
    assert {top(m) for m in modules()} <= set(RANK)


def test_imports_flow_down_the_layers():
    wrong = []
    for m, path in modules().items():
        for target, _, line in imports(m, path):
            if target == "gra" and top(m) != "api":
                continue  # gra.__version__ and gra.__file__: the package's own metadata
            if RANK[top(target)] > RANK[top(m)]:
                wrong.append(f"{path.relative_to(SRC)}:{line} imports {target} (a higher layer)")
    assert not wrong, "\n".join(wrong)


def test_no_private_name_crosses_a_package():
    wrong = []
    for m, path in modules().items():
        for target, names, line in imports(m, path):
            if top(target) == top(m):
                continue
            for n in names:
                if n.startswith("_") and n not in ("__version__",):
                    wrong.append(f"{path.relative_to(SRC)}:{line} imports {target}.{n}")
    assert not wrong, "\n".join(wrong)


def test_no_import_cycle():
    graph = edges()
    # Tarjan's strongly connected components: any with more than one module is a cycle
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    cycles = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    for v in graph:
        if v not in index:
            visit(v)
    assert not cycles, cycles


def test_docs_architecture_names_every_package():
    """docs/architecture.md's picture stays true: every package is in it, in layer order."""
    text = (SRC.parents[1] / "docs" / "architecture.md").read_text(encoding="utf-8")
    picture = text.split("```", 2)[1]
    packages = sorted(
        {p.parent.name for p in SRC.glob("*/__init__.py")} - {"prompts"},
        key=lambda name: RANK[name],
        reverse=True,
    )
    positions = [picture.find(f"{name}/") for name in packages]
    assert all(p >= 0 for p in positions), dict(zip(packages, positions, strict=True))
    assert positions == sorted(positions), "the picture lists the layers top-down"
