"""The report's pictures do not mislead: gallery sampling, run colours, legends, curves, warnings.

Issue 19, item 3. The gallery is checked on :func:`spread` and on a built report; the charts on
the figures :mod:`iadbench.views.report.charts` draws and on the SVG the page embeds.
"""

from __future__ import annotations

from iadbench.runs.reader import Outcome
from iadbench.views.report.gallery import GALLERY_PER_RUN, spread

CATEGORIES = ("bottle", "cable", "capsule", "carpet", "grid")


def _noisy_run() -> list[Outcome]:
    """A tiny-model-like run in id order: defect folders before ``good``, most answers invalid.

    Per category 30 defect and 10 normal images; every fifth answer is a real one (defect or
    normal in turn), the rest invalid, so all six (outcome, truth) strata occur.
    """
    answers = []
    for category in CATEGORIES:
        ids = [(f"{category}/test/broken/{i:03}.png", "defect") for i in range(30)]
        ids += [(f"{category}/test/good/{i:03}.png", "normal") for i in range(10)]
        for n, (sample_id, label) in enumerate(ids):
            pred = "invalid" if n % 5 else ("defect" if n % 10 == 0 else "normal")
            answers.append(Outcome(sample_id, category, label, pred, None, "<answer>", None))
    return answers


def test_gallery_shows_both_labels_and_every_outcome_of_each() -> None:
    answers = _noisy_run()
    chosen = spread(answers, GALLERY_PER_RUN)
    assert len(chosen) == GALLERY_PER_RUN
    present = {(a.outcome, a.label) for a in answers}
    assert len(present) == 6  # the run has every outcome on both labels
    assert {(a.outcome, a.label) for a in chosen} == present
    labels = [a.label for a in chosen]
    # Stratified, not in id order: normal images are a quarter of the run, half of the strata.
    assert labels.count("normal") >= GALLERY_PER_RUN // 3, labels
    assert {a.category for a in chosen} == set(CATEGORIES)
    assert len({a.id for a in chosen}) == len(chosen)


def test_gallery_picks_are_seeded() -> None:
    answers = _noisy_run()
    first = [a.id for a in spread(answers, GALLERY_PER_RUN, seed=3)]
    assert first == [a.id for a in spread(answers, GALLERY_PER_RUN, seed=3)]
    # The order the run wrote its records in does not matter, the seed does.
    assert first == [a.id for a in spread(answers[::-1], GALLERY_PER_RUN, seed=3)]
    assert first != [a.id for a in spread(answers, GALLERY_PER_RUN, seed=4)]
    # A random draw inside each group, not the first images of each folder.
    assert any(not a.id.endswith(("/000.png", "/001.png")) for a in spread(answers, 24))
