"""keep_freed_memory: glibc's thresholds raised for long jobs, never against the user's own MALLOC_ settings."""

from __future__ import annotations

import sys

import pytest

from speechdistill import allocator, cli


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")
def test_thresholds_are_raised_unless_the_user_set_malloc_variables(monkeypatch):
    for name in [n for n in allocator.os.environ if n.startswith("MALLOC_")]:
        monkeypatch.delenv(name)
    assert allocator.keep_freed_memory() is True
    monkeypatch.setenv("MALLOC_ARENA_MAX", "2")
    assert allocator.keep_freed_memory() is False


def test_long_jobs_keep_freed_memory_and_short_commands_do_not(monkeypatch, tmp_path):
    calls = []
    monkeypatch.setattr(cli, "keep_freed_memory", lambda: calls.append(True))
    assert cli.main(["distill", str(tmp_path / "missing.yaml")]) == 2  # fails on the recipe, after the call
    assert calls == [True]
    cli.main(["corpus", "stats", str(tmp_path / "missing.jsonl")])
    assert calls == [True]
