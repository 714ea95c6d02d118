"""Machine-dependent defaults (iadbench/contract/settings.py): decoding workers."""

from __future__ import annotations

import os

import pytest

from iadbench.contract.errors import ArgumentError
from iadbench.contract.settings import WORKERS_VARIABLE, default_workers


def test_workers_default_to_cores_minus_one_at_most_four(monkeypatch):
    monkeypatch.delenv(WORKERS_VARIABLE, raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    assert default_workers("cpu") == 1
    monkeypatch.setattr(os, "cpu_count", lambda: 64)
    assert (default_workers("cpu"), default_workers("cuda:0")) == (4, 12)


@pytest.mark.parametrize("value", ["0", "3", " 2 "])
def test_the_variable_sets_the_default_on_every_device(monkeypatch, value):
    monkeypatch.setenv(WORKERS_VARIABLE, value)
    monkeypatch.setattr(os, "cpu_count", lambda: 64)
    assert default_workers("cpu") == default_workers("cuda") == int(value)


@pytest.mark.parametrize("value", ["-1", "1.5", "many", "٣"])
def test_a_malformed_variable_is_refused_by_name(monkeypatch, value):
    monkeypatch.setenv(WORKERS_VARIABLE, value)
    with pytest.raises(ArgumentError, match=f"{WORKERS_VARIABLE} must be a whole number"):
        default_workers()


def test_an_empty_variable_is_unset(monkeypatch):
    monkeypatch.setenv(WORKERS_VARIABLE, "")
    monkeypatch.setattr(os, "cpu_count", lambda: 3)
    assert default_workers() == 2
