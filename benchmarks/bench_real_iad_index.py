"""Time and peak memory to index Real-IAD at full count (151,050 images), and its bootstrap.

Writes the synthetic release at scale 1 as empty files (the layout, names, masks and every JSON
variant of ``iadbench data synth real-iad``, without drawing: indexing never decodes), then, in
a fresh process each so that the peak memory is the index's own:

  * ``open_dataset("real-iad", root).samples()``: wall time and peak RSS (``ru_maxrss``);
  * ``run_statistics`` of the 114,585 test images grouped into their 22,917 parts (the clustered
    bootstrap, B = 1000): wall time.

Exits 1 when the index takes more than ``--max-seconds`` (default 30) or its process peaks
above ``--max-rss-mib`` (default 400), or the statistics take more than ``--max-stats-seconds``
(default 60): about 4x what a loaded 2-core machine measured (3 to 8 s, 99 MiB, 10.5 s; figures
in docs/datasets/real_iad.md), so a regression that makes indexing quadratic (``relpath`` per
row took 94 s) or keeps every record twice fails.

Usage: python benchmarks/bench_real_iad_index.py [--root DIR] [--keep]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

INDEX = """
import json, resource, sys, time
from iadbench.data import open_dataset
started = time.perf_counter()
samples = open_dataset("real-iad", sys.argv[1]).samples("all")
seconds = time.perf_counter() - started
rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"n": len(samples), "groups": len({s.group for s in samples}),
                  "seconds": seconds, "rss_mib": rss_kib / 1024}))
"""

STATISTICS = """
import json, sys, time
import numpy as np
from iadbench.analysis.statistics import run_statistics
from iadbench.data import open_dataset
from iadbench.runs.reader import Outcome
test = open_dataset("real-iad", sys.argv[1]).samples("test")
rng = np.random.default_rng(0)
right = rng.random(len(test)) < 0.8
flip = {"defect": "normal", "normal": "defect"}
outcomes = [Outcome(s.id, s.category, s.label, s.label if ok else flip[s.label], group=s.group)
            for s, ok in zip(test, right.tolist())]
started = time.perf_counter()
block = run_statistics(outcomes)
print(json.dumps({"n": len(outcomes), "unit": block["bootstrap"]["unit"],
                  "seconds": time.perf_counter() - started}))
"""


def write_tree(root: Path) -> tuple[int, float]:
    """The full-count tree as empty files; (images written, seconds)."""
    from iadbench.data.real_iad import RealIAD
    from iadbench.data.synth_real_iad import write_category

    started = time.perf_counter()
    written = [0]

    def tick() -> None:
        written[0] += 1

    for category, counts in RealIAD.official_counts.items():
        write_category(root, category, counts, None, tick)
    return written[0], time.perf_counter() - started


def child(code: str, root: Path) -> dict[str, float]:
    done = subprocess.run([sys.executable, "-c", code, str(root)], check=True,
                          capture_output=True, text=True)  # fmt: skip
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, help="where to write the tree (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="leave the tree on disk")
    parser.add_argument("--max-seconds", type=float, default=30.0)
    parser.add_argument("--max-rss-mib", type=float, default=400.0)
    parser.add_argument("--max-stats-seconds", type=float, default=60.0)
    args = parser.parse_args()
    root = args.root or Path(tempfile.mkdtemp(prefix="real-iad-full-"))
    try:
        if not (root / "realiad_jsons").is_dir():
            n, seconds = write_tree(root)
            print(f"wrote {n:,} empty image files (and masks) in {seconds:.1f} s to {root}")
        index = child(INDEX, root)
        print(f"index: {index['n']:,} images in {index['groups']:,} parts, "
              f"{index['seconds']:.1f} s, peak RSS {index['rss_mib']:.0f} MiB")  # fmt: skip
        stats = child(STATISTICS, root)
        print(f"run_statistics ({stats['unit']} bootstrap, B = 1000) of {stats['n']:,} test "
              f"images: {stats['seconds']:.1f} s")  # fmt: skip
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    failed = [
        f"{what} {value:.1f} above the bound {bound:g}"
        for what, value, bound in (
            ("index seconds", index["seconds"], args.max_seconds),
            ("index peak RSS MiB", index["rss_mib"], args.max_rss_mib),
            ("statistics seconds", stats["seconds"], args.max_stats_seconds),
        )
        if value > bound
    ]
    for line in failed:
        print(f"FAIL: {line}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
