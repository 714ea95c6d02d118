"""Cost of a run's statistics block, and of the ways a bootstrap can be computed.

Prints, side by side for 500 / 5,000 / 50,000 images in 15 categories (B = 1000 resamples,
pooled plus every category, as ``summary.json`` holds them):

  * ``run_statistics``: the whole block (bootstrap intervals + McNemar against both trivial
    baselines, pooled and per category)                                       [≪ 0.1 s at ~2,000]
  * the bootstrap alone as iadbench draws it: Multinomial confusion-cell counts per resample
  * the same bootstrap by resampling image indices and counting cells with ``np.bincount``
    (B × n indices per group): what the cell draw replaces
  * scikit-learn: ``metrics.compute_metrics`` once per resample, pooled group only; measured on
    20 resamples and scaled to B (marked ``~``)

and checks that both numpy bootstraps give the same pooled accuracy interval within 0.01.

Usage: python benchmarks/bench_statistics.py [--sizes 500,5000,50000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics as stats
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from iadbench.analysis.metrics import compute_metrics
from iadbench.analysis.statistics import (
    RESAMPLES,
    bootstrap_intervals,
    cell_codes,
    cell_metrics,
    group_rng,
    percentile_interval,
    run_statistics,
)
from iadbench.runs.reader import Outcome

CATEGORIES = [f"category{i:02d}" for i in range(15)]
SKLEARN_SAMPLE = 20


def make_records(n: int, seed: int = 0) -> list[Outcome]:
    """``n`` predictions of a 75 %-accurate method with 5 % invalid answers, 15 categories."""
    rng = np.random.default_rng(seed)
    labels = rng.choice(["defect", "normal"], n, p=[0.25, 0.75])
    flip = {"defect": "normal", "normal": "defect"}
    draws = rng.random(n)
    preds = [
        label if u < 0.75 else ("invalid" if u < 0.80 else flip[label])
        for label, u in zip(labels.tolist(), draws.tolist(), strict=True)
    ]
    categories = rng.choice(CATEGORIES, n).tolist()
    rows = zip(categories, labels.tolist(), preds, strict=True)
    return [Outcome(str(i), c, lab, p) for i, (c, lab, p) in enumerate(rows)]


def index_bootstrap(records: list[Outcome], resamples: int = RESAMPLES) -> dict[str, Any]:
    """Pooled and per-category accuracy intervals by resampling image indices (bincount)."""
    codes = cell_codes([r.label for r in records], [r.pred for r in records])
    groups = {"": np.arange(len(records))}
    for category in CATEGORIES:
        groups[category] = np.asarray([i for i, r in enumerate(records) if r.category == category])
    intervals = {}
    for name, members in groups.items():
        picks = group_rng(0, name).integers(0, len(members), (resamples, len(members)))
        offsets = 6 * np.arange(resamples)[:, None]
        cells = np.bincount((codes[members][picks] + offsets).ravel(), minlength=6 * resamples)
        values = cell_metrics(cells.reshape(resamples, 6))
        intervals[name] = percentile_interval(values["accuracy"], 0.95)
    return intervals


def sklearn_bootstrap(records: list[Outcome], resamples: int) -> None:
    """The pooled group's metrics with ``compute_metrics`` on ``resamples`` index resamples."""
    labels = np.asarray([r.label for r in records])
    preds = np.asarray([r.pred for r in records])
    rng = np.random.default_rng(0)
    for _ in range(resamples):
        pick = rng.integers(0, len(records), len(records))
        compute_metrics(labels[pick].tolist(), preds[pick].tolist())


def best_of(function: Callable[[], object], repeats: int) -> float:
    """Median seconds of ``repeats`` calls (after one warm-up)."""
    function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return stats.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="500,5000,50000")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    rows: dict[str, list[str]] = {
        "run_statistics (whole block)": [],
        "bootstrap, cell draw (iadbench)": [],
        "bootstrap, index resampling": [],
        "sklearn per resample, pooled only": [],
        "pooled acc CI, cell draw": [],
        "pooled acc CI, index resampling": [],
    }
    for n in sizes:
        records = make_records(n)
        rows["run_statistics (whole block)"].append(
            f"{best_of(lambda r=records: run_statistics(r), args.repeats):.4f} s"
        )
        rows["bootstrap, cell draw (iadbench)"].append(
            f"{best_of(lambda r=records: bootstrap_intervals(r), args.repeats):.4f} s"
        )
        repeats = args.repeats if n <= 5000 else 1
        rows["bootstrap, index resampling"].append(
            f"{best_of(lambda r=records: index_bootstrap(r), repeats):.4f} s"
        )
        sample = best_of(lambda r=records: sklearn_bootstrap(r, SKLEARN_SAMPLE), 1)
        rows["sklearn per resample, pooled only"].append(
            f"~{sample * RESAMPLES / SKLEARN_SAMPLE:.1f} s"
        )
        drawn = bootstrap_intervals(records)["overall"]["accuracy"] or [0.0, 0.0]
        indexed = index_bootstrap(records)[""] or [0.0, 0.0]
        assert max(abs(a - b) for a, b in zip(drawn, indexed, strict=True)) < 0.01, (drawn, indexed)
        rows["pooled acc CI, cell draw"].append(f"{drawn[0]:.4f}–{drawn[1]:.4f}")
        rows["pooled acc CI, index resampling"].append(f"{indexed[0]:.4f}–{indexed[1]:.4f}")
    width = max(map(len, rows))
    print(f"B = {RESAMPLES}, 15 categories; median of {args.repeats} (index resampling at 50,000: "
          f"1 run; sklearn: {SKLEARN_SAMPLE} resamples scaled to B)")  # fmt: skip
    print(f"{'images':<{width}}  " + "  ".join(f"{n:>15,}" for n in sizes))
    for name, cells in rows.items():
        print(f"{name:<{width}}  " + "  ".join(f"{c:>15}" for c in cells))


if __name__ == "__main__":
    main()
