"""Progress output: a redrawn tqdm bar on a terminal, a few plain lines in a log file or a pipe."""

from __future__ import annotations

import io

from tqdm import tqdm

from speechdistill.progress import LINE_INTERVAL_S, LINE_STEPS, LineProgress, progress_bar


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_off_a_terminal_1000_items_make_a_few_plain_lines():
    log = io.StringIO()
    items = list(progress_bar(range(1000), desc="synthesising", unit="utt", file=log))
    text = log.getvalue()
    lines = text.splitlines()
    assert items == list(range(1000))
    assert "\r" not in text and text.endswith("\n")
    assert len(lines) == LINE_STEPS
    assert lines[0].startswith("synthesising: 10% 100/1000 utt,") and "utt/s" in lines[0]
    assert lines[-1].startswith("synthesising: 100% 1000/1000 utt,")


def test_updates_and_postfix_off_a_terminal():
    log = io.StringIO()
    with progress_bar(total=40, initial=10, desc="train", unit="upd", file=log) as bar:
        for _ in range(30):
            bar.update()
            bar.set_postfix(loss="0.500")
    lines = log.getvalue().splitlines()
    assert "\r" not in log.getvalue()
    assert [line.split()[2] for line in lines] == [f"{n}/40" for n in (12, 16, 20, 24, 28, 32, 36, 40)]
    assert lines[-1].startswith("train: 100% 40/40 upd,") and lines[-1].endswith("loss=0.500")


def test_a_slow_job_writes_a_line_per_interval_and_the_last_count_on_close():
    log, clock = io.StringIO(), FakeClock()
    bar = LineProgress(total=None, desc="cache", unit="utt", file=log, clock=clock)
    bar.update(5)
    assert log.getvalue() == ""
    clock.now = LINE_INTERVAL_S
    bar.update(5)
    bar.update(2)
    bar.close()
    bar.close()
    assert [line.split(",")[0] for line in log.getvalue().splitlines()] == ["cache: 10 utt", "cache: 12 utt"]


def test_a_terminal_gets_a_redrawn_tqdm_bar():
    screen = FakeTerminal()
    bar = progress_bar(range(1000), desc="evaluating", file=screen)
    assert isinstance(bar, tqdm)
    assert len(list(bar)) == 1000
    assert "\r" in screen.getvalue() and "1000/1000" in screen.getvalue()


def test_a_disabled_bar_writes_nothing():
    log = io.StringIO()
    with progress_bar(total=10, disable=True, file=log) as bar:
        bar.update(10)
    assert log.getvalue() == ""
