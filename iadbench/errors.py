"""Errors a user can act on; the CLI prints their message as one paragraph, without a traceback."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class IADBenchError(Exception):
    """Base class for errors caused by input (arguments, data, configuration), not by bugs."""


class DatasetNotFoundError(IADBenchError):
    """A dataset root is missing or does not hold the expected layout."""


class UnknownNameError(IADBenchError, KeyError):
    """A name (method, dataset, option) that is not registered; the message suggests close ones."""

    def __init__(self, kind: str, name: str, known: Iterable[str]) -> None:
        known = sorted(known)
        close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        listing = ", ".join(known) if known else "none"
        super().__init__(f"Unknown {kind} {name!r}.{hint} Known {kind}s: {listing}.")

    def __str__(self) -> str:  # KeyError would otherwise print the message quoted
        return str(self.args[0])


class RunConflictError(IADBenchError):
    """A run directory is locked by another process or holds a different configuration."""
