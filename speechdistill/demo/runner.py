"""``run_demo``: check the folder, print the plan with a time estimate, run the stages, say where things are."""

from __future__ import annotations

import sys
from pathlib import Path

from .settings import DemoSettings, check_folder
from .stages import STAGES, run_stages


def say(message: str) -> None:
    print(f"speechdistill demo: {message}", file=sys.stderr, flush=True)


def run_demo(out: str | Path, settings: DemoSettings, *, force: bool = False) -> dict:
    """Run the demo into ``out``; returns the report stage's outputs (report, plot, bundle paths, ranking)."""
    out = Path(out)
    check_folder(out, settings, force)
    estimate = sum(stage.minutes(settings) for stage in STAGES)
    say(f"{len(STAGES)} stages into {out}, about {estimate:.0f} min on 2 CPU cores for a fresh run "
        f"(finished stages are reused): {', '.join(s.name for s in STAGES)}")
    outputs = run_stages(out, settings, say)
    report = outputs["report"]
    say(f"finished ({report['wall_s'] / 60:.1f} min of stage time in all)")
    print(f"report: {report['report']}\nplot:   {report['plot']}\nbundle: {report['bundle']}")
    return report
