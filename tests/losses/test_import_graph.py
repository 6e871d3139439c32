"""The loss registry lists multi_teacher and hands it a terms builder; multi_teacher must not import the
registry back (that import circle is what passing the builder removed)."""

from __future__ import annotations

import ast
from pathlib import Path

import speechdistill.losses

LOSSES_DIR = Path(speechdistill.losses.__file__).parent


def imported_modules(path: Path, package: str) -> set[str]:
    """Absolute names of every module ``path`` imports, at top level or inside functions."""
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


def test_multi_teacher_does_not_import_the_registry():
    imports = imported_modules(LOSSES_DIR / "multi_teacher.py", "speechdistill.losses")
    assert "speechdistill.losses.base" in imports  # the resolver sees relative imports
    assert not any(name.startswith("speechdistill.losses.registry") for name in imports)


def test_the_registry_builds_multi_teacher():
    imports = imported_modules(LOSSES_DIR / "registry.py", "speechdistill.losses")
    assert "speechdistill.losses.multi_teacher" in imports
