"""Warnings that name folders reach the terminal inert (the issue-18 attack re-run)."""

from __future__ import annotations

import logging

import pytest

from iadbench.contract import console_logging


@pytest.fixture()
def own_loggers():
    """configure() rewires iadbench's loggers for the process: put them back afterwards."""
    loggers = [logging.getLogger(name) for name in ("iadbench", "iadbench_methods")]
    saved = [(lg.handlers[:], lg.level, lg.propagate) for lg in loggers]
    yield
    for logger, (handlers, level, propagate) in zip(loggers, saved, strict=True):
        logger.handlers, logger.propagate = handlers, propagate
        logger.setLevel(level)


def test_a_warning_naming_a_hostile_folder_reaches_stderr_without_control_codes(
    capsys, own_loggers
):
    console_logging.configure(verbose=False)
    hostile = "\x1b]0;X\x07t\u202e"
    logging.getLogger("iadbench").warning("WARNING: category %s has no defect image", hostile)
    err = capsys.readouterr().err
    assert "category  ]0;X t<U+202E> has no defect image" in err
    assert not {"\x1b", "\x07", "\u202e"} & set(err)
