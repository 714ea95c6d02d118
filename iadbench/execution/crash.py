"""A method's own code failing in ``fit`` or ``predict``: one named error instead of a traceback.

A plugin that raises in ``fit`` (``--set size=0``) used to reach the terminal as a boxed
traceback of a hundred lines through iadbench's internals, exit 1. The run path wraps the
method's stages in :func:`method_stage`, which turns any exception that is neither iadbench's
own (:class:`~iadbench.contract.errors.IADBenchError`, already a sentence) nor the machine's
(:class:`~iadbench.contract.errors.EnvironmentFailure`, disk, memory, GPU) into a
:class:`MethodCrash`: the CLI prints its one line (method, stage, exception) and exits with
:data:`EXIT_METHOD_CRASH`, the traceback only with ``iadbench --verbose``. Images a method fails
on one at a time stay recorded against those images, as before.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

from iadbench.contract.errors import IADBenchError, environment_cause

#: sysexits.h EX_SOFTWARE: the method's code failed; rerunning the same command fails again.
EXIT_METHOD_CRASH: Final = 70


class MethodCrash(Exception):
    """A method raised while training or predicting; ``__cause__`` is its exception.

    Attributes:
        method: The method's name (``brightness``).
        stage: ``"training"`` or ``"predicting"``.
        error: The method's exception.
    """

    def __init__(self, method: str, stage: str, error: BaseException) -> None:
        self.method, self.stage, self.error = method, stage, error
        detail = str(error).strip().splitlines()
        name = type(error).__name__ + (f": {detail[0]}" if detail else "")
        super().__init__(f"method {method!r} crashed while {stage}: {name}")


@contextmanager
def method_stage(method: str, stage: str) -> Iterator[None]:
    """Re-raise what the method's code raises in this block as a :class:`MethodCrash`.

    iadbench's own errors, machine failures (which have their own exit code and message) and
    Ctrl-C pass through unchanged.

    Example:
        >>> try:
        ...     with method_stage("brightness", "training"):
        ...         raise ValueError("size must be positive")
        ... except MethodCrash as crash:
        ...     print(crash)
        method 'brightness' crashed while training: ValueError: size must be positive
    """
    try:
        yield
    except (IADBenchError, MethodCrash):
        raise
    except Exception as exc:
        if environment_cause(exc) is not None:
            raise
        raise MethodCrash(method, stage, exc) from exc
