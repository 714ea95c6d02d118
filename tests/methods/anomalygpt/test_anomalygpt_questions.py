"""AnomalyGPT's questions: the official descriptions for every MVTec-AD and VisA category."""

from __future__ import annotations

from iadbench.data import MVTecAD, VisA
from iadbench_methods.anomalygpt.questions import ASK, question


def test_every_official_category_has_its_description_in_both_stages():
    for dataset, reader in (("mvtec", MVTecAD), ("visa", VisA)):
        for category in reader.official_counts:
            for stage in ("train", "test"):
                text = question(dataset, category, stage)
                assert text.endswith(" " + ASK) and "for anomaly detection" in text
                assert "{" not in text  # no template left unfilled
    assert question("mvtec", "bottle", "train") == (
        "This is a photo of a bottle for anomaly detection, which should be round, without any "
        "damage, flaw, defect, scratch, hole or broken part. Is there any anomaly in the image?"
    )


def test_train_and_test_texts_differ_only_for_mvtec_cable():
    differing = [
        (dataset, category)
        for dataset, reader in (("mvtec", MVTecAD), ("visa", VisA))
        for category in reader.official_counts
        if question(dataset, category, "train") != question(dataset, category, "test")
    ]
    assert differing == [("mvtec", "cable")]


def test_an_undescribed_category_gets_the_generic_description():
    assert question("my-parts", "gear_box") == (
        "This is a photo of gear box for anomaly detection, which should be without any damage, "
        "flaw, defect, scratch, hole or broken part. Is there any anomaly in the image?"
    )
