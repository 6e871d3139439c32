"""pareto.png: WER against the one-thread real-time factor, one labelled point per model and runtime.

The points are the first manifest of the run (the main test set; the title names it). The x-axis is
logarithmic, with a line at RTF 1 (real time). Drawn on matplotlib's Agg canvas, no display needed.
"""

from __future__ import annotations

import math
from pathlib import Path

MARKERS = {"teacher": "s", "student": "o", "peer": "^"}


def pareto_points(results: dict) -> tuple[str, list[tuple[str, str, float, float]]]:
    """The plotted manifest and its ``(label, role, rtf, wer %)`` points."""
    rows = results["rows"]
    if not rows:
        raise ValueError("no result rows to plot")
    manifest = rows[0]["manifest"]
    points = [(f"{r['model']} ({r['runtime']})", r["role"], r["rtf_1thread_median"], r["wer"] * 100)
              for r in rows if r["manifest"] == manifest]
    return manifest, points


def write_pareto(path: str | Path, results: dict) -> Path:
    """Draw the plot into ``path`` (PNG); returns the path."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    manifest, points = pareto_points(results)
    figure = Figure(figsize=(7, 4.5), dpi=120)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    placed: list[tuple[float, float]] = []
    for label, role, rtf, wer in points:
        axes.scatter([rtf], [wer], marker=MARKERS.get(role, "o"), s=40)
        # points that nearly coincide (a model in several runtimes) get their labels stacked, not overprinted
        near = sum(1 for x, y in placed if abs(math.log10(max(rtf, 1e-9) / max(x, 1e-9))) < 1.0 and abs(wer - y) < 4)
        placed.append((rtf, wer))
        axes.annotate(label, (rtf, wer), textcoords="offset points", xytext=(5, 4 - 9 * near), fontsize=7)
    for role, marker in MARKERS.items():  # legend entries for the marker shapes
        axes.scatter([], [], marker=marker, color="grey", label=f"{role}s")
    axes.legend(fontsize=7, loc="best")
    axes.axvline(1.0, color="grey", linestyle=":", linewidth=1)
    axes.set_xscale("log")
    axes.margins(x=0.35, y=0.12)  # room for the labels right of the points
    axes.set_ylim(bottom=0)
    axes.set_xlabel("real-time factor, 1 thread, batch 1 (median; log scale; lower is faster)")
    axes.set_ylabel("WER (%)")
    header = results["header"]
    axes.set_title(f"{header['name']}: WER vs speed on {manifest} ({header['machine']}, 1 thread)", fontsize=8)
    axes.grid(True, which="both", alpha=0.3)
    figure.tight_layout()
    figure.savefig(str(path), format="png")
    return Path(path)
