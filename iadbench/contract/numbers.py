"""The one owner of numeric arguments: every command and the Python API check numbers here.

A bad number must never reach the code that uses it: a batch size of -1 sliced images away with
exit 0 (issue 18), ``--scale inf`` raised a raw OverflowError. Each check raises
:class:`~iadbench.contract.errors.ArgumentError` naming the argument as the caller spells it
(``--batch-size`` on the command line, ``batch_size`` in Python), so the CLI prints one sentence
and exits 2 and the API raises an :class:`~iadbench.contract.errors.IADBenchError`.
"""

from __future__ import annotations

import math
import numbers

from iadbench.contract.errors import ArgumentError

#: Largest seed: numpy's and torch's generators take seeds below 2**32 (every command checks it).
MAX_SEED = 2**32 - 1


def whole_number(value: object, *, name: str, minimum: int | None = None,
                 maximum: int | None = None) -> int:  # fmt: skip
    """``value`` as an ``int``, refusing booleans, fractions, strings and out-of-range values.

    Example:
        >>> whole_number(3, name="--limit", minimum=1)
        3
        >>> whole_number(0, name="--limit", minimum=1)
        Traceback (most recent call last):
        ...
        iadbench.contract.errors.ArgumentError: --limit must be at least 1, got 0

    Raises:
        ArgumentError: ``value`` is not a whole number (``True``, ``2.5`` and ``"3"`` are not) or
            lies outside ``[minimum, maximum]``.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ArgumentError(f"{name} must be a whole number, got {value!r}")
    number = int(value)
    _check_range(number, name=name, minimum=minimum, maximum=maximum)
    return number


def real_number(value: object, *, name: str, minimum: float | None = None,
                maximum: float | None = None) -> float:  # fmt: skip
    """``value`` as a finite ``float`` within ``[minimum, maximum]``.

    Example:
        >>> real_number(0.5, name="--scale", minimum=0.0)
        0.5
        >>> real_number(float("inf"), name="--scale")
        Traceback (most recent call last):
        ...
        iadbench.contract.errors.ArgumentError: --scale must be a finite number, got inf

    Raises:
        ArgumentError: ``value`` is a boolean, not a real number, NaN or infinite, or out of range.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ArgumentError(f"{name} must be a number, got {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise ArgumentError(f"{name} must be a finite number, got {value!r}")
    _check_range(number, name=name, minimum=minimum, maximum=maximum)
    return number


def optional_whole_number(value: object, *, name: str, minimum: int | None = None,
                          maximum: int | None = None) -> int | None:  # fmt: skip
    """:func:`whole_number`, passing ``None`` (the argument was not given) through."""
    if value is None:
        return None
    return whole_number(value, name=name, minimum=minimum, maximum=maximum)


def fraction_targets(value: object, *, name: str) -> tuple[float, ...]:
    """Target fractions (operating points' false-alarm budgets or recall targets), sorted.

    The command line gives one comma-separated text (``--far-targets 0.01,0.05``); Python a
    sequence of numbers (``far_targets=[0.01, 0.05]``). Each must be a finite number in
    ``[0, 1]``; duplicates are dropped (a summary keys its figures by target).

    Example:
        >>> fraction_targets("0.05, 0.01", name="--far-targets")
        (0.01, 0.05)
        >>> fraction_targets([1.5], name="far_targets")
        Traceback (most recent call last):
        ...
        iadbench.contract.errors.ArgumentError: far_targets must be between 0.0 and 1.0, got 1.5

    Raises:
        ArgumentError: Empty, not a text or sequence, a piece that is not a number, or a value
            outside ``[0, 1]``.
    """
    if isinstance(value, str):
        pieces: list[object] = []
        for piece in value.split(","):
            try:
                pieces.append(float(piece))
            except ValueError:
                raise ArgumentError(
                    f"{name} must be comma-separated fractions such as 0.01,0.05, got {value!r}"
                ) from None
    elif isinstance(value, list | tuple):
        pieces = list(value)
    else:
        raise ArgumentError(f"{name} must be a list of fractions such as [0.01, 0.05], "
                            f"got {value!r}")  # fmt: skip
    if not pieces:
        raise ArgumentError(f"{name} must name at least one fraction, got {value!r}")
    return tuple(sorted({real_number(p, name=name, minimum=0.0, maximum=1.0) for p in pieces}))


def _check_range(number: float, *, name: str, minimum: float | None,
                 maximum: float | None) -> None:  # fmt: skip
    if minimum is not None and maximum is not None and not minimum <= number <= maximum:
        raise ArgumentError(f"{name} must be between {minimum} and {maximum}, got {number}")
    if minimum is not None and number < minimum:
        bound = "0 or more" if minimum == 0 else f"at least {minimum}"
        raise ArgumentError(f"{name} must be {bound}, got {number}")
    if maximum is not None and number > maximum:
        raise ArgumentError(f"{name} must be at most {maximum}, got {number}")
