"""A 3 × 3 matrix over three of issue 22's releases (MPDD, BTAD, MVTec LOCO), end to end.

Their synthetic trees in the official layouts, read by their own readers (not the generic folder
one), the baselines and the brightness plugin with ``--tiny``, then ``report``: the leaderboard's
N × N overview and the HTML report's heat map come before the per-direction tables.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from iadbench.cli import app
from iadbench.data.synth import synthesize

#: Two categories of each release keep the trees small (the readers' own category names).
RELEASES = {"mpdd": ("bracket_black", "connector"), "btad": ("01", "02"),
            "mvtec-loco": ("juice_bottle", "pushpins")}  # fmt: skip


@pytest.fixture(scope="module")
def roots(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("releases")
    out = {}
    for name, categories in RELEASES.items():
        out[name] = base / name
        synthesize(name, out[name], scale=0.02, image_size=16, categories=categories)
    return out


@pytest.mark.slow
def test_a_3x3_matrix_over_new_releases_with_the_baselines_and_the_report(
    tmp_path: Path, roots: dict[str, Path], plugin_file: Path
) -> None:
    out = tmp_path / "m"
    datasets = list(RELEASES)
    data = [arg for name, root in roots.items() for arg in ("--data", f"{name}={root}")]
    result = CliRunner().invoke(app, [
        "matrix", "--plugin", str(plugin_file), "--methods",
        "always-normal,always-defect,pixel-stats,brightness", "--datasets", ",".join(datasets),
        "--diagonal", "--test-split", "test", "--tiny", "--limit", "2",
        "--set", "pixel-stats:shots=2", *data, "--out", str(out), "--cache-dir",
        str(tmp_path / "cache"),
    ])  # fmt: skip
    assert result.exit_code == 0, result.output
    cells = {str(p.parent.relative_to(out)) for p in out.rglob("summary.json")}
    baselines = {f"{m}/zero-shot_to_{d}" for m in ("always-normal", "always-defect",
                                                   "pixel-stats") for d in datasets}  # fmt: skip
    assert cells == baselines | {f"brightness/{a}_to_{b}" for a in datasets for b in datasets}
    # Each release was read by its own reader: LOCO's runs carry its logical vs structural block.
    loco = json.loads(
        (out / "brightness" / "mvtec-loco_to_mvtec-loco" / "summary.json").read_text()
    )
    # (--limit 2 keeps two defects per category: at least one group, never another name)
    assert set(loco["per_defect_group"]["groups"]) <= {"logical", "structural"}
    assert loco["per_defect_group"]["groups"]
    leaderboard = (out / "LEADERBOARD.md").read_text()
    overview = leaderboard.index("## Overview: trained on (rows) × tested on (columns), test split")
    assert overview < leaderboard.index("## Pooled over all test images")
    grid = leaderboard[overview:].split("\n## ")[0]
    assert all(name in grid for name in datasets)  # every release is a row and a column
    assert "## Logical vs structural anomalies: mvtec-loco" in leaderboard
    report = CliRunner().invoke(app, ["report", str(out)])
    assert report.exit_code == 0, report.output
    page = (out / "report.html").read_text()
    assert page.index('<h2 id="overview">') < page.index('<h2 id="leaderboard">')
    section = page[page.index('<h2 id="overview">') : page.index('<h2 id="leaderboard">')]
    assert 'src="data:image/svg+xml;base64,' in section  # the heat map
