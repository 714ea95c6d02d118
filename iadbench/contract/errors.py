"""Errors a user can act on; the CLI prints their message as one paragraph, without a traceback."""

from __future__ import annotations

import difflib
import errno
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


class ArgumentError(IADBenchError):
    """An argument of a command or of the Python API has the wrong type or lies out of range."""


class RunConflictError(IADBenchError):
    """A run directory is locked by another process or holds a different configuration."""


class EnvironmentFailure(IADBenchError):
    """The machine failed, not the image: disk full, an I/O error, out of memory, too many files.

    Never recorded against an image: the run stops with this message, the images it was working
    on stay pending, and running the same command again (after freeing the resource) retries them.
    """


# errno values that describe the machine rather than one file: a full disk or quota, a failing
# device, a read-only remount, exhausted memory or descriptors, the file size limit.
_ENVIRONMENT_ERRNOS = frozenset(
    {
        errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EROFS, errno.ENOMEM, errno.EMFILE,
        errno.ENFILE, errno.EFBIG,
    }
)  # fmt: skip


def environment_cause(exc: BaseException) -> BaseException | None:
    """The environment failure behind ``exc`` (itself or a cause in its chain), or None.

    A missing, truncated or undecodable file is the image's own error and returns None; so does
    any error that is not an ``OSError`` with one of the errnos above, a ``MemoryError`` or a
    CUDA out-of-memory error (recognised by class name, so torch is not imported here).
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, EnvironmentFailure | MemoryError):
            return current
        if isinstance(current, OSError) and current.errno in _ENVIRONMENT_ERRNOS:
            return current
        if type(current).__name__ == "OutOfMemoryError":  # torch.cuda.OutOfMemoryError
            return current
        current = current.__cause__ or current.__context__
    return None


def environment_failure(
    exc: BaseException, doing: str, *, images: bool = True
) -> EnvironmentFailure:
    """A one-paragraph :class:`EnvironmentFailure` for ``exc``, saying what to do next.

    The message says what failed and what to fix, never what is kept: that depends on the
    command (``run`` and ``predict`` keep finished predictions, ``leaderboard`` starts over), and
    the CLI adds it (:func:`iadbench.cli.app.handles_user_errors`).

    Args:
        exc: The error (or an error caused by it).
        doing: What was being done, as in "(while {doing})".
        images: Images were in progress (the predict loop), so nothing was recorded against them.
    """
    cause = environment_cause(exc) or exc
    if isinstance(cause, EnvironmentFailure):
        return cause
    what = f"{type(cause).__name__}: {cause}"
    hint = (
        "free some space"
        if isinstance(cause, OSError) and cause.errno in (errno.ENOSPC, errno.EDQUOT)
        else "try a smaller --batch-size"
        if isinstance(cause, MemoryError) or type(cause).__name__ == "OutOfMemoryError"
        else "fix the cause"
    )
    blame = (
        "This is the machine's failure, not an image's: nothing was recorded against the images "
        "in progress."
        if images
        else "This is the machine's failure, not the input's."
    )
    return EnvironmentFailure(
        f"{what} (while {doing}). {blame} {hint[0].upper()}{hint[1:]}, then run the same command "
        "again."
    )
