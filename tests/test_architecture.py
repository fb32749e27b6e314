"""The house rules that keep the package easy to change: small modules and no private names used
across modules."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "gesturegan"
MODULES = sorted(SRC.rglob("*.py"))
MAX_LINES = 500


def module_name(path: Path) -> str:
    """``src/gesturegan/a/b.py`` -> ``gesturegan.a.b`` (a package's ``__init__`` is the package)."""
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def own_imports(path: Path, tree: ast.Module) -> list[tuple[int, str, str, str]]:
    """(line, module, name, bound as) for every import of a gesturegan module or name in ``path``."""
    here = module_name(path).split(".")
    package = here if path.name == "__init__.py" else here[:-1]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            if module.split(".")[0] == "gesturegan":
                found += [(node.lineno, module, a.name, a.asname or a.name) for a in node.names]
        elif isinstance(node, ast.Import):
            found += [
                (node.lineno, a.name, "", a.asname or a.name.split(".")[0])
                for a in node.names
                if a.name.split(".")[0] == "gesturegan"
            ]
    return found


def private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def test_the_training_loop_only_orchestrates_in_under_300_lines():
    assert len((SRC / "training" / "loop.py").read_text().splitlines()) <= 300


def test_no_module_is_over_500_lines():
    long = {module_name(p): n for p in MODULES if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not long, long


def test_no_private_name_is_used_across_modules():
    crossing = []
    for path in MODULES:
        tree = ast.parse(path.read_text())
        imports = own_imports(path, tree)
        crossing += [f"{path.name}:{line} imports {m}.{n}" for line, m, n, _ in imports if private(n)]
        # ``from . import composition`` then ``composition._x``: a private name reached through a module
        bound = {alias for _, _, _, alias in imports}
        crossing += [
            f"{path.name}:{node.lineno} uses {node.value.id}.{node.attr}"
            for node in ast.walk(tree)
            if isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in bound
            and private(node.attr)
        ]
    assert not crossing, crossing


def run_layout_names() -> set[str]:
    """The file and folder names ``runs.py`` gives the run folder (its ``_NAME = "..."`` constants)."""
    tree = ast.parse((SRC / "runs.py").read_text())
    return {
        node.value.value
        for node in tree.body
        if isinstance(node, ast.Assign)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
        and all(isinstance(t, ast.Name) and private(t.id) for t in node.targets)
    }


# Generic names other folders use too (a classifier folder has its own config.yaml, the demo its
# samples/) are left out: only the names that say "run folder" are checked.
GENERIC = {"config.yaml", "logs", "samples", "eval"}


def test_only_runs_py_spells_the_run_folder_layout():
    names = run_layout_names() - GENERIC
    assert {"metrics.csv", "generator.json", "checkpoints", "progress.gif"} <= names
    spelled = [
        f"{path.name}:{node.lineno} {node.value!r}"
        for path in MODULES
        if path.name != "runs.py"
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Constant) and node.value in names
    ]
    assert not spelled, spelled
