"""What reaches the terminal at 60, 80 and 132 columns and in a redirected log (issue 19, item 7).

No value is split mid-token (``normal-quantile:0.`` / ``95``, ``...baselines:Al`` /
``waysDefect``), no name is cut to "…", option help is plain text rather than reStructuredText,
and no ``--help <bool>`` is listed.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from rich.console import Console
from typer.testing import CliRunner

from iadbench.cli import app
from iadbench.cli.display import method_table, options_table, plain_help, summary_table
from iadbench.views.leaderboard.table_layout import break_tokens, narrowest

sys.path.insert(0, str(Path(__file__).parents[1] / "views"))  # the leaderboard tests' fixtures
from test_leaderboard import SMALL, write_run

CLI = str(Path(sys.executable).parent / "iadbench")
WIDTHS = (60, 80, 132)
TARGETS = [f"iadbench_methods.baselines:Always{w}" for w in ("Defect", "Normal")]


def printed(renderable: object, width: int) -> str:
    """What ``console.print`` writes to a redirected stdout of ``width`` columns."""
    out = io.StringIO()
    Console(file=out, width=width, force_terminal=False, color_system=None).print(renderable)
    return out.getvalue()


def joined(text: str) -> str:
    """The text's cells with line breaks removed: a token split over lines reads whole again
    only where it was broken at a line end without padding in between."""
    return re.sub(r"\s+", " ", text)


def split_numbers(text: str) -> list[tuple[str, str]]:
    """Consecutive lines where a number or threshold continues on the next line.

    Today at 80 columns: ``normal-quantile:0.`` / ``9`` / ``5``; at 60: ``10.5–11`` / ``.7``.
    """
    lines = [line.strip() for line in text.splitlines()]
    return [
        (line, after)
        for line, after in zip(lines, lines[1:], strict=False)
        if re.search(r"(\d[.–]|:\d?)$", line)
        and re.match(r"[\d.]", after)
        or re.search(r"(^|\s)\.\d", after)
    ]


def assert_whole(text: str, token: str) -> None:
    """Every part of ``token`` in ``text`` is whole pieces of it (broken only where allowed)."""
    pieces = re.split(r"(?<=[:/])|(?<=[.-])(?=[A-Za-z_])", token)
    allowed = {
        "".join(pieces[a:b]) for a in range(len(pieces)) for b in range(a + 1, len(pieces) + 1)
    }
    parts = [  # the words that are a tail or hold a break mark (a head alone may be a word)
        word for word in text.split()
        if word in token and (re.search(r"[.:]", word) or len(word) > 2 and token.endswith(word))
    ]  # fmt: skip
    assert parts and all(part in allowed for part in parts), (token, parts, text)


def assert_bracket_whole(text: str) -> None:
    """The label's ``[threshold=normal-quantile:0.95]`` is whole or broken at its break points."""
    allowed = {"[threshold=normal-quantile:0.95]", "[threshold=normal-quantile:",
               "[threshold=normal-", "quantile:0.95]", "0.95]"}  # fmt: skip
    parts = [w for w in text.split() if "[threshold=n" in w or w.endswith("95]")]
    assert parts and set(parts) <= allowed, parts


def test_tokens_break_only_after_colon_slash_or_a_dot_before_a_letter() -> None:
    assert break_tokens("iadbench_methods.baselines:AlwaysDefect", 30).plain == (
        "iadbench_methods.baselines:\nAlwaysDefect"
    )
    assert break_tokens("normal-quantile:0.95", 17).plain == "normal-quantile:\n0.95"
    assert narrowest("normal-quantile:0.95") == len("quantile:")  # never inside "0.95"
    assert "0." not in break_tokens("normal-quantile:0.95", 3).plain.splitlines()


LONG_CATEGORY = "a-category-with-a-very-long-folder-name-from-a-factory"


def leaderboard_runs(root: Path) -> None:
    """A long-named method judged at normal-quantile:0.95 and fixed:0.5, and both baselines."""
    cells = {**SMALL, LONG_CATEGORY: SMALL["cable"]}
    write_run(root, "ad", "always-defect", cells)
    write_run(root, "an", "always-normal", cells)
    # Two runs of one method: its labels name the threshold, in the narrow statistics table too.
    for name, threshold in (("q", "normal-quantile:0.95"), ("f", "fixed:0.5")):
        write_run(root, name, "my-pixel-statistics-plugin", cells, threshold=threshold,
                  config_hash=name * 64)  # fmt: skip


@pytest.mark.parametrize("width", WIDTHS)
def test_leaderboard_values_never_wrap_mid_token(tmp_path: Path, width: int) -> None:
    from iadbench.views.leaderboard import collect_runs, load_paper_reference
    from iadbench.views.leaderboard.terminal import render_terminal

    leaderboard_runs(tmp_path)
    text = printed(
        render_terminal(collect_runs(tmp_path), load_paper_reference(), width=width), width
    )
    assert "…" not in text
    assert max(len(line.rstrip()) for line in text.splitlines()) <= width
    assert not split_numbers(text), split_numbers(text)
    assert_whole(text, "normal-quantile:0.95")  # today at 60: "normal-quan" / "tile:0.95"
    # Today at 80, in the statistics table: "my-pixel-statist" / "ics-plugin" and
    # "[threshold=norma" / "l-quantile:0.95]".
    assert_whole(text, "my-pixel-statistics-plugin")
    assert_bracket_whole(text)
    assert_whole(text, LONG_CATEGORY)  # today at 60 and 80: "...-folder-na" / "me-from-..."


def test_a_redirected_leaderboard_log_keeps_values_whole(tmp_path: Path) -> None:
    leaderboard_runs(tmp_path / "runs")
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    log = tmp_path / "log"
    with log.open("w") as out:
        subprocess.run([CLI, "leaderboard", str(tmp_path / "runs")], stdout=out,
                       stderr=subprocess.STDOUT, env=env, check=True, timeout=120)  # fmt: skip
    text = log.read_text()
    assert "…" not in text and max(len(line.rstrip()) for line in text.splitlines()) <= 80
    assert not split_numbers(text), split_numbers(text)
    assert_whole(text, "normal-quantile:0.95")
    assert_bracket_whole(text)


def run_summary() -> dict[str, object]:
    metrics = {"n": 12, "errors": 0, "accuracy": 0.5, "f1_macro": 0.5,
               "balanced_accuracy": 0.5, "invalid_rate": 0.0, "auroc": 0.5, "ap": 0.5}  # fmt: skip
    return {
        "method": "my-pixel-statistics-plugin",
        "train": {"dataset": "visa", "split": "all"},
        "test": {"dataset": "mvtec", "split": "all"},
        "threshold": "normal-quantile:0.95",
        "per_class": {"a-long-category-name-from-the-factory-floor": metrics, "bottle": metrics},
        "overall": metrics,
        "class_mean": metrics,
    }


@pytest.mark.parametrize("width", WIDTHS)
def test_the_run_summary_keeps_numbers_and_names_whole(width: int) -> None:
    text = printed(summary_table(run_summary(), width=width), width)
    assert "…" not in text
    assert max(len(line.rstrip()) for line in text.splitlines()) <= width
    assert not split_numbers(text), text
    assert text.count("50.00") >= 3 * 3, text  # every percentage whole
    assert "0.95" in text


ROWS = [
    ("always-defect", "iadbench", TARGETS[0], None, None),
    ("always-normal", "iadbench", TARGETS[1], None, None),
    ("a-plugin-with-a-long-method-name", "/home/me/plugins/mine.py", "mine:Detector", None, None),
]


@pytest.mark.parametrize("width", WIDTHS)
def test_list_never_splits_a_target_mid_name(width: int) -> None:
    text = printed(method_table(ROWS, details=False, width=width), width)
    assert "…" not in text
    for target in TARGETS:  # whole, or broken after the colon (today: "...:Al" / "waysDefect")
        assert_whole(text, target)
    assert "a-plugin-with-a-long-method-name" in text


def test_list_at_80_columns_in_a_real_process() -> None:
    result = subprocess.run([CLI, "list"], capture_output=True, text=True, timeout=120,
                            env={**os.environ, "COLUMNS": "80"})  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = [line.strip() for line in result.stdout.splitlines()]
    # Whole, or wrapped only after its ":" (the zoo's long names leave the target column less
    # than its 39 characters at 80 columns); never split inside a token (":Al" / "waysDefect").
    module, _, attr = TARGETS[0].partition(":")
    whole = any(line.endswith(TARGETS[0]) for line in lines)
    assert whole or any(line.endswith(f"{module}:") for line in lines), result.stdout
    assert any(line.endswith(attr) for line in lines), result.stdout
    assert not any(line.startswith("waysDefect") or line.endswith(":Al") for line in lines)


DETAILED = [
    (*row[:3], "pixels, trains, → scores", "A detector that reads a long ``description``.")
    for row in ROWS
]


@pytest.mark.parametrize("width", WIDTHS)
def test_list_details_never_cuts_a_name(width: int) -> None:
    text = printed(method_table(DETAILED, details=True, width=width), width)
    assert "…" not in text
    for name, *_ in DETAILED:
        assert name in text
    assert "``" not in text and "description." in joined(text)


OPTIONS = [
    ("per_device_train_batch_size", "int", "4", "Completions per device (``num_generations``)."),
    ("arch", "str", "'ViT-L-14-336'", "See :func:`~iadbench.contract.categories.natural_name`."),
    ("aug_rate", "float", "0.2", "As :data:`OFFICIAL_AUG_RATE`; see `the paper <https://x>`_."),
]


@pytest.mark.parametrize("width", WIDTHS)
def test_list_options_is_plain_text_at_every_width(width: int) -> None:
    text = printed(options_table("m: iadbench (mod:M)", OPTIONS, width=width), width)
    assert "…" not in text and "``" not in text and ":data:" not in text and ":func:" not in text
    assert max(len(line.rstrip()) for line in text.splitlines()) <= width
    for key, *_ in OPTIONS:
        assert key in text
    assert "'ViT-L-14-336'" in text or "'ViT-\n" not in text
    flat = joined(re.sub(r"[│┃]", " ", text))
    assert "natural_name" in flat and "OFFICIAL_AUG_RATE" in flat and "the paper" in flat


def test_rst_roles_become_plain_text_in_one_function() -> None:
    assert plain_help("``fp16`` or :data:`OFFICIAL_EPOCHS`") == "fp16 or OFFICIAL_EPOCHS"
    assert plain_help(":func:`~a.b.natural_name`, :mod:`a.b`") == "natural_name, a.b"
    assert plain_help("`the paper <https://arxiv.org>`_") == "the paper"
    assert plain_help("``<think></think>``") == "<think></think>"


def test_the_real_list_options_has_no_rst_left() -> None:
    result = subprocess.run([CLI, "list", "--options"], capture_output=True, text=True,
                            timeout=120, env={**os.environ, "COLUMNS": "132"})  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "``" not in result.stdout and ":data:" not in result.stdout
    assert ":func:" not in result.stdout and ":mod:" not in result.stdout


def _commands(group: object, prefix: str = "") -> list[str]:
    found = [prefix.strip()]
    for name, command in getattr(group, "commands", {}).items():
        found += _commands(command, f"{prefix}{name} ")
    return found


def test_no_help_lists_a_bool_value() -> None:
    names = _commands(typer.main.get_command(app))
    assert len(names) >= 10
    for name in names:
        result = CliRunner().invoke(app, [*name.split(), "--help"], env={"COLUMNS": "200"})
        assert result.exit_code == 0, name
        assert "<bool>" not in result.output, name
        assert re.search(r"--help\s+Show this message", result.output), name
