"""Peak memory and time of streaming pixel AUROC / AUPRO, at 1x and 10x the images.

Scores N and 10 N synthetic 256 x 256 maps (every other image with a defect) with
``iadbench.analysis.pixel_metrics.PixelMetricAccumulator``, each count in a fresh process, and
prints side by side: peak RSS of the process, peak RSS above the same process before the first
map (numpy and scipy imported, one map scored), time per map and the figures. Exits 1 when the
10x peak RSS exceeds 1.2 x the 1x one (issue 20's target).

``--keep-maps`` scores the same images while also keeping every map, as an exact (sorting)
method must: the check then fails, which shows it would catch memory that grows with the images.

Usage: python benchmarks/bench_pixel_metrics.py [--images 200] [--size 256] [--keep-maps]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import numpy as np

from iadbench.analysis.pixel_metrics import PixelMetricAccumulator

TARGET_RATIO = 1.2


def peak_rss_mib() -> float:
    """This process's peak resident set size so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def image(rng: np.random.Generator, index: int, size: int) -> tuple[np.ndarray, np.ndarray | None]:
    """A noisy map; odd images get a square defect scored higher."""
    scores = rng.random((size, size), dtype=np.float32)
    if index % 2 == 0:
        return scores, None
    mask = np.zeros((size, size), bool)
    y, x = rng.integers(0, size - 40, 2)
    mask[y : y + 32, x : x + 32] = True
    scores[mask] += 0.5
    return scores, mask


def worker(images: int, size: int, keep_maps: bool) -> dict[str, float]:
    """Score ``images`` maps in this process; report memory, time and figures."""
    rng = np.random.default_rng(0)
    acc = PixelMetricAccumulator()
    acc.update(*image(rng, 1, size))  # imports scipy.ndimage; the baseline includes it
    baseline = peak_rss_mib()
    kept = []
    seconds = 0.0
    for index in range(images):
        scores, mask = image(rng, index, size)
        start = time.perf_counter()  # the update only, not making the map
        acc.update(scores, mask)
        seconds += time.perf_counter() - start
        if keep_maps:
            kept.append((scores, mask))
    result = acc.result()
    return {
        "peak_rss_mib": peak_rss_mib(),
        "above_start_mib": peak_rss_mib() - baseline,
        "ms_per_map": 1000.0 * seconds / images,
        "auroc": result.auroc or float("nan"),
        "aupro": result.aupro or float("nan"),
        "aupro_error_bound": result.aupro_error_bound or float("nan"),
    }


def run_in_fresh_process(images: int, size: int, keep_maps: bool) -> dict[str, float]:
    """Peak RSS is per process: each image count runs in its own interpreter."""
    command = [sys.executable, __file__, "--worker", str(images), "--size", str(size)]
    if keep_maps:
        command.append("--keep-maps")
    out = subprocess.run(command, capture_output=True, text=True, check=True)
    figures: dict[str, float] = json.loads(out.stdout)
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--keep-maps", action="store_true")
    parser.add_argument("--worker", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker is not None:
        print(json.dumps(worker(args.worker, args.size, args.keep_maps)))
        return 0
    counts = (args.images, 10 * args.images)
    rows = {n: run_in_fresh_process(n, args.size, args.keep_maps) for n in counts}
    mode = "keeping every map (exact method)" if args.keep_maps else "streaming"
    print(f"pixel metrics, {args.size}x{args.size} maps, {mode}")
    print(f"{'images':>8} {'peak RSS MiB':>13} {'above start MiB':>16} {'ms/map':>7} "
          f"{'AUROC':>7} {'AUPRO':>7} {'AUPRO bound':>12}")  # fmt: skip
    for n, row in rows.items():
        print(
            f"{n:>8} {row['peak_rss_mib']:>13.1f} {row['above_start_mib']:>16.1f} "
            f"{row['ms_per_map']:>7.2f} {row['auroc']:>7.4f} {row['aupro']:>7.4f} "
            f"{row['aupro_error_bound']:>12.1e}"
        )
    ratio = rows[counts[1]]["peak_rss_mib"] / rows[counts[0]]["peak_rss_mib"]
    verdict = "ok" if ratio <= TARGET_RATIO else "FAIL"
    print(f"peak RSS ratio 10x / 1x = {ratio:.3f} (target <= {TARGET_RATIO}): {verdict}")
    return 0 if ratio <= TARGET_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
