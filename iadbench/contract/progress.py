"""How long work reports progress: a live bar on a terminal, periodic plain lines in a log.

The CLI draws rich bars when stdout is a terminal (``iadbench.cli.display``). Redirected to a
file (nohup, SLURM, CI), a bar is either a stream of carriage-return redraws or, from rich, a
blank line per refresh; :class:`LineProgress` writes a plain line now and then instead::

    winclip visa→mvtec predict: 120/400 images, 3.1 img/s, eta 1m30s
    winclip visa→mvtec predict: 400/400 images in 2m09s (3.1 img/s)

Library callers may pass nothing (:class:`SilentProgress`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

DEFAULT_INTERVAL = 30.0  # seconds between two lines: ~120 lines for an hour of work


class ProgressHook(Protocol):
    """Receives progress of long work (the CLI draws rich progress bars)."""

    def start(self, description: str, total: int) -> None: ...  # noqa: D102
    def advance(self, count: int) -> None: ...  # noqa: D102
    def finish(self) -> None: ...  # noqa: D102


class SilentProgress:
    """A progress hook that shows nothing."""

    def start(self, description: str, total: int) -> None:  # noqa: D102
        pass

    def advance(self, count: int) -> None:  # noqa: D102
        pass

    def finish(self) -> None:  # noqa: D102
        pass


def duration(seconds: float) -> str:
    """Compact duration: ``42s``, ``4m42s``, ``2h05m``.

    Example:
        >>> duration(0.4), duration(282), duration(7500)
        ('0s', '4m42s', '2h05m')
    """
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


class LineProgress:
    """A progress hook writing plain lines: every ``interval`` seconds, and one when work ends.

    Work with nothing to do (``total`` 0: everything resumed) writes nothing. Work that ends
    within the first interval writes only its final line, so a short run costs one line.

    Args:
        log: Where a line goes (e.g. a logger's ``info``).
        interval: Seconds between two progress lines.
        unit: What is counted (``images``).
        clock: Monotonic seconds (tests pass a fake one).

    Example:
        >>> lines = []
        >>> progress = LineProgress(lines.append, clock=iter([0.0, 1.0, 2.0]).__next__)
        >>> progress.start("winclip visa→mvtec predict", 4)
        >>> progress.advance(4)
        >>> progress.finish()
        >>> lines
        ['winclip visa→mvtec predict: 4/4 images in 2s (2 img/s)']
    """

    def __init__(
        self,
        log: Callable[[str], None],
        *,
        interval: float = DEFAULT_INTERVAL,
        unit: str = "images",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.log = log
        self.interval = interval
        self.unit = unit
        self.clock = clock
        self._description: str | None = None
        self._total = self._done = 0
        self._started = self._last = 0.0

    def start(self, description: str, total: int) -> None:  # noqa: D102
        self.finish()
        self._description, self._total, self._done = description, total, 0
        self._started = self._last = self.clock()

    def advance(self, count: int) -> None:  # noqa: D102
        if self._description is None:
            return
        self._done += count
        now = self.clock()
        if now - self._last >= self.interval and self._done < self._total:
            self._last = now
            rate = self._done / max(now - self._started, 1e-9)
            eta = f", eta {duration((self._total - self._done) / rate)}" if rate > 0 else ""
            self.log(
                f"{self._description}: {self._done}/{self._total} {self.unit}, "
                f"{_rate(rate)} {_per(self.unit)}{eta}"
            )

    def finish(self) -> None:  # noqa: D102
        if self._description is None:
            return
        description, self._description = self._description, None
        if self._total == 0:
            return
        seconds = self.clock() - self._started
        rate = self._done / max(seconds, 1e-9)
        self.log(
            f"{description}: {self._done}/{self._total} {self.unit} in {duration(seconds)} "
            f"({_rate(rate)} {_per(self.unit)})"
        )


def _rate(value: float) -> str:
    """Three significant digits, without an exponent: ``3.1``, ``190``, ``12400``."""
    return f"{value:.3g}" if value < 1000 else f"{value:.0f}"


def _per(unit: str) -> str:
    """``img/s`` for images, else ``<unit>/s``."""
    return "img/s" if unit == "images" else f"{unit}/s"
