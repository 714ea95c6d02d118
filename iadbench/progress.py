"""How long work reports progress; the CLI draws rich bars, library callers may pass nothing."""

from __future__ import annotations

from typing import Protocol


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
