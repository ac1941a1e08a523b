"""The architecture's guard (ARCHITECTURE.md, "Layers"): every rule fails with the
offending module and line.

- the domain never imports Qt (checked by importing every domain module in a fresh
  interpreter), nor ``desktop.context``, ``ui``, ``workers`` or ``commands``;
- ``library`` imports neither retrieval nor chat;
- no module's SQL names a table another package owns (``desktop.workspace.schema.OWNERS``);
  the migrations that shipped before packages owned their tables are frozen as they are;
- the UI and the commands never build a store or run SQL: they call front doors;
- there are no import cycles.
"""

from __future__ import annotations

import ast
import pkgutil
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import desktop
from desktop.workspace.schema import MIGRATIONS, OWNERS

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "desktop"
OUTER = (
    "desktop.ui",
    "desktop.workers",
    "desktop.app",
    "desktop.__main__",
    "desktop.cli",
    "desktop.commands",
    "desktop.context",
    "desktop.selftest",
    "desktop.warmup",
)
"""Entry, UI, workers and commands; everything else is the domain."""
FROZEN_MIGRATIONS = 9
"""Migrations up to this version shipped before each package owned its tables."""
STORE_CLASSES = re.compile(r"^(\w*Store|Library|ChatHistory|Workspace|SearchLog)$")


@dataclass(frozen=True)
class Import:
    module: str
    target: str
    line: int


def _module_name(path: Path) -> str:
    name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
    return name.removesuffix(".__init__")


MODULES = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
TREES = {name: ast.parse(path.read_text(encoding="utf-8")) for name, path in MODULES.items()}


def _type_checking(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def _imports(name: str) -> list[Import]:
    found: list[Import] = []
    is_package = MODULES[name].name == "__init__.py"

    def walk(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if _type_checking(child):
                continue
            if isinstance(child, ast.Import):
                found.extend(Import(name, a.name, child.lineno) for a in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    parts = name.split(".") if is_package else name.split(".")[:-1]
                    parts = parts[: len(parts) - (child.level - 1)]
                    base = ".".join(parts + ([base] if base else []))
                found.append(Import(name, base, child.lineno))
                found.extend(Import(name, f"{base}.{a.name}", child.lineno) for a in child.names)
            walk(child)

    walk(TREES[name])
    return found


IMPORTS = {name: _imports(name) for name in MODULES}


def _is_domain(name: str) -> bool:
    return name != "desktop" and not name.startswith(OUTER)


def _where(module: str, line: int) -> str:
    return f"{MODULES[module].relative_to(ROOT)}:{line}"


def _source_line(module: str, line: int) -> str:
    return MODULES[module].read_text(encoding="utf-8").splitlines()[line - 1].strip()


def domain_modules() -> list[str]:
    return [
        info.name
        for info in pkgutil.walk_packages(desktop.__path__, "desktop.")
        if _is_domain(info.name)
    ]


def test_domain_modules_do_not_import_qt() -> None:
    modules = domain_modules()
    assert "desktop.workspace.store" in modules
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "bad = sorted(m for m in sys.modules if m.startswith('PySide6'))\n"
        "print(bad)\n"
        "sys.exit(1 if bad else 0)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_domain_imports_nothing_outside_it() -> None:
    bad = [
        f"{_where(i.module, i.line)}: {_source_line(i.module, i.line)}"
        for name, imports in IMPORTS.items()
        if _is_domain(name)
        for i in imports
        if i.target.startswith(OUTER) or i.target.startswith("PySide6")
    ]
    assert not bad, "domain modules importing the UI, workers, commands or context:\n" + "\n".join(
        bad
    )


def test_the_library_knows_nothing_of_retrieval_or_chat() -> None:
    bad = [
        f"{_where(i.module, i.line)}: {_source_line(i.module, i.line)}"
        for name, imports in IMPORTS.items()
        if name.startswith("desktop.library")
        for i in imports
        if i.target.startswith(("desktop.retrieval", "desktop.chat"))
    ]
    assert not bad, "\n".join(bad)


def _owner(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:2])


SQL_NAME = re.compile(r"\b(?:FROM|JOIN|INTO|UPDATE|TABLE|ON)\s+([A-Za-z_][A-Za-z0-9_]*)")
"""The project writes SQL keywords in capitals; prose ("from documents") is not SQL."""
FROZEN_SQL = {m.sql for m in MIGRATIONS if m.version <= FROZEN_MIGRATIONS}


def _sql_strings(tree: ast.AST) -> list[tuple[int, str]]:
    strings = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            strings.append((node.lineno, node.value))
        elif isinstance(node, ast.JoinedStr):
            text = "".join(
                part.value if isinstance(part, ast.Constant) else "{}" for part in node.values
            )
            strings.append((node.lineno, text))
    return strings


def test_sql_names_only_the_tables_of_its_own_package() -> None:
    bad = []
    for name, tree in TREES.items():
        owner = _owner(name)
        for line, text in _sql_strings(tree):
            if text in FROZEN_SQL:
                continue
            for table in SQL_NAME.findall(text):
                table_owner = OWNERS.get(table)
                if table_owner is not None and table_owner != owner:
                    bad.append(f"{_where(name, line)}: names {table} (owned by {table_owner})")
    assert not bad, "SQL naming another package's table:\n" + "\n".join(bad)


def test_the_ui_and_the_commands_call_front_doors() -> None:
    """No store built by hand, no SQL: the window and ``ragtune`` reach data only through
    the front doors, so the two cannot drift apart."""
    bad = []
    for name, tree in TREES.items():
        if not name.startswith(("desktop.ui", "desktop.commands")):
            continue
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if STORE_CLASSES.match(called) or called in ("execute", "executemany", "connection"):
                bad.append(f"{_where(name, node.lineno)}: {_source_line(name, node.lineno)}")
    assert not bad, "UI or command code building stores or running SQL:\n" + "\n".join(bad)


def test_there_are_no_import_cycles() -> None:
    graph = {
        name: {i.target for i in imports if i.target in MODULES and i.target != name}
        for name, imports in IMPORTS.items()
    }
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    counter = [0]
    sys.setrecursionlimit(10_000)

    def connect(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in graph:
        if v not in index:
            connect(v)
    described = []
    for cycle in cycles:
        members = set(cycle)
        edges = [
            f"  {_where(i.module, i.line)}: {_source_line(i.module, i.line)}"
            for name in cycle
            for i in IMPORTS[name]
            if i.target in members and i.target != name
        ]
        described.append("cycle: " + " ".join(cycle) + "\n" + "\n".join(edges))
    assert not cycles, "\n".join(described)
