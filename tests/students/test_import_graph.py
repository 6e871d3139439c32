"""Data flows teachers -> students, never back: no student module imports from speechdistill.teachers
(shared pieces such as the waveform normalisation live in speechdistill.features)."""

from __future__ import annotations

from tests.import_graph import PACKAGE_DIR, imported_modules


def test_students_do_not_import_teachers():
    modules = sorted((PACKAGE_DIR / "students").rglob("*.py"))
    assert PACKAGE_DIR / "students" / "wav2vec2.py" in modules
    assert "speechdistill.features.normalize_waveforms" in imported_modules(PACKAGE_DIR / "students" / "wav2vec2.py")
    offending = {path.name: sorted(name for name in imported_modules(path) if name.startswith("speechdistill.teachers"))
                 for path in modules}
    assert {name: found for name, found in offending.items() if found} == {}
