"""``iadbench compare``: two stored runs on the same test images, image by image.

McNemar's exact test on the labels (:mod:`iadbench.analysis.statistics`), and where both runs
have scores a paired bootstrap of the difference in AUROC (:mod:`iadbench.analysis.paired_auroc`).
"""

from __future__ import annotations

import json
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from iadbench.cli import options as opt
from iadbench.cli.app import RESULTS, app, handles_user_errors
from iadbench.contract.errors import IADBenchError

if TYPE_CHECKING:
    from iadbench.analysis.paired_auroc import AurocDifference
    from iadbench.analysis.statistics import McNemarResult
    from iadbench.runs.reader import Outcome, StoredRun

_LEGEND = (
    "A only / B only = images only A / only B gets right (an invalid answer is wrong). "
    "p = McNemar's exact two-sided test on those images (binomial, 1/2); 1 when there are "
    "none. Per-category p-values are not corrected for multiple comparisons."
)
_AUROC_LEGEND = (
    "AUROC in percent; A − B with its 95 % percentile interval from a paired bootstrap (1000 "
    "resamples of the images, both runs scored on the same draw, images in id order, seed 0); "
    "p = two-sided bootstrap p-value, min(1, 2 (1 + k) / (B + 1)) with k the resampled "
    "differences on the far side of 0 and B the resamples holding both labels. An unscored "
    "image is ranked at the wrong extreme for its truth, as in the summary's AUROC."
)


@dataclass(frozen=True)
class ComparedRun:
    """A complete, sealed stored run and its final labels."""

    run: StoredRun
    outcomes: list[Outcome]

    @property
    def title(self) -> str:
        """``lr-iad  runs/a  (visa/train → mvtec/all, threshold —)`` for the header."""
        run = self.run
        source = "zero-shot" if run.train_dataset is None else (
            f"{run.train_dataset}/{run.train_split}"
        )  # fmt: skip
        test = f"{run.test_dataset}/{run.test_split}"
        return _plain(f"{run.method}  {run.path}  ({source} → {test}, threshold "
                      f"{run.threshold or '—'})")  # fmt: skip


def _plain(text: str) -> str:
    """Control and bidirectional characters shown as escapes (names come from run files)."""
    return "".join(c if c.isprintable() or c == " " else f"\\u{ord(c):04x}" for c in text)


def load_compared_run(path: Path) -> ComparedRun:
    """A complete run dir whose summary matches its seal, with its final labels.

    Raises:
        IADBenchError: Not a complete run dir, or its records do not hold together.
    """
    from iadbench.runs.reader import UnusableRun, open_run

    try:
        run = open_run(path)
    except UnusableRun as unusable:
        raise IADBenchError(
            f"{path}: {unusable.reason}; compare needs the dir of a complete run (finish it with "
            "its `iadbench run` command first)."
        ) from None
    if problem := run.seal_problem():
        raise IADBenchError(f"{path}: {problem}.")
    return ComparedRun(run, run.outcomes())


def paired_outcomes(a: ComparedRun, b: ComparedRun) -> tuple[list[Outcome], list[Outcome]]:
    """Both runs' outcomes in A's image order, after checking they are the same test images.

    Raises:
        IADBenchError: Different test dataset or split, different fingerprints, different image
            ids, or an image labelled differently.
    """
    sides = [(r.run.test_dataset, r.run.test_split) for r in (a, b)]
    if a.run.limit != b.run.limit:
        raise IADBenchError(_limit_mismatch(a.run.limit, b.run.limit))
    if a.run.categories != b.run.categories:
        raise IADBenchError(_categories_mismatch(a.run.categories, b.run.categories))
    if sides[0] != sides[1]:
        raise IADBenchError(
            f"A was scored on {'/'.join(sides[0])} and B on {'/'.join(sides[1])}: McNemar's test "
            "compares two methods on the same test images. Compare runs of one test set and split."
        )
    if None not in (a.run.test_fingerprint, b.run.test_fingerprint) and (
        a.run.test_fingerprint != b.run.test_fingerprint
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


def _limit_mismatch(a: int | None, b: int | None) -> str:
    """Why a ``--limit`` run and a run of another limit hold different images, and what to run.

    A partial run's test fingerprint covers its first N images per category only, so without
    this check the pair was refused as "images replaced, added, removed or relabelled".
    """
    if a is None or b is None:
        partial, full, n = ("A", "B", a) if b is None else ("B", "A", b)
        return (
            f"{partial} is a partial run (--limit {n}: the first {n} test images of every "
            f"category) and {full} a full one, so they hold different test images: run {partial} "
            f"again without --limit (or {full} with --limit {n}) and compare those."
        )
    return (
        f"A is a partial run with --limit {a} and B one with --limit {b}, so they hold different "
        "test images: run one of them again with the other's --limit and compare those."
    )


def _categories_mismatch(a: tuple[str, ...] | None, b: tuple[str, ...] | None) -> str:
    """Why runs of different ``--categories`` hold different images, and what to run."""

    def scored(categories: tuple[str, ...] | None) -> str:
        return "every category" if categories is None else ", ".join(categories)

    return (
        f"A scored {scored(a)} and B {scored(b)} (--categories), so they hold different test "
        "images: run them with the same --categories (or none) and compare those."
    )


def tiny_notes(a: ComparedRun, b: ComparedRun) -> list[str]:
    """One line per run made with ``--tiny``: its answers come from random weights (issue 19).

    A tiny run checks that a method runs end to end; a difference it shows is noise, not the
    method's, so compare says so beside the figures.
    """
    tiny = [(side, run.run.method) for side, run in (("A", a), ("B", b)) if run.run.tiny]
    if not tiny:
        return []
    who = " and ".join(f"{side} ({method})" for side, method in tiny)
    whose = f"its answers are noise, not {tiny[0][1]}'s" if len(tiny) == 1 else (
        "their answers are noise, not the methods'"
    )  # fmt: skip
    return [
        _plain(f"{who} used tiny random weights (--tiny): {whose}; compare runs without --tiny "
               "to compare methods.")
    ]  # fmt: skip


def _groups(a: list[Outcome], b: list[Outcome]) -> dict[str, tuple[list[Outcome], list[Outcome]]]:
    """``pooled`` and each category (sorted): the paired outcomes of that group."""
    groups: dict[str, tuple[list[Outcome], list[Outcome]]] = {"pooled": (a, b)}
    for category in sorted({o.category for o in a}):
        pick = [i for i, o in enumerate(a) if o.category == category]
        groups[category] = ([a[i] for i in pick], [b[i] for i in pick])
    return groups


def _accuracy(outcomes: list[Outcome]) -> float:
    return sum(o.correct for o in outcomes) / len(outcomes)


def _verdict(test: McNemarResult, alpha: float) -> str:
    delta = f"{100 * test.accuracy_delta:+.2f} points"
    p = f"p = {test.p_value:.3g}" if test.p_value >= 0.001 else "p < 0.001"
    if test.p_value < alpha and test.better != test.worse:
        winner = "A" if test.better > test.worse else "B"
        return f"Verdict: {winner} is more accurate (A − B {delta}, {p})."
    return f"Verdict: no significant difference at {alpha:g} (A − B {delta}, {p})."


def _has_scores(run: ComparedRun) -> bool:
    return any(o.score is not None for o in run.outcomes)


def auroc_tests(
    a_run: ComparedRun, b_run: ComparedRun, groups: dict[str, tuple[list[Outcome], list[Outcome]]]
) -> tuple[dict[str, AurocDifference] | None, str | None]:
    """The paired AUROC bootstrap of every group, or None and why there is none.

    Only where both runs have scores (a run without any gives no AUROC); a text method's
    unscored images are ranked at the wrong extreme (the summary's rule).
    """
    missing = [f"{side} ({run.run.method})" for side, run in (("A", a_run), ("B", b_run))
               if not _has_scores(run)]  # fmt: skip
    if len(missing) == 2:  # two label methods: McNemar is the comparison, nothing to say
        return None, "AUROC not compared: neither run gives scores."
    if missing:
        return None, _plain(f"AUROC not compared: {missing[0]} gives no scores.")
    from iadbench.analysis.paired_auroc import paired_auroc_difference

    tests = {}
    for name, (ga, gb) in groups.items():
        tests[name] = paired_auroc_difference(
            [o.id for o in ga], [o.label for o in ga], [o.score for o in ga],
            [o.score for o in gb], group="" if name == "pooled" else name,
            groups=[o.group for o in ga],
        )  # fmt: skip
    return tests, None


def _percent(value: float | None, sign: bool = False) -> str:
    return "—" if value is None else f"{100 * value:{'+' if sign else ''}.2f}"


def _p_text(p: float | None) -> str:
    return "—" if p is None else f"{p:.3g}" if p >= 0.001 else "<0.001"


def _auroc_table(tests: dict[str, AurocDifference]) -> str:
    from tabulate import tabulate

    rows = [
        [_plain(name), _percent(t.auroc_a), _percent(t.auroc_b), _percent(t.difference, True),
         "—" if t.interval is None else f"{_percent(t.interval[0], True)} to "
         f"{_percent(t.interval[1], True)}", _p_text(t.p_value)]
        for name, t in tests.items()
    ]  # fmt: skip
    headers = ["group", "AUROC A", "AUROC B", "A − B", "95% CI", "p"]
    return tabulate(rows, headers=headers, tablefmt="simple", disable_numparse=True,
                    colalign=["left"] + ["right"] * 5)  # fmt: skip


def _auroc_notes(tests: dict[str, AurocDifference]) -> list[str]:
    pooled = tests["pooled"]
    notes = [
        f"{side} has {count} unscored image(s) (no answer letter, or an error), ranked at the "
        "wrong extreme for their truth."
        for side, count in (("A", pooled.unscored_a), ("B", pooled.unscored_b)) if count
    ]  # fmt: skip
    if pooled.difference is None:
        return notes
    assert pooled.interval is not None and pooled.p_value is not None
    low, high = pooled.interval
    if low > 0 or high < 0:
        side = "A" if pooled.difference > 0 else "B"
        verdict = f"{side} ranks the images better"
    else:
        verdict = "no significant difference"
    notes.append(
        f"AUROC: {verdict} (A − B {_percent(pooled.difference, True)} points, 95 % CI "
        f"{_percent(low, True)} to {_percent(high, True)}, bootstrap p = "
        f"{_p_text(pooled.p_value)})."
    )
    return notes


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
    """McNemar's exact test between two stored runs, image by image; AUROC where both score.

    Both runs must be complete and scored on the same test images:
    the same test dataset, split, --limit and fingerprint, the same image ids and labels.
    Anything else is refused. A run made with --tiny is named as random-weight noise.

    Prints both accuracies, the images only A / only B gets right
    and the p-value, pooled and per category, then a verdict.
    Where both runs have scores, also both AUROCs and a paired bootstrap
    of their difference (95 % interval, bootstrap p-value).
    """
    from tabulate import tabulate

    from iadbench.analysis.significance import ALPHA
    from iadbench.analysis.statistics import correct, mcnemar_exact

    a_run, b_run = load_compared_run(run_a), load_compared_run(run_b)
    a, b = paired_outcomes(a_run, b_run)
    groups = _groups(a, b)
    tests = {
        name: (group_a, group_b, mcnemar_exact(correct(group_a), correct(group_b)))
        for name, (group_a, group_b) in groups.items()
    }
    aurocs, no_auroc = auroc_tests(a_run, b_run, groups)
    if as_json:
        figures = {
            name: {"n": t.n, "accuracy_a": _accuracy(ga), "accuracy_b": _accuracy(gb),
                   **t.as_block(),
                   "auroc": None if aurocs is None else aurocs[name].as_block()}
            for name, (ga, gb, t) in tests.items()
        }  # fmt: skip
        typer.echo(json.dumps({"a": str(run_a), "b": str(run_b), "alpha": ALPHA,
                               "tiny": {"a": a_run.run.tiny, "b": b_run.run.tiny},
                               "auroc_note": no_auroc, "groups": figures},
                              indent=2))  # fmt: skip
        return
    rows = [
        [_plain(name), t.n, f"{100 * _accuracy(ga):.2f}", f"{100 * _accuracy(gb):.2f}",
         t.better, t.worse, f"{t.p_value:.3g}" if t.p_value >= 0.001 else "<0.001"]
        for name, (ga, gb, t) in tests.items()
    ]  # fmt: skip
    headers = ["group", "n", "Acc A %", "Acc B %", "A only", "B only", "p"]
    typer.echo(f"A: {a_run.title}\nB: {b_run.title}")
    for note in tiny_notes(a_run, b_run):
        typer.echo(textwrap.fill(note, 80))
    typer.echo(
        _plain(f"Same {len(a)} test images ({a_run.run.test_dataset}/{a_run.run.test_split}), "
               "matched by id.")
    )  # fmt: skip
    typer.echo("")
    typer.echo(tabulate(rows, headers=headers, tablefmt="simple", disable_numparse=True,
                        colalign=["left"] + ["right"] * 6))  # fmt: skip
    typer.echo(f"\n{_verdict(tests['pooled'][2], ALPHA)}\n{textwrap.fill(_LEGEND, 80)}")
    if aurocs is None:
        if not (_has_scores(a_run) or _has_scores(b_run)):
            return
        typer.echo(f"\n{textwrap.fill(no_auroc or '', 80)}")
        return
    typer.echo("")
    typer.echo("AUROC, threshold-free (paired bootstrap of A − B):")
    typer.echo(_auroc_table(aurocs) + "\n")
    for note in _auroc_notes(aurocs):
        typer.echo(textwrap.fill(note, 80))
    typer.echo(textwrap.fill(_AUROC_LEGEND, 80))
