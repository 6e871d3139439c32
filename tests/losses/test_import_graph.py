"""The loss registry lists multi_teacher and hands it a terms builder; multi_teacher must not import the
registry back (that import circle is what passing the builder removed)."""

from __future__ import annotations

from tests.import_graph import PACKAGE_DIR, imported_modules

LOSSES_DIR = PACKAGE_DIR / "losses"


def test_multi_teacher_does_not_import_the_registry():
    imports = imported_modules(LOSSES_DIR / "multi_teacher.py")
    assert "speechdistill.losses.base" in imports  # the resolver sees relative imports
    assert not any(name.startswith("speechdistill.losses.registry") for name in imports)


def test_the_registry_builds_multi_teacher():
    assert "speechdistill.losses.multi_teacher" in imported_modules(LOSSES_DIR / "registry.py")
