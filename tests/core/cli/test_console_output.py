"""Progress and library noise: plain periodic lines in a log, a live bar only on a terminal, and
the libraries' warnings hidden unless --verbose."""

from __future__ import annotations

import io
import itertools
import logging
import os
import subprocess
import sys
import warnings
from collections.abc import Iterator

import pytest
from rich.console import Console

from iadbench.cli import display
from iadbench.contract import console_logging
from iadbench.contract.progress import LineProgress


def fake_clock(*times: float):
    """A clock returning ``times`` in order, then the last one forever."""
    return itertools.chain(times, itertools.repeat(times[-1])).__next__


def test_line_progress_writes_periodic_lines_and_a_final_one() -> None:
    lines: list[str] = []
    # start at 0; advances at 10 s (within the interval), 31 s and 45 s; finish at 70 s.
    progress = LineProgress(lines.append, interval=30, clock=fake_clock(0, 10, 31, 45, 70))
    progress.start("winclip visa→mvtec test", 400)
    for _ in range(3):
        progress.advance(100)
    progress.advance(100)
    progress.finish()
    assert lines == [
        "winclip visa→mvtec test: 200/400 images, 6.45 img/s, eta 31s",
        "winclip visa→mvtec test: 400/400 images in 1m10s (5.71 img/s)",
    ]


def test_line_progress_is_silent_when_there_is_nothing_to_do() -> None:
    lines: list[str] = []
    progress = LineProgress(lines.append, clock=fake_clock(0.0))
    progress.start("resumed", 0)
    progress.finish()
    progress.finish()  # a second finish (and one without start) writes nothing
    assert lines == []


def test_a_new_start_finishes_the_previous_work() -> None:
    lines: list[str] = []
    progress = LineProgress(lines.append, clock=fake_clock(0, 1, 2, 3, 4))
    progress.start("calibration", 2)
    progress.advance(2)
    progress.start("test", 3)
    assert lines == ["calibration: 2/2 images in 2s (1 img/s)"]


@pytest.fixture
def redirected(monkeypatch: pytest.MonkeyPatch) -> io.StringIO:
    """The CLI's console writing to a pipe-like buffer (not a terminal), 80 columns."""
    out = io.StringIO()
    console = Console(file=out, width=80, force_terminal=False)
    monkeypatch.setattr(display, "console", console)
    return out


def test_redirected_progress_writes_lines_to_the_log_not_bars_to_stdout(
    redirected: io.StringIO,
) -> None:
    lines: list[str] = []
    progress = display.RichProgress(log=lines.append)
    progress.start("always-defect visa→mvtec test", 10)
    progress.advance(10)
    progress.finish()
    assert redirected.getvalue() == ""  # no blank lines, no carriage returns
    assert len(lines) == 1 and lines[0].startswith("always-defect visa→mvtec test: 10/10 images")


def test_a_terminal_gets_the_live_bar_and_no_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    out = io.StringIO()
    monkeypatch.setattr(display, "console", Console(file=out, width=80, force_terminal=True))
    lines: list[str] = []
    progress = display.RichProgress(log=lines.append)
    progress.start("work", 4)
    progress.advance(4)
    progress.finish()
    assert lines == []
    assert "\x1b[" in out.getvalue()  # the live display drew (and cleared) its bar


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """configure() sets handlers and levels on process-wide loggers: put them back."""
    names = [*console_logging._OWN_LOGGERS, *console_logging._LIBRARIES]
    saved = {n: (logging.getLogger(n).handlers[:], logging.getLogger(n).level,
                 logging.getLogger(n).propagate) for n in names}  # fmt: skip
    verbose = console_logging.verbose()
    yield
    for name, (handlers, level, propagate) in saved.items():
        logger = logging.getLogger(name)
        logger.handlers, logger.level, logger.propagate = handlers, level, propagate
    console_logging._state["verbose"] = verbose


def _warn(category: type[Warning], module: str) -> None:
    warnings.warn_explicit("noise", category, filename=f"{module}.py", lineno=1, module=module)


@pytest.mark.parametrize("category", [FutureWarning, UserWarning, DeprecationWarning])
def test_quiet_hides_library_warnings_and_keeps_iadbench_ones(
    monkeypatch: pytest.MonkeyPatch, category: type[Warning]
) -> None:
    monkeypatch.setenv("TQDM_DISABLE", "0")  # configure only sets what is unset; restored after
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        console_logging.configure(verbose=False)
        _warn(category, "transformers.modeling_utils")
        _warn(category, "torchvision.io")
        _warn(category, "iadbench.execution.registry")
    assert [w.filename for w in caught] == ["iadbench.execution.registry.py"]


def test_verbose_shows_library_warnings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TQDM_DISABLE", "0")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        console_logging.configure(verbose=True)
        _warn(FutureWarning, "transformers.modeling_utils")
    assert len(caught) == 1


def test_quiet_switches_off_tqdm_bars_when_stderr_is_not_a_terminal() -> None:
    # tqdm reads TQDM_DISABLE when it is imported: a fresh process, stderr a pipe.
    code = (
        "from iadbench.contract.console_logging import configure; configure(verbose=False); "
        "from tqdm import tqdm; print(tqdm(range(3)).disable)"
    )
    env = {k: v for k, v in os.environ.items() if k != "TQDM_DISABLE"}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert result.stdout.strip() == "True"
    assert result.stderr == ""  # the bar the tqdm call would have drawn


def test_a_runs_summary_table_fits_80_columns_with_its_stored_numbers() -> None:
    from iadbench.analysis.metrics import summarize
    from iadbench.runs.reader import Outcome

    long = "a-category-folder-named-by-a-factory-with-a-very-long-name-indeed"
    records = [
        Outcome(id=f"{c}/{i}", category=c, label=label, pred=pred)
        for c in ("bottle", long)
        for i, (label, pred) in enumerate(
            [("defect", "defect"), ("normal", "defect"), ("normal", "normal")]
        )
    ]
    summary = {"method": "[bold]m[/]", "train": None, "test": {"dataset": "mvtec", "split": "all"},
               "threshold": None, **summarize(records)}  # fmt: skip
    out = io.StringIO()
    Console(file=out, width=80, force_terminal=False).print(display.summary_table(summary, 80))
    text = out.getvalue()
    assert "…" not in text and max(len(line.rstrip()) for line in text.splitlines()) <= 80
    assert "[bold]m[/]" in text  # a name is text, not markup
    bottle = next(line for line in text.splitlines() if line.startswith("bottle")).split()
    metrics = summary["per_class"]["bottle"]
    assert bottle[1:5] == [str(metrics["n"])] + [
        f"{100 * metrics[k]:.2f}" for k in ("accuracy", "f1_macro", "balanced_accuracy")
    ]
