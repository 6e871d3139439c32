"""Progress bars that suit where they are written: a redrawn tqdm bar on a terminal, plain lines elsewhere.

A tqdm bar redraws itself with carriage returns many times a second; sent to a log file or a pipe, that is
thousands of frames in one line. Off a terminal, :func:`progress_bar` returns a :class:`LineProgress`
instead, which writes one ordinary line per tenth of the work (or per ``LINE_INTERVAL_S`` when a tenth
is slow or the total is unknown), so a log still shows count, rate and time left.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable, Iterator
from typing import IO, Any

from tqdm import tqdm

LINE_INTERVAL_S = 60.0  # off a terminal, the longest a running job goes without a progress line
LINE_STEPS = 10  # off a terminal, a line each time another 1/LINE_STEPS of the total is done


def is_terminal(stream: IO[str] | None = None) -> bool:
    """Whether ``stream`` (default: stderr) is an interactive terminal."""
    stream = sys.stderr if stream is None else stream
    isatty = getattr(stream, "isatty", None)
    return bool(isatty is not None and isatty())


class LineProgress:
    """A progress counter that writes plain lines (no carriage returns), for logs and pipes.

    Supports the part of tqdm's interface the package uses: iteration over ``iterable``, ``update``,
    ``set_postfix``, ``close`` and use as a context manager. ``initial`` counts work done before this run
    (a resumed job): it is shown in the count but not in the rate.
    """

    def __init__(self, iterable: Iterable | None = None, *, total: int | None = None, desc: str = "",
                 unit: str = "it", initial: int = 0, file: IO[str] | None = None,
                 clock: Callable[[], float] = time.monotonic):
        if total is None and hasattr(iterable, "__len__"):
            total = len(iterable)
        self.iterable, self.total, self.desc, self.unit = iterable, total, desc, unit
        self.n = self.initial = initial
        self.file, self.clock = file, clock
        self.postfix = ""
        self.started = self.last_line_t = clock()
        self.last_line_n = initial
        self.closed = False

    def __iter__(self) -> Iterator:
        try:
            for item in self.iterable:
                yield item
                self.update()
        finally:
            self.close()

    def __enter__(self) -> LineProgress:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def update(self, n: int = 1) -> None:
        """Count ``n`` more units done; write a line if another step is done or the interval has passed."""
        self.n += n
        if self._due():
            self._write()

    def set_postfix(self, **values: Any) -> None:
        """Figures appended to the next lines (``loss=0.123``), as tqdm shows them after the rate."""
        self.postfix = ", ".join(f"{key}={value}" for key, value in values.items())

    def close(self) -> None:
        """Write the final count, unless the last line already showed it."""
        if not self.closed and self.n != self.last_line_n:
            self._write()
        self.closed = True

    def _due(self) -> bool:
        if self.clock() - self.last_line_t >= LINE_INTERVAL_S:
            return True
        if not self.total:
            return False
        step = self.total / LINE_STEPS
        return int(self.n / step) > int(self.last_line_n / step)

    def _write(self) -> None:
        now = self.clock()
        elapsed = now - self.started
        rate = (self.n - self.initial) / elapsed if elapsed > 0 else 0.0
        count = f"{100 * self.n / self.total:.0f}% {self.n}/{self.total}" if self.total else f"{self.n}"
        parts = [f"{self.desc + ': ' if self.desc else ''}{count} {self.unit}"]
        speed = f"{rate:.1f} {self.unit}/s" if rate >= 1 or rate == 0 else f"{1 / rate:.1f} s/{self.unit}"
        parts.append(f"{speed}, elapsed {tqdm.format_interval(elapsed)}")
        if self.total and rate > 0 and self.n < self.total:
            parts.append(f"left {tqdm.format_interval((self.total - self.n) / rate)}")
        if self.postfix:
            parts.append(self.postfix)
        file = sys.stderr if self.file is None else self.file
        file.write(", ".join(parts) + "\n")
        file.flush()
        self.last_line_t, self.last_line_n = now, self.n


Progress = tqdm | LineProgress


def progress_bar(iterable: Iterable | None = None, *, total: int | None = None, desc: str = "", unit: str = "it",
                 initial: int = 0, disable: bool = False, file: IO[str] | None = None) -> Progress:
    """The progress display every bar in the package goes through (writes to ``file``, default stderr).

    On a terminal: a tqdm bar. Elsewhere (a log file, a pipe): a :class:`LineProgress` writing a few plain
    lines. ``disable``: a tqdm bar that shows nothing (same interface, no output).
    """
    if disable or is_terminal(file):
        return tqdm(iterable, total=total, desc=desc, unit=unit, initial=initial, disable=disable, file=file,
                    dynamic_ncols=True)
    return LineProgress(iterable, total=total, desc=desc, unit=unit, initial=initial, file=file)
