"""Every missing dataset root is named at once, with the way to get data (issue 19, item 6)."""

from __future__ import annotations

from typer.testing import CliRunner

from iadbench.cli import app


def test_both_missing_roots_are_named_at_once_with_the_synth_and_demo_hint(tmp_path, monkeypatch):
    monkeypatch.delenv("IADBENCH_MVTEC_ROOT", raising=False)
    monkeypatch.delenv("IADBENCH_VISA_ROOT", raising=False)
    result = CliRunner().invoke(
        app,
        ["run", "--method", "aprilgan", "--tiny", "--train", "visa", "--test", "mvtec",
         "--data", f"visa={tmp_path / 'nowhere'}",
         "--out", str(tmp_path / "out")],
    )  # fmt: skip
    text = " ".join(result.output.split())
    assert result.exit_code == 2, result.output
    assert "No root folder is set for MVTec-AD" in text
    assert f"{tmp_path / 'nowhere'}" in text and "does not exist" in text
    assert "iadbench data synth mvtec DIR" in text and "iadbench demo" in text
    assert not (tmp_path / "out").exists()
