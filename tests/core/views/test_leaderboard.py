"""Leaderboard: collecting stored runs, the paper's reference numbers and the markdown tables."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from iadbench.analysis.metrics import summarize
from iadbench.contract.errors import IADBenchError
from iadbench.runs.reader import Outcome
from iadbench.runs.seal import seal_summary
from iadbench.views.leaderboard import (
    collect_runs,
    escape_markdown,
    load_paper_reference,
    reference_mismatch,
    render_leaderboard,
)
from iadbench.views.leaderboard.reference import (
    PLACED_CLASS_MEAN,
    PLACED_NEITHER,
    PLACED_POOLED,
    PLACED_UNCHECKED,
    macro_f1_range,
    place_pooled_numbers,
)
from iadbench_methods.qwen2vl.answers import AB_ANSWER_RULES

# Official VisA counts (DESIGN §2): 1cls train normal, test normal, test anomaly.
VISA_COUNTS = {
    "candle": (900, 100, 100), "capsules": (542, 60, 100), "cashew": (450, 50, 100),
    "chewinggum": (453, 50, 100), "fryum": (450, 50, 100), "macaroni1": (900, 100, 100),
    "macaroni2": (900, 100, 100), "pcb1": (904, 100, 100), "pcb2": (901, 100, 100),
    "pcb3": (905, 101, 100), "pcb4": (904, 101, 100), "pipe_fryum": (450, 50, 100),
}  # fmt: skip

# A small test set: category -> list of (label, pred).
SMALL = {
    "bottle": [("defect", "defect")] * 3 + [("normal", "normal")] * 5 + [("defect", "normal")],
    "cable": [("defect", "defect")] * 2 + [("normal", "defect")] * 2 + [("normal", "normal")] * 4,
}


def write_run(
    root: Path,
    name: str,
    method: str,
    cells: dict[str, list[tuple[str, str]]],
    *,
    train: tuple[str, str] = ("visa", "all"),
    test: tuple[str, str] = ("mvtec", "all"),
    threshold: str | None = None,
    tiny: bool = False,
    trains: bool = True,
    status: str = "complete",
    config_hash: str | None = None,
    texts: dict[str, list[str]] | None = None,
) -> Path:
    """A run directory whose summary.json comes from real metrics over the given predictions.

    With ``texts`` (generated text per image, per category) the run is a text method's: its
    summary gets the lenient block and the 3-class F1.
    """
    records = [
        Outcome(
            id=f"{category}/{i}",
            category=category,
            label=label,
            pred=pred,
            text=None if texts is None else texts[category][i],
        )
        for category, pairs in cells.items()
        for i, (label, pred) in enumerate(pairs)
    ]
    config_hash = config_hash or (name.encode().hex() * 64)[:64]
    summary = {
        "method": method,
        "train": {"dataset": train[0], "split": train[1]},
        "test": {"dataset": test[0], "split": test[1]},
        "threshold": threshold,
        "config_hash": config_hash,
        "tiny": tiny,
        "capabilities": {"gives_scores": False, "trains": trains},
        **summarize(records, None if texts is None else AB_ANSWER_RULES),
    }
    manifest = {"config_hash": config_hash, "status": status, "updated": "2025-01-01T00:00:00",
                "command": ["iadbench", "run", "--method", method]}  # fmt: skip
    run_dir = root / name
    run_dir.mkdir(parents=True)
    predictions = "".join(
        json.dumps({"id": f"{r.category}/{i}", "category": r.category, "label": r.label,
                    "pred": r.pred, "text": r.text}) + "\n"
        for i, r in enumerate(records)
    )  # fmt: skip
    (run_dir / "predictions.jsonl").write_text(predictions)
    write_sealed_summary(run_dir, summary)
    (run_dir / "manifest.json").write_text(json.dumps(manifest))
    return run_dir


def write_sealed_summary(run_dir: Path, summary: dict) -> None:
    """Write ``summary`` as the runner does: sealed with the digests of predictions and itself."""
    sealed = seal_summary(summary, run_dir / "predictions.jsonl")
    (run_dir / "summary.json").write_text(json.dumps(sealed))


def constant(
    cells: dict[str, list[tuple[str, str]]], pred: str
) -> dict[str, list[tuple[str, str]]]:
    return {c: [(label, pred) for label, _ in pairs] for c, pairs in cells.items()}


def tables(markdown: str) -> list[list[str]]:
    """Each markdown table as its list of lines."""
    found, current = [], []
    for line in markdown.splitlines() + [""]:
        if line.startswith("|"):
            current.append(line)
        elif current:
            found.append(current)
            current = []
    return found


def cells_of(line: str) -> list[str]:
    """Cells of a table line, splitting only on pipes that no backslash escapes."""
    cells, current, chars = [], "", iter(line)
    for char in chars:
        if char == "\\":
            current += char + next(chars, "")
        elif char == "|":
            cells.append(current.strip())
            current = ""
        else:
            current += char
    return cells[1:]


def unescaped_pipes(line: str) -> int:
    return re.sub(r"\\.", "", line).count("|")


def row_of(table: list[str], first_cell: str) -> dict[str, str]:
    headers = cells_of(table[0])
    for line in table[2:]:
        cells = cells_of(line)
        if cells[0] == first_cell:
            return dict(zip(headers, cells, strict=True))
    raise AssertionError(f"no row {first_cell!r} in {table[0]}")


def summary_row(table: list[str], first_cell: str, direction: str) -> dict[str, str]:
    """A pooled / class-mean row: its first three cells and the column group of ``direction``.

    The first body line names each direction in bold above the first column of its group.
    """
    headers, band = cells_of(table[0]), cells_of(table[2])
    start = band.index(f"**{direction}**")
    end = next((i for i in range(start + 1, len(band)) if band[i]), len(band))
    for line in table[3:]:
        cells = cells_of(line)
        if cells[0] == first_cell:
            return {headers[i]: cells[i] for i in [0, 1, 2, *range(start, end)]}
    raise AssertionError(f"no row {first_cell!r} in {table[0]}")


@pytest.fixture
def small_dir(tmp_path: Path) -> Path:
    write_run(tmp_path, "lr", "lr-iad", SMALL)
    return tmp_path


def test_pooled_table_shows_metrics_of_the_stored_run(small_dir: Path) -> None:
    markdown = render_leaderboard(collect_runs(small_dir))
    row = summary_row(tables(markdown)[0], "lr-iad", "VisA→MVTec-AD")
    # 17 images, 14 correct; defects 5 of 6 found, normals 9 of 11.
    assert row["Train split"] == "all"
    assert row["n"] == "17"
    assert row["Acc"] == f"{100 * 14 / 17:.2f}"
    assert row["Bal.Acc"] == f"{100 * (5 / 6 + 9 / 11) / 2:.2f}"
    assert row["Invalid"] == "0.00"
    assert row["AUROC"] == "—"


def test_summary_tables_name_each_direction_once_above_short_headers(small_dir: Path) -> None:
    write_run(small_dir, "back", "lr-iad", SMALL, train=("mvtec", "all"), test=("visa", "all"))
    markdown = render_leaderboard(collect_runs(small_dir), load_paper_reference())
    pooled, class_mean = tables(markdown)[:2]
    group = ["n", "Acc", "F1", "Bal.Acc", "Invalid", "AUROC", "AP", "Paper Acc / F1"]
    assert cells_of(pooled[0]) == ["Method", "Threshold", "Train split", *group, *group]
    assert cells_of(pooled[2]) == ["", "", "", "**MVTec-AD→VisA**", *[""] * 7,
                                   "**VisA→MVTec-AD**", *[""] * 7]  # fmt: skip
    assert cells_of(class_mean[0])[3:12] == group[:7] + ["Collapsed", "Paper Acc / F1"]
    assert "→" not in pooled[0] + class_mean[0]
    # Every number is still there, in the group of its direction.
    back = summary_row(pooled, "lr-iad", "MVTec-AD→VisA")
    assert (back["n"], back["Acc"], back["Paper Acc / F1"]) == ("17", "82.35", "87.60 / 59.54")


def test_train_split_is_a_dash_for_methods_without_training(tmp_path: Path) -> None:
    write_run(tmp_path, "lr", "lr-iad", SMALL, train=("visa", "train"))
    write_run(tmp_path, "ad", "always-defect", constant(SMALL, "defect"), trains=False)
    write_run(tmp_path, "an", "always-normal", constant(SMALL, "normal"), trains=False,
              train=("visa", "train"))  # fmt: skip
    pooled = tables(render_leaderboard(collect_runs(tmp_path)))[0]
    assert summary_row(pooled, "lr-iad", "VisA→MVTec-AD")["Train split"] == "train"
    assert summary_row(pooled, "always-defect", "VisA→MVTec-AD")["Train split"] == "—"
    assert summary_row(pooled, "always-normal", "VisA→MVTec-AD")["Train split"] == "—"


def test_train_split_is_a_dash_when_capabilities_are_missing(tmp_path: Path) -> None:
    run_dir = write_run(tmp_path, "w", "winclip", SMALL)
    summary = json.loads((run_dir / "summary.json").read_text())
    del summary["capabilities"]
    write_sealed_summary(run_dir, summary)
    pooled = tables(render_leaderboard(collect_runs(tmp_path)))[0]
    assert summary_row(pooled, "winclip", "VisA→MVTec-AD")["Train split"] == "—"


def test_runs_of_a_method_without_training_differing_in_train_split_stay_apart(
    tmp_path: Path,
) -> None:
    cells = constant(SMALL, "defect")
    write_run(tmp_path, "one", "always-defect", cells, trains=False, config_hash="a" * 64)
    write_run(tmp_path, "two", "always-defect", cells, trains=False, config_hash="b" * 64,
              train=("visa", "train"))  # fmt: skip
    pooled = tables(render_leaderboard(collect_runs(tmp_path)))[0]
    for label in ("always-defect \\[aaaaaaaa\\]", "always-defect \\[bbbbbbbb\\]"):
        assert summary_row(pooled, label, "VisA→MVTec-AD")["Train split"] == "—"


def test_tiny_mark_follows_only_the_summary(tmp_path: Path) -> None:
    run_dir = write_run(tmp_path, "ad", "always-defect", constant(SMALL, "defect"), trains=False)
    manifest = json.loads((run_dir / "manifest.json").read_text())
    manifest["command"].append("--tiny")  # normalised by the runner: the summary says false
    (run_dir / "manifest.json").write_text(json.dumps(manifest))
    write_run(tmp_path, "w", "winclip", SMALL, tiny=True)
    markdown = render_leaderboard(collect_runs(tmp_path))
    first_cells = [cells_of(line)[0] for line in tables(markdown)[0][3:]]
    assert first_cells == ["always-defect", "always-normal (derived)", "winclip (tiny)"]


def test_class_mean_table_averages_categories(small_dir: Path) -> None:
    table = tables(render_leaderboard(collect_runs(small_dir)))[1]
    row = summary_row(table, "lr-iad", "VisA→MVTec-AD")
    assert row["Acc"] == f"{100 * (8 / 9 + 6 / 8) / 2:.2f}"
    assert row["Collapsed"] == "0/2"


def test_per_category_table_lists_every_category_and_a_mean_row(small_dir: Path) -> None:
    table = tables(render_leaderboard(collect_runs(small_dir)))[2]
    assert [cells_of(line)[0] for line in table[2:]] == ["bottle", "cable", "**mean**"]
    assert row_of(table, "bottle")["n"] == "9"
    assert row_of(table, "**mean**")["n"] == "17"


def test_derived_baselines_appear_without_a_baseline_run(small_dir: Path) -> None:
    markdown = render_leaderboard(collect_runs(small_dir))
    row = summary_row(tables(markdown)[0], "always-defect (derived)", "VisA→MVTec-AD")
    assert row["Acc"] == f"{100 * 6 / 17:.2f}†"
    assert summary_row(tables(markdown)[0], "always-normal (derived)", "VisA→MVTec-AD")["n"] == "17"


def test_stored_baseline_takes_precedence_over_a_derived_one(small_dir: Path) -> None:
    write_run(small_dir, "ad", "always-defect", constant(SMALL, "defect"))
    markdown = render_leaderboard(collect_runs(small_dir))
    first_cells = [cells_of(line)[0] for line in tables(markdown)[0][3:]]
    assert first_cells == ["always-defect", "always-normal (derived)", "lr-iad"]


def test_reference_numbers_appear_for_the_papers_setup(small_dir: Path) -> None:
    markdown = render_leaderboard(collect_runs(small_dir), load_paper_reference())
    row = summary_row(tables(markdown)[0], "lr-iad", "VisA→MVTec-AD")
    assert row["Paper Acc / F1"] == "84.35 / 71.54"
    bottle = row_of(tables(markdown)[2], "bottle")
    assert (bottle["lr-iad Paper Acc"], bottle["lr-iad Paper F1"]) == ("82.88", "62.18")


def test_reference_numbers_are_withheld_for_the_test_split(tmp_path: Path) -> None:
    write_run(tmp_path, "lr", "lr-iad", SMALL, test=("mvtec", "test"))
    markdown = render_leaderboard(collect_runs(tmp_path), load_paper_reference())
    row = summary_row(tables(markdown)[0], "lr-iad", "VisA→MVTec-AD (test split)")
    assert row["Paper Acc / F1"] == "—¶"
    assert "84.35" not in markdown and "82.88" not in markdown
    assert "the paper tests on the All split" in markdown


def test_paper_number_equal_to_always_defect_is_noted(tmp_path: Path) -> None:
    cells = {
        category: [("normal", "normal")] * (train + test_normal) + [("defect", "defect")] * defects
        for category, (train, test_normal, defects) in VISA_COUNTS.items()
    }
    write_run(tmp_path, "lr", "lr-iad", cells, train=("mvtec", "all"), test=("visa", "all"))
    markdown = render_leaderboard(collect_runs(tmp_path), load_paper_reference())
    derived = summary_row(tables(markdown)[0], "always-defect (derived)", "MVTec-AD→VisA")
    assert (derived["Acc"], derived["F1"]) == ("11.09†", "9.98")
    assert (
        "The paper's winclip on VisA (Table III: 11.09 / 9.98) equals what always-defect"
        in markdown
    )


def test_crafted_method_name_cannot_break_a_table(tmp_path: Path) -> None:
    write_run(tmp_path, "evil", "evil|name<script>\\|`x`\n# h", SMALL)
    markdown = render_leaderboard(collect_runs(tmp_path), load_paper_reference())
    assert "<script>" not in markdown
    for table in tables(markdown):
        assert {unescaped_pipes(line) for line in table} == {unescaped_pipes(table[0])}
    assert "evil\\|name&lt;script&gt;\\\\\\|\\`x\\` \\# h" in markdown


def test_crafted_names_parse_as_table_cells_in_a_markdown_parser(tmp_path: Path) -> None:
    markdown_it = pytest.importorskip("markdown_it")
    cells = {"a|b": SMALL["bottle"], "<img src=x>": SMALL["cable"]}
    write_run(tmp_path, "evil", "evil|name<script>\\|`x`", cells)
    html = (
        markdown_it.MarkdownIt("commonmark")
        .enable("table")
        .render(render_leaderboard(collect_runs(tmp_path)))
    )
    assert "<script>" not in html and "<img" not in html
    assert re.search(r"<td[^>]*>a\|b</td>", html)
    for table in html.split("<table>")[1:]:
        rows = table.split("</tr>")[:-1]
        header = len(re.findall(r"<th[ >]", rows[0]))
        assert {len(re.findall(r"<td[ >]", row)) for row in rows[1:]} == {header}


def test_escape_markdown_neutralises_markup_characters() -> None:
    assert escape_markdown("a|b\\c`d*e_f[g]h<i>j#k\nl") == (
        "a\\|b\\\\c\\`d\\*e\\_f\\[g\\]h&lt;i&gt;j\\#k l"
    )


def test_incomplete_runs_are_skipped_and_noted(small_dir: Path) -> None:
    write_run(small_dir, "half", "winclip", SMALL, status="running")
    collected = collect_runs(small_dir)
    assert [run.method for run in collected.runs] == ["lr-iad"]
    assert "Skipped half: run not complete (status 'running')." in render_leaderboard(collected)


def test_corrupt_summary_is_skipped_with_a_reason(small_dir: Path) -> None:
    broken = write_run(small_dir, "broken", "winclip", SMALL)
    (broken / "summary.json").write_text("{not json")
    collected = collect_runs(small_dir)
    assert [s.reason for s in collected.skipped] == ["unreadable summary.json (JSONDecodeError)"]


def test_missing_directory_raises(tmp_path: Path) -> None:
    with pytest.raises(IADBenchError, match="does not exist"):
        collect_runs(tmp_path / "nowhere")


def test_directory_without_complete_runs_raises(tmp_path: Path) -> None:
    write_run(tmp_path, "half", "lr-iad", SMALL, status="running")
    with pytest.raises(IADBenchError, match="No complete run"):
        collect_runs(tmp_path)


def test_identical_config_hash_is_kept_once(small_dir: Path) -> None:
    write_run(small_dir / "copy", "lr", "lr-iad", SMALL)
    collected = collect_runs(small_dir)
    assert len(collected.runs) == 1
    assert "same configuration" in collected.skipped[0].reason


def test_two_configurations_of_one_setup_get_hash_labels(tmp_path: Path) -> None:
    write_run(tmp_path, "one", "lr-iad", SMALL, config_hash="a" * 64)
    write_run(tmp_path, "two", "lr-iad", constant(SMALL, "defect"), config_hash="b" * 64)
    write_run(tmp_path, "other", "lr-iad", SMALL, threshold="oracle", config_hash="c" * 64)
    labels = sorted(run.label for run in collect_runs(tmp_path).runs)
    assert labels == ["lr-iad", "lr-iad [aaaaaaaa]", "lr-iad [bbbbbbbb]"]


def test_two_configurations_are_labelled_by_the_settings_that_differ(tmp_path: Path) -> None:
    import json

    def configured(name: str, options: dict, seed: int = 0, fingerprint: str = "f" * 64) -> None:
        run_dir = write_run(tmp_path, name, "winclip", SMALL, config_hash=name[0] * 64)
        manifest = json.loads((run_dir / "manifest.json").read_text())
        manifest["config"] = {"options": options, "seed": seed, "method_version": "2",
                              "train": None, "test": {"name": "mvtec", "fingerprint": fingerprint}}
        (run_dir / "manifest.json").write_text(json.dumps(manifest))

    configured("a", {"image_size": 240, "arch": "ViT-B-16"})
    configured("b", {"image_size": 320, "arch": "ViT-B-16"}, seed=1)
    configured("c", {"image_size": 320, "arch": "ViT-B-16"}, seed=1, fingerprint="e" * 64)
    labels = sorted(run.label for run in collect_runs(tmp_path).runs)
    assert labels == [
        "winclip [image_size=240, seed=0, test data=ffffffff]",
        "winclip [image_size=320, seed=1, test data=eeeeeeee]",
        "winclip [image_size=320, seed=1, test data=ffffffff]",
    ]


def test_a_tiny_run_names_the_checkpoint_it_set_away_from_the_tiny_default(tmp_path: Path) -> None:
    # The demo's warm start (issue 20): a lone tiny row must not read as "random weights".
    defaults = {"model": "Qwen/Qwen2-VL-7B-Instruct", "max_new_tokens": 16, "prompt": "lines"}

    def configured(name: str, options: dict, *, tiny: bool, recorded: bool = True) -> None:
        run_dir = write_run(tmp_path, name, "qwen2-vl", SMALL, tiny=tiny, trains=False,
                            test=(f"test-{name}", "all"))  # fmt: skip
        manifest = json.loads((run_dir / "manifest.json").read_text())
        manifest["config"] = {"options": {**defaults, **options}, "seed": 0}
        if recorded:
            manifest["method"] = {"option_defaults": defaults}
        (run_dir / "manifest.json").write_text(json.dumps(manifest))

    warm = {"model": "/cache/tiny-models/qwen2-vl-warm-blind-2", "max_new_tokens": 32}
    configured("warm", warm, tiny=True)
    configured("plain", {}, tiny=True)
    configured("real", warm, tiny=False)  # a full-size run keeps its label (published rows)
    configured("older", warm, tiny=True, recorded=False)  # no defaults recorded: unchanged
    labels = {run.test_dataset: run.label for run in collect_runs(tmp_path).runs}
    assert labels == {
        "test-warm": "qwen2-vl [model=qwen2-vl-warm-blind-2]",  # not max_new_tokens
        "test-plain": "qwen2-vl",
        "test-real": "qwen2-vl",
        "test-older": "qwen2-vl",
    }
    markdown = render_leaderboard(collect_runs(tmp_path))
    assert r"qwen2-vl \[model=qwen2-vl-warm-blind-2\] (tiny)" in markdown
    assert "a tiny row's [model=CHECKPOINT] names the checkpoint it loaded instead" in markdown


def test_runs_scored_on_different_test_images_are_noted(small_dir: Path) -> None:
    write_run(small_dir, "w", "winclip", {"bottle": SMALL["bottle"]})
    markdown = render_leaderboard(collect_runs(small_dir))
    assert "winclip scored on other per-category label counts than the run in lr" in markdown


def test_paper_numbers_are_withheld_when_trained_on_the_test_dataset(tmp_path: Path) -> None:
    write_run(tmp_path, "lr", "lr-iad", SMALL, train=("mvtec", "all"))
    markdown = render_leaderboard(collect_runs(tmp_path), load_paper_reference())
    row = summary_row(tables(markdown)[0], "lr-iad", "MVTec-AD→MVTec-AD")
    assert row["Paper Acc / F1"] == "—¶"
    assert "the paper trains on 'visa' for this test set, this run on 'mvtec'" in markdown


def test_oracle_threshold_and_tiny_runs_are_marked(tmp_path: Path) -> None:
    write_run(tmp_path, "w", "winclip", SMALL, threshold="oracle", tiny=True)
    markdown = render_leaderboard(collect_runs(tmp_path), load_paper_reference())
    row = summary_row(tables(markdown)[0], "winclip (tiny)", "VisA→MVTec-AD")
    assert row["Threshold"] == "oracle‡"
    assert row["Paper Acc / F1"] == "—¶"
    assert "‡ oracle threshold: fitted on the test labels" in markdown
    assert "random-weight tiny models, not comparable to the paper" in markdown


def test_invalid_column_appears_only_for_methods_with_invalid_answers(tmp_path: Path) -> None:
    cells = {"bottle": SMALL["bottle"][:-1] + [("defect", "invalid")]}
    write_run(tmp_path, "q", "qwen2-vl", cells)
    headers = cells_of(tables(render_leaderboard(collect_runs(tmp_path)))[2][0])
    assert "qwen2-vl Inv" in headers and "always-defect (derived) Inv" not in headers


def test_reference_mismatch_explains_the_setup() -> None:
    assert reference_mismatch("visa", "mvtec", "all") is None
    assert reference_mismatch("mvtec", "mvtec", "all") is not None
    assert reference_mismatch("visa", "mvtec", "all", tiny=True) == "random-weight tiny models"


def test_paper_reference_lookup() -> None:
    reference = load_paper_reference()
    assert reference.lookup("visa", "winclip") == (11.09, 9.98, "III")
    assert reference.lookup("mvtec", "lr-iad", "bottle") == (82.88, 62.18, "VI")
    assert reference.lookup("mvtec", "always-defect") is None


def test_output_is_deterministic(small_dir: Path) -> None:
    write_run(small_dir, "back", "aprilgan", SMALL, train=("mvtec", "all"), test=("visa", "all"))
    reference = load_paper_reference()
    first = render_leaderboard(collect_runs(small_dir), reference)
    assert first == render_leaderboard(collect_runs(small_dir), reference)
    assert first.index("## Per category: MVTec-AD→VisA") < first.index(
        "## Per category: VisA→MVTec"
    )


# --- issue 8 item 7: the paper's pooled numbers placed by computation, the 3-class F1 check


def official_sizes() -> dict[str, dict[str, int]]:
    from iadbench.data import reader_class

    return {
        d: {c: v.total for c, v in reader_class(d).official_counts.items()}
        for d in ("mvtec", "visa")
    }


def test_pooled_numbers_are_placed_by_computation_from_the_category_rows() -> None:
    placements = place_pooled_numbers(load_paper_reference(), official_sizes())
    where = {key: p.where for key, p in placements.items()}
    assert where == {
        ("mvtec", "anomalygpt"): PLACED_CLASS_MEAN,
        ("mvtec", "aprilgan"): PLACED_CLASS_MEAN,
        ("mvtec", "lr-iad"): PLACED_POOLED,
        ("mvtec", "qwen2-vl"): PLACED_UNCHECKED,
        ("mvtec", "winclip"): PLACED_UNCHECKED,
        ("visa", "anomalygpt"): PLACED_CLASS_MEAN,
        ("visa", "aprilgan"): PLACED_NEITHER,
        ("visa", "lr-iad"): PLACED_POOLED,
        ("visa", "qwen2-vl"): PLACED_UNCHECKED,
        ("visa", "winclip"): PLACED_UNCHECKED,
    }
    aprilgan_visa = placements[("visa", "aprilgan")]
    assert aprilgan_visa.equal_categories == ("pipe_fryum",)
    mean = aprilgan_visa.category_mean
    assert mean is not None
    assert (round(mean.accuracy_pct, 2), round(mean.f1_macro_pct, 2)) == (70.99, 56.11)
    assert round(placements[("mvtec", "lr-iad")].implied_pooled_accuracy or 0, 2) == 84.35


def test_a_class_mean_table_iii_number_moves_to_the_class_mean_table(small_dir: Path) -> None:
    write_run(small_dir, "ap", "aprilgan", SMALL)
    markdown = render_leaderboard(collect_runs(small_dir), load_paper_reference())
    pooled, class_mean = tables(markdown)[:2]
    assert summary_row(pooled, "aprilgan", "VisA→MVTec-AD")["Paper Acc / F1"] == "—◊"
    assert summary_row(class_mean, "aprilgan", "VisA→MVTec-AD")["Paper Acc / F1"] == (
        "47.88 / 42.78◊"
    )
    # A genuinely pooled number stays where it was.
    assert summary_row(pooled, "lr-iad", "VisA→MVTec-AD")["Paper Acc / F1"] == "84.35 / 71.54"
    assert (
        "The paper's aprilgan on MVTec-AD (Table III: 47.88 / 42.78) equals the class mean of its "
        "Table VI rows" in markdown
    )
    assert "no number of correct images out of the 5354 images of MVTec-AD All gives 47.88" in (
        markdown
    )


def test_table_iii_number_equal_to_one_category_row_is_noted(tmp_path: Path) -> None:
    write_run(tmp_path, "ap", "aprilgan", SMALL, train=("mvtec", "all"), test=("visa", "all"))
    markdown = render_leaderboard(collect_runs(tmp_path), load_paper_reference())
    pooled = tables(markdown)[0]
    assert summary_row(pooled, "aprilgan", "MVTec-AD→VisA")["Paper Acc / F1"] == "71.97 / 55.52◊"
    assert "unweighted mean 70.99 / 56.11" in markdown
    assert "It equals its own pipe\\_fryum row of Table V." in markdown


def test_macro_f1_range_at_a_printed_accuracy() -> None:
    # always-defect on MVTec-AD All: 23.50 % accuracy, F1 19.03 is the only 2-class value there
    # without invalid answers; the range includes it.
    low, high = macro_f1_range(1258, 4096, 23.50)
    assert low <= 0.1903 <= high
    low, high = macro_f1_range(1258, 4096, 69.84)
    assert (round(100 * low, 2), round(100 * high, 2)) == (41.12, 87.72)
    assert macro_f1_range(1258, 4096, 47.88) != macro_f1_range(1258, 4096, 47.88)  # nan


def test_qwen2vl_f1_is_checked_against_two_and_three_class_ranges(tmp_path: Path) -> None:
    write_run(tmp_path, "q", "qwen2-vl", SMALL)
    write_run(tmp_path, "qb", "qwen2-vl", SMALL, train=("mvtec", "all"), test=("visa", "all"))
    markdown = render_leaderboard(collect_runs(tmp_path), load_paper_reference())
    assert (
        "The paper's qwen2-vl on MVTec-AD (Table IV: 69.84 / 30.88): at 69.84 % accuracy on the "
        "5354 images of MVTec-AD All (1258 defect), any predictions (defect, normal or invalid) "
        "score a macro-F1 over {defect, normal} between 41.12 and 87.72" in markdown
    )
    assert "which includes 30.88 (a two-class F1 of 46.32): consistent with a 3-class" in markdown
    assert "which excludes 20.56 too: the 3-class hypothesis does not explain it" in markdown


# A text method's answers: the strict parser accepts only the first, the lenient letter rule all.
LENIENT_CELLS = {"bottle": [("defect", "defect"), ("defect", "invalid"), ("normal", "invalid")]}
LENIENT_TEXTS = {
    "bottle": [
        "<think>x</think><answer>A</answer>",
        "<think>x</think><answer>(A) defect</answer>",
        "<answer>B</answer><answer>B</answer>",
    ]
}


def test_text_methods_get_a_strict_vs_lenient_table(tmp_path: Path) -> None:
    write_run(tmp_path, "q", "qwen2-vl", LENIENT_CELLS, texts=LENIENT_TEXTS)
    markdown = render_leaderboard(collect_runs(tmp_path), load_paper_reference())
    assert "## Text methods: strict vs lenient answer parsing" in markdown
    table = next(t for t in tables(markdown) if "Lenient rule" in t[0])
    row = dict(zip(cells_of(table[0]), cells_of(table[2]), strict=True))
    assert row["Method"] == "qwen2-vl" and row["Group"] == "pooled"
    assert row["Lenient rule"] == "lenient:answer-block-letter"
    assert (row["Answered strict"], row["Answered lenient"], row["Changed"]) == (
        f"{100 / 3:.2f}",
        "100.00",
        "2",
    )
    assert (row["Acc strict"], row["Acc lenient"]) == (f"{100 / 3:.2f}", "100.00")
    assert row["F1 3-class"] == f"{100 * 2 / 3 * float(row['F1 strict']) / 100:.2f}"
    assert "lenient:answer-block-letter = the first standalone capital A or B" in markdown
    assert "exactly one &lt;answer&gt; block" in markdown


@pytest.mark.parametrize("control", ["\u202e", "\u2066", "\u200f", "\u061c"])
def test_bidi_controls_never_reach_the_markdown_raw(control) -> None:
    escaped = escape_markdown(f"pcb{control}1gnp.exe")
    assert control not in escaped
    assert f"U+{ord(control):04X}" in escaped
