"""Trivial baselines: the floor every leaderboard shows beside real methods."""

from iadbench_methods.baselines.constant import AlwaysDefect, AlwaysNormal

__all__ = ["AlwaysDefect", "AlwaysNormal"]
