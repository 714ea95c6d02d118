"""``iadbench compare``: McNemar's exact test between two stored runs on the same test images."""

from __future__ import annotations

import json
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from iadbench.cli import options as opt
from iadbench.cli.app import RESULTS, app, handles_user_errors
from iadbench.contract.errors import IADBenchError

if TYPE_CHECKING:
    from iadbench.analysis.statistics import McNemarResult, StoredOutcome

_LEGEND = (
    "A only / B only = images only A / only B gets right (an invalid answer is wrong). "
    "p = McNemar's exact two-sided test on those images (binomial, 1/2); 1 when there are "
    "none. Per-category p-values are not corrected for multiple comparisons."
)


@dataclass(frozen=True)
class ComparedRun:
    """A complete, sealed run dir and its final labels."""

    path: Path
    summary: dict[str, Any]
    manifest: dict[str, Any]
    outcomes: list[StoredOutcome]

    @property
    def title(self) -> str:
        """``lr-iad  runs/a  (visa/train → mvtec/all, threshold —)`` for the header."""
        s = self.summary
        train = s.get("train")
        source = "zero-shot" if not isinstance(train, dict) else (
            f"{train.get('dataset')}/{train.get('split')}"
        )  # fmt: skip
        test = f"{s['test']['dataset']}/{s['test']['split']}"
        threshold = s.get("threshold") or "—"
        return _plain(f"{s['method']}  {self.path}  ({source} → {test}, threshold {threshold})")

    @property
    def test_fingerprint(self) -> str | None:
        """The manifest's fingerprint of the test images (None when not recorded)."""
        config = self.manifest.get("config")
        test = config.get("test") if isinstance(config, dict) else None
        value = test.get("fingerprint") if isinstance(test, dict) else None
        return value if isinstance(value, str) else None


def _plain(text: str) -> str:
    """Control and bidirectional characters shown as escapes (names come from run files)."""
    return "".join(c if c.isprintable() or c == " " else f"\\u{ord(c):04x}" for c in text)


def load_compared_run(path: Path) -> ComparedRun:
    """A complete run dir whose summary matches its seal, with its final labels.

    Raises:
        IADBenchError: Not a run dir, not complete, or its records do not hold together.
    """
    from iadbench.analysis.statistics import stored_outcomes
    from iadbench.runs.run_records import seal_problem, summary_problem
    from iadbench.runs.store import RunStore

    if not path.is_dir():
        raise IADBenchError(f"{path} is not a directory; pass a run dir (holding summary.json).")
    store = RunStore(path)
    manifest, summary = store.read_manifest(), store.read_summary()
    if manifest is None or summary is None:
        raise IADBenchError(
            f"{path} holds no {'manifest.json' if manifest is None else 'summary.json'}: "
            "not a finished run dir (run `iadbench run` to completion first)."
        )
    if manifest.get("status") != "complete":
        raise IADBenchError(
            f"{path} is not complete (status {manifest.get('status')!r}); finish it with the "
            "same `iadbench run` command first."
        )
    if problem := summary_problem(summary) or seal_problem(summary, store.predictions_path):
        raise IADBenchError(f"{path}: summary.json {problem}.")
    value = summary.get("threshold_value")
    outcomes = stored_outcomes(
        store.predictions_path, float(value) if isinstance(value, (int, float)) else None
    )
    return ComparedRun(path, summary, manifest, outcomes)


def paired_outcomes(
    a: ComparedRun, b: ComparedRun
) -> tuple[list[StoredOutcome], list[StoredOutcome]]:
    """Both runs' outcomes in A's image order, after checking they are the same test images.

    Raises:
        IADBenchError: Different test dataset or split, different fingerprints, different image
            ids, or an image labelled differently.
    """
    sides = [(r.summary["test"]["dataset"], r.summary["test"]["split"]) for r in (a, b)]
    if sides[0] != sides[1]:
        raise IADBenchError(
            f"A was scored on {'/'.join(sides[0])} and B on {'/'.join(sides[1])}: McNemar's test "
            "compares two methods on the same test images. Compare runs of one test set and split."
        )
    if None not in (a.test_fingerprint, b.test_fingerprint) and (
        a.test_fingerprint != b.test_fingerprint
    ):
        raise IADBenchError(
            "A and B were scored on different test images (their test fingerprints differ: "
            "images replaced, added, removed or relabelled between the runs, or another copy of "
            "the dataset). Run both on the same files."
        )
    b_by_id = {o.id: o for o in b.outcomes}
    a_ids = {o.id for o in a.outcomes}
    only_a, only_b = sorted(a_ids - set(b_by_id)), sorted(set(b_by_id) - a_ids)
    if only_a or only_b:
        example = _plain((only_a or only_b)[0])
        raise IADBenchError(
            f"A and B hold different test images: {len(only_a)} only in A, {len(only_b)} only in "
            f"B (e.g. {example}; a partial run, --limit, or another split?). McNemar's test needs "
            "the same images in both."
        )
    relabelled = [o.id for o in a.outcomes if b_by_id[o.id].label != o.label]
    if relabelled:
        raise IADBenchError(
            f"{len(relabelled)} image(s) carry different labels in A and B (e.g. "
            f"{_plain(relabelled[0])}): the datasets differ. Run both on the same files."
        )
    return a.outcomes, [b_by_id[o.id] for o in a.outcomes]


def _groups(
    a: list[StoredOutcome], b: list[StoredOutcome]
) -> dict[str, tuple[list[StoredOutcome], list[StoredOutcome]]]:
    """``pooled`` and each category (sorted): the paired outcomes of that group."""
    groups: dict[str, tuple[list[StoredOutcome], list[StoredOutcome]]] = {"pooled": (a, b)}
    for category in sorted({o.category for o in a}):
        pick = [i for i, o in enumerate(a) if o.category == category]
        groups[category] = ([a[i] for i in pick], [b[i] for i in pick])
    return groups


def _accuracy(outcomes: list[StoredOutcome]) -> float:
    return sum(o.pred == o.label for o in outcomes) / len(outcomes)


def _verdict(test: McNemarResult, alpha: float) -> str:
    delta = f"{100 * test.accuracy_delta:+.2f} points"
    p = f"p = {test.p_value:.3g}" if test.p_value >= 0.001 else "p < 0.001"
    if test.p_value < alpha and test.better != test.worse:
        winner = "A" if test.better > test.worse else "B"
        return f"Verdict: {winner} is more accurate (A − B {delta}, {p})."
    return f"Verdict: no significant difference at {alpha:g} (A − B {delta}, {p})."


@app.command(
    rich_help_panel=RESULTS,
    epilog="Example: iadbench compare runs/lr-iad-v2m runs/qwen2-vl-v2m",
)
@handles_user_errors
def compare(
    run_a: Annotated[Path, typer.Argument(help="Run dir of method A.")],
    run_b: Annotated[Path, typer.Argument(help="Run dir of method B.")],
    as_json: Annotated[
        bool, typer.Option("--json", metavar=opt.FLAG, help="Print the figures as JSON.")
    ] = False,
) -> None:
    """McNemar's exact test between two stored runs, image by image.

    Both runs must be complete and scored on the same test images:
    the same test dataset, split and fingerprint, the same image ids and labels.
    Anything else is refused.

    Prints both accuracies, the images only A / only B gets right
    and the p-value, pooled and per category, then a verdict.
    """
    from tabulate import tabulate

    from iadbench.analysis.statistics import ALPHA, correct, mcnemar_exact

    a_run, b_run = load_compared_run(run_a), load_compared_run(run_b)
    a, b = paired_outcomes(a_run, b_run)
    tests = {
        name: (group_a, group_b, mcnemar_exact(correct(group_a), correct(group_b)))
        for name, (group_a, group_b) in _groups(a, b).items()
    }
    if as_json:
        figures = {
            name: {"n": t.n, "accuracy_a": _accuracy(ga), "accuracy_b": _accuracy(gb),
                   **t.as_block()}
            for name, (ga, gb, t) in tests.items()
        }  # fmt: skip
        typer.echo(json.dumps({"a": str(run_a), "b": str(run_b), "alpha": ALPHA,
                               "groups": figures}, indent=2))  # fmt: skip
        return
    rows = [
        [_plain(name), t.n, f"{100 * _accuracy(ga):.2f}", f"{100 * _accuracy(gb):.2f}",
         t.better, t.worse, f"{t.p_value:.3g}" if t.p_value >= 0.001 else "<0.001"]
        for name, (ga, gb, t) in tests.items()
    ]  # fmt: skip
    headers = ["group", "n", "Acc A %", "Acc B %", "A only", "B only", "p"]
    test = a_run.summary["test"]
    typer.echo(f"A: {a_run.title}\nB: {b_run.title}")
    typer.echo(
        _plain(f"Same {len(a)} test images ({test['dataset']}/{test['split']}), matched by id.")
    )
    typer.echo("")
    typer.echo(tabulate(rows, headers=headers, tablefmt="simple", disable_numparse=True,
                        colalign=["left"] + ["right"] * 6))  # fmt: skip
    typer.echo(f"\n{_verdict(tests['pooled'][2], ALPHA)}\n{textwrap.fill(_LEGEND, 80)}")
