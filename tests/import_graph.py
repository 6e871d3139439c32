"""Reading a module's imports with ``ast`` (no import runs), for tests that keep the package's layers one-way."""

from __future__ import annotations

import ast
from pathlib import Path

import speechdistill

PACKAGE_DIR = Path(speechdistill.__file__).parent


def module_name(path: Path) -> str:
    """``speechdistill.losses.registry`` for .../speechdistill/losses/registry.py (a package for __init__.py)."""
    parts = path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path) -> set[str]:
    """Absolute names of every module (and ``module.name``) ``path`` imports, at top level or in functions."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[:len(package.split(".")) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names
