"""The CLI parses arguments, calls services inside a job and prints: it holds no SQL of its own."""

from __future__ import annotations

import ast
from pathlib import Path

import perfhub.cli

CLI = Path(perfhub.cli.__file__).parent
# Session methods that run statements; a command that needs one calls a service instead.
STATEMENT_METHODS = {"query", "execute", "scalar", "scalars", "get"}


def test_commands_hold_no_sql() -> None:
    found = []
    for path in sorted(CLI.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sqlalchemy"):
                # The Session type in signatures is fine; statements are not.
                found += [f"{path.name}: imports {a.name}" for a in node.names if a.name != "Session"]
            elif isinstance(node, ast.Import):
                found += [
                    f"{path.name}: imports {a.name}" for a in node.names if a.name.startswith("sqlalchemy")
                ]
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in STATEMENT_METHODS
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "session"
            ):
                found.append(f"{path.name}:{node.lineno}: session.{node.func.attr}(...)")
    assert found == []


def test_every_module_stays_small() -> None:
    sizes = {path.name: len(path.read_text(encoding="utf-8").splitlines()) for path in CLI.glob("*.py")}
    assert max(sizes.values()) <= 400, sizes
