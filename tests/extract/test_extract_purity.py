"""`taskping.extract` is a library: it imports the standard library and itself,
nothing else of TaskPing and no third-party package (the relay, `taskping
extract` and the benchmark all use it; it uses none of them)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import taskping.extract

PACKAGE = "taskping.extract"
ROOT = Path(taskping.extract.__file__).resolve().parent


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = [p for p in rel.parts if p != "__init__"]
    return ".".join([PACKAGE, *parts])


def foreign_imports(source: str, module: str, is_package: bool) -> list[str]:
    """Every module ``source`` imports that is neither stdlib nor inside ``PACKAGE``."""
    package = module if is_package else module.rpartition(".")[0]
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
                names = [".".join([*base, node.module] if node.module else base)]
            else:
                names = [node.module or ""]
        else:
            continue
        for name in names:
            inside = name == PACKAGE or name.startswith(PACKAGE + ".")
            if not inside and name.partition(".")[0] not in sys.stdlib_module_names:
                found.append(name)
    return found


def test_the_walker_sees_what_it_must_refuse() -> None:
    """The check below would catch each way of reaching outside the package."""
    mod = f"{PACKAGE}.lines"
    assert foreign_imports("from taskping.marker import is_marker_line", mod, False) == ["taskping.marker"]
    assert foreign_imports("import taskping.relay.guard as g", mod, False) == ["taskping.relay.guard"]
    assert foreign_imports("from .. import marker", mod, False) == ["taskping"]
    assert foreign_imports("from ..relay import guard", mod, False) == ["taskping.relay"]
    assert foreign_imports("def f():\n    import structlog\n", mod, False) == ["structlog"]
    assert foreign_imports("from . import patterns\nfrom .sent import SentIndex\nimport re", mod, False) == []
    assert foreign_imports("from .bound import bound_html", PACKAGE, True) == []


def test_every_module_imports_only_stdlib_and_itself() -> None:
    files = sorted(ROOT.rglob("*.py"))
    assert len(files) >= 12  # the package, not an empty folder
    offenders = {
        _module_name(f): bad
        for f in files
        if (bad := foreign_imports(f.read_text(encoding="utf-8"), _module_name(f), f.name == "__init__.py"))
    }
    assert offenders == {}


def test_importing_it_loads_nothing_else_of_taskping() -> None:
    code = (
        "import sys, taskping.extract, taskping.extract.mime\n"
        "print('\\n'.join(sorted(m for m in sys.modules if m.split('.')[0] == 'taskping')))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    loaded = set(proc.stdout.split())
    assert PACKAGE in loaded and f"{PACKAGE}.mime" in loaded
    assert {m for m in loaded if m != "taskping" and not m.startswith(PACKAGE)} == set()
