"""``data check``'s closing line claims only what the counts were found to be (issue 22)."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from iadbench.cli import app
from iadbench.data.check import COUNTS_MATCHED, COUNTS_NOTED, check_dataset
from iadbench.data.synth import MARKER_NAME, synthesize

OFFICIAL = "matches the official layout and counts"


def _check(name: str, root: Path, scale: float) -> str:
    result = CliRunner().invoke(app, ["data", "check", name, "--data", f"{name}={root}",
                                      "--scale", str(scale), "--no-decode"],
                                env={"COLUMNS": "300"})  # fmt: skip
    assert result.exit_code == 0, result.output
    return " ".join(result.output.split())  # the closing line wraps at the terminal's width


def test_a_copy_whose_count_differences_were_notes_does_not_claim_the_official_counts(
    tmp_path: Path,
) -> None:
    root = tmp_path / "Real-IAD"
    synthesize("real-iad", root, scale=0.001, image_size=16)  # all 30 categories, 270 images
    (root / MARKER_NAME).unlink()  # a user's copy: unconfirmed counts that differ are notes
    report = check_dataset("real-iad", root, scale=0.01, decode=False)
    assert report.ok and report.counts == COUNTS_NOTED
    output = _check("real-iad", root, 0.01)
    assert "expected" in output  # the notes name the differences
    assert OFFICIAL not in output
    assert "per-category counts differ from the unconfirmed expected ones" in output
    # Where they agree, the line says what they are: expected, not the authors'.
    assert "the expected counts (unconfirmed" in _check("real-iad", root, 0.001)


def test_a_release_with_confirmed_counts_still_matches_them(tmp_path: Path) -> None:
    root = tmp_path / "mpdd"
    synthesize("mpdd", root, scale=0.02, image_size=16)
    assert check_dataset("mpdd", root, scale=0.02, decode=False).counts == COUNTS_MATCHED
    assert OFFICIAL in _check("mpdd", root, 0.02)
