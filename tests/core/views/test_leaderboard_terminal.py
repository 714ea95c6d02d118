"""The leaderboard at 80 columns: whole cells, both directions, the stored numbers."""

from __future__ import annotations

import hashlib
import io
import itertools
import json
import re
from pathlib import Path

from rich.console import Console
from test_leaderboard import LENIENT_CELLS, LENIENT_TEXTS, SMALL, constant, write_run

from iadbench.views.leaderboard import collect_runs, load_paper_reference
from iadbench.views.leaderboard.terminal import render_terminal

LONG = "my-very-long-plugin-method-for-industrial-inspection-of-parts-v2"
# A category name wider than the category column would be at 80 columns.
CELLS = {**SMALL, "a-category-with-a-very-long-folder-name-from-a-factory": SMALL["cable"]}
METHODS = ("winclip", "aprilgan", "anomalygpt", "qwen2-vl", "lr-iad", "extra-a", "extra-b")


def render(root: Path, width: int = 80) -> str:
    """What ``console.print`` writes to a redirected stdout of ``width`` columns."""
    out = io.StringIO()
    console = Console(file=out, width=width, force_terminal=False, color_system=None)
    console.print(render_terminal(collect_runs(root), load_paper_reference(), width=width))
    return out.getvalue()


def both_directions(root: Path) -> None:
    """Every paper method, two extra ones and a long-named plugin, in both directions."""
    for train, test in (("visa", "mvtec"), ("mvtec", "visa")):
        for index, method in enumerate((*METHODS, LONG)):
            pred = "defect" if index % 2 else "normal"
            write_run(
                root, f"{method}-{train}", method, constant(CELLS, pred) if index < 2 else CELLS,
                train=(train, "all"), test=(test, "all"), threshold="fixed:0.5",
                config_hash=hashlib.sha256(f"{method}-{train}".encode()).hexdigest(),
            )  # fmt: skip


def test_every_line_fits_80_columns_and_no_cell_is_cut(tmp_path: Path) -> None:
    both_directions(tmp_path)
    text = render(tmp_path)
    assert "…" not in text
    assert max(len(line.rstrip()) for line in text.splitlines()) <= 80
    assert "━━ VisA→MVTec-AD" in text and "━━ MVTec-AD→VisA" in text
    # The long label wraps (folded) instead of being cut: its start and end are both shown.
    assert LONG[:20] in text and LONG[-8:] in text
    # Nine methods and two baselines do not fit beside each other: the per-category tables
    # are split, and every row number heads a column of one of them.
    assert re.search(r"Acc per category \(#1–#\d+\)", text)
    for number in range(1, 11):
        assert re.search(rf"\s#{number}(\s|$)", text), number


def test_a_narrow_and_a_wide_console_keep_every_cell_whole(tmp_path: Path) -> None:
    both_directions(tmp_path)
    for width in (60, 132):
        text = render(tmp_path, width)
        assert "…" not in text
        assert max(len(line.rstrip()) for line in text.splitlines()) <= width
        # Nothing cropped at the right edge: every table keeps its last column.
        assert text.count(" AP\n") >= 2 and text.count(" Coll.\n") == 2, width


def pooled_cells(text: str, direction: str, label: str) -> list[str]:
    """The cells of ``label``'s line in the pooled table of ``direction``."""
    section = text.split(f"━━ {direction}")[1].split("━━")[0]
    pooled = section.split("Pooled over all test images")[1].split("Class mean")[0]
    line = next(
        line for line in pooled.splitlines() if re.match(rf"\s*\d+\s+{re.escape(label)}\s", line)
    )
    return line.split()


def test_numbers_are_the_stored_summaries_in_percent(tmp_path: Path) -> None:
    both_directions(tmp_path)
    text = render(tmp_path)
    for direction, run in (("VisA→MVTec-AD", "lr-iad-visa"), ("MVTec-AD→VisA", "lr-iad-mvtec")):
        summary = json.loads((tmp_path / run / "summary.json").read_text())
        overall = summary["overall"]
        cells = pooled_cells(text, direction, "lr-iad")
        keys = ("accuracy", "f1_macro", "balanced_accuracy", "invalid_rate")
        expected = [str(overall["n"])] + [f"{100 * overall[key]:.2f}" for key in keys]
        assert [cell.rstrip("†") for cell in cells[2:7]] == expected
        assert cells[7:9] == ["—", "—"]  # no scores: no AUROC, no AP


def test_per_category_accuracy_is_each_categorys_stored_value(tmp_path: Path) -> None:
    write_run(tmp_path, "lr", "lr-iad", SMALL)
    text = render(tmp_path)
    summary = json.loads((tmp_path / "lr" / "summary.json").read_text())
    table = text.split("Acc per category")[1].split("F1 per category")[0].splitlines()
    rule = next(i for i, line in enumerate(table) if line.startswith("───"))
    # Two derived baselines, lr-iad, and the paper's Table VI numbers for lr-iad (#3 / paper).
    assert table[rule - 2].split() == ["#3"]
    assert table[rule - 1].split() == ["Category", "n", "#1", "#2", "#3", "paper"]
    lines = {line.split()[0]: line.split() for line in table[rule + 1 :] if line.strip()}
    for category, metrics in summary["per_class"].items():
        assert lines[category][1] == str(metrics["n"])
        assert lines[category][4].rstrip("†") == f"{100 * metrics['accuracy']:.2f}"
    assert lines["mean"][4] == f"{100 * summary['class_mean']['accuracy']:.2f}"


def test_paper_numbers_appear_under_a_comparable_run(tmp_path: Path) -> None:
    write_run(tmp_path, "lr", "lr-iad", SMALL, train=("visa", "all"), test=("mvtec", "all"))
    text = render(tmp_path)
    pooled = text.split("Pooled over all test images")[1].split("Class mean")[0]
    paper = next(line for line in pooled.splitlines() if line.split()[:1] == ["paper"])
    assert paper.split()[1:3] == ["84.35", "71.54"]  # Table III, LR-IAD on MVTec-AD


def test_tiny_runs_get_no_paper_line_but_the_withheld_marker(tmp_path: Path) -> None:
    write_run(tmp_path, "lr", "lr-iad", SMALL, tiny=True)
    text = render(tmp_path)
    assert "lr-iad (tiny)¶" in text
    assert not any(line.split()[:1] == ["paper"] for line in text.splitlines())
    assert "¶ the paper reports this method on another setup" in text


def test_untrusted_names_are_text_not_markup_or_terminal_control(tmp_path: Path) -> None:
    cells = {"bott\x1b[31mle": SMALL["bottle"], "[bold red]cable[/]": SMALL["cable"]}
    write_run(tmp_path, "x", "[link=http://x]m[/link]", cells)
    text = render(tmp_path)
    assert "\x1b" not in text
    assert "[bold red]cable[/]" in text and "[link=http://x]m[/link]" in text


def test_text_methods_get_strict_to_lenient_cells(tmp_path: Path) -> None:
    write_run(tmp_path, "q", "qwen2-vl", LENIENT_CELLS, texts=LENIENT_TEXTS)
    text = render(tmp_path)
    table = text.split("Text methods: strict vs lenient")[1].split("Acc per category")[0]
    lines = [line.split() for line in table.splitlines()]
    strict = next(line for line in lines if "qwen2-vl" in line)
    lenient = next(line for line in lines if line[:1] == ["lenient"])
    third = f"{100 / 3:.2f}"
    assert strict[2:6] == ["strict", third, third, third]  # answered, Acc, F1 (no Changed)
    assert lenient == ["lenient", "100.00", "100.00", "100.00", "100.00", "2"]
    assert "#3 lenient:answer-block-letter" in table


def test_intervals_and_mcnemar_tests_are_the_runs_statistics(tmp_path: Path) -> None:
    from iadbench.analysis.statistics import statistics_of_run
    from iadbench.runs.reader import open_run

    both_directions(tmp_path)
    text = render(tmp_path)
    section = text.split("━━ VisA→MVTec-AD")[1].split("━━")[0]
    table = section.split("Intervals and McNemar tests (pooled)")[1].split("\n\n")[0]
    run = tmp_path / "lr-iad-visa"
    stats = statistics_of_run(open_run(run))
    assert stats is not None
    low, high = stats["bootstrap"]["overall"]["accuracy"]
    line = next(line for line in table.splitlines() if re.match(r"\s*\d+\s+lr-iad\s", line))
    assert f"{100 * low:.1f}–{100 * high:.1f}" in line.split()
    assert all(len(line) <= 80 for line in table.splitlines())


def test_each_p_value_sits_under_its_own_baselines_header(tmp_path: Path) -> None:
    """A stored baseline compared with itself has p = 1: the header above that cell names it."""
    write_run(tmp_path, "ad", "always-defect", constant(SMALL, "defect"))
    write_run(tmp_path, "an", "always-normal", constant(SMALL, "normal"))
    text = render(tmp_path)
    table = text.split("Intervals and McNemar tests (pooled)")[1].split("\n\n")[0]
    header = next(line.split() for line in table.splitlines() if "Beats" in line)
    columns = [f"{word} {label}" for word, label in itertools.pairwise(header) if word == "vs"]
    assert columns == ["vs AD", "vs AN"]
    for label, own in (("always-defect", "AD"), ("always-normal", "AN")):
        cells = next(line.split() for line in table.splitlines() if label in line)
        p_values = cells[-3:-1]  # the two p columns, before Beats
        assert p_values[columns.index(f"vs {own}")] == "1", (label, cells)

