"""AnomalyGPT as the official code (issue 19, item 10).

Each test fails on the code before it: the test-time class name was the folder name, training
never fed the prompt learner a few-shot map, and few-shot scores were clamped to 1 (ties).
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("peft")
pytest.importorskip("cv2")

from PIL import Image  # noqa: E402

from iadbench.contract.method import RunContext  # noqa: E402
from iadbench.contract.records import Sample  # noqa: E402
from iadbench_methods.anomalygpt.adapter import AnomalyGPT, AnomalyGPTOptions  # noqa: E402
from iadbench_methods.anomalygpt.decoder import anomaly_map, few_shot_map  # noqa: E402
from iadbench_methods.anomalygpt.model import AnomalyGPTModel  # noqa: E402
from iadbench_methods.anomalygpt.questions import (  # noqa: E402
    official_class_name,
    text_class_name,
)
from iadbench_methods.anomalygpt.tiny import build_tiny_model  # noqa: E402
from iadbench_methods.anomalygpt.training import (  # noqa: E402
    TrainingSettings,
    image_array,
    to_tensor,
    train_anomalygpt,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


# -- 1. the class name of the text features at test time --------------------------------------

# What openllama.py's substring rule gives on the official test prompts (computed by hand from
# code/test_visa.py's describles and CLASS_NAMES, f21c51b).
OFFICIAL_VISA = {
    "candle": "candle", "capsules": "capsule", "cashew": "cashew", "chewinggum": "object",
    "fryum": "fryum", "macaroni1": "macaroni", "macaroni2": "macaroni", "pcb1": "pcb",
    "pcb2": "pcb", "pcb3": "pcb", "pcb4": "pcb", "pipe_fryum": "fryum",
}  # fmt: skip


def test_the_official_rule_maps_visa_categories_as_the_official_code_does():
    assert {c: text_class_name("visa", c) for c in OFFICIAL_VISA} == OFFICIAL_VISA
    # MVTec AD's descriptions name their own category (metal_nut: "metal nut").
    assert text_class_name("mvtec", "metal_nut") == "metal nut"
    assert text_class_name("mvtec", "screw") == "screw"
    # The first entry of the official list wins, wherever it stands in the prompt.
    assert official_class_name("a pipe fryum next to a bottle") == "bottle"
    # A user's own parts: the generic description holds no official name unless theirs does.
    assert text_class_name("parts", "gear_box") == "object"
    assert text_class_name("parts", "screw_cap") == "screw"
    assert text_class_name("visa", "pcb3", "folder") == "pcb3"


class _StubModel(torch.nn.Module):
    """Answers "No" with maps peaking at given values; records the class names it was given."""

    def __init__(self, peaks: list[float]) -> None:
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(1))
        self.peaks, self.names = peaks, []

    def clear_caches(self) -> None:
        pass

    def patch_tokens(self, images: torch.Tensor) -> list[torch.Tensor]:
        return [torch.zeros(len(images), 16, 8)]

    def answer(self, images, class_names, questions, max_new_tokens=64, references=None):
        self.names.extend(class_names)
        maps = torch.zeros(len(images), 1, 4, 4)
        maps[:, 0, 1, 2] = torch.tensor(self.peaks[: len(images)])
        return ["No"] * len(images), maps

    def answer_scored(self, images, class_names, questions, max_new_tokens=64, references=None,
                      generate_kwargs=None):  # fmt: skip
        """The adapter's entry since answers carry P(Yes) (issue 20): no verdict scores here."""
        replies, maps = self.answer(images, class_names, questions, max_new_tokens, references)
        return replies, maps, [None] * len(replies)


def _visa_samples(tmp_path, category: str, n: int, subset: str = "test") -> tuple[Sample, ...]:
    folder = tmp_path / category
    folder.mkdir(exist_ok=True)
    found = []
    for i in range(n):
        path = folder / f"{subset}{i}.png"
        Image.fromarray(np.full((32, 32, 3), 40 * i, np.uint8)).save(path)
        found.append(Sample(f"{category}/{path.name}", "visa", category, subset, "normal",
                            str(path)))  # fmt: skip
    return tuple(found)


def _adapter(stub: _StubModel, references=None, **options) -> AnomalyGPT:
    adapter = AnomalyGPT(
        AnomalyGPTOptions(**options),
        context=RunContext(tiny=True, device="cpu", references=references or {}),
    )
    adapter._model = stub  # the scoring and naming around the model are under test
    return adapter


def _predict(adapter: AnomalyGPT, batch) -> list[float]:
    inputs = [torch.zeros(3, 56, 56) for _ in batch]
    return [p.score for p in adapter.predict(batch, inputs)]


@pytest.mark.parametrize(
    ("rule", "expected"),
    [("official", ["object", "pcb", "fryum"]), ("folder", ["chewinggum", "pcb1", "pipe_fryum"])],
)
def test_predict_gives_the_model_the_rules_class_name_and_describe_records_it(
    tmp_path, rule, expected
):
    categories = ("chewinggum", "pcb1", "pipe_fryum")
    batch = [_visa_samples(tmp_path, c, 1)[0] for c in categories]
    stub = _StubModel([0.2, 0.4, 0.6])
    options = {} if rule == "official" else {"class_names": rule}
    adapter = _adapter(stub, **options)
    _predict(adapter, batch)
    assert stub.names == expected  # the default is the official rule
    described = adapter.describe()["class_names"]
    assert described["rule"] == rule
    used = zip(categories, expected, strict=True)
    assert described["used"] == {f"visa/{c}": name for c, name in used}


# -- 3. few-shot scores above 1 keep their order -----------------------------------------------


def test_few_shot_maps_peaking_above_one_keep_their_order(tmp_path):
    batch = list(_visa_samples(tmp_path, "candle", 2))
    pool = _visa_samples(tmp_path, "candle", 1, subset="train")
    adapter = _adapter(_StubModel([1.3, 1.7]), references={"candle": pool}, few_shot=1)
    low, high = _predict(adapter, batch)
    assert 0 <= low < high <= 1  # clamped at 1 they tied
    assert (low, high) == pytest.approx((0.65, 0.85))  # (1 - cos) / 2: monotone, [0, 2] → [0, 1]
    assert "/ 2" in adapter.describe()["score"]


def test_zero_shot_scores_stay_the_maps_maximum(tmp_path):
    batch = list(_visa_samples(tmp_path, "candle", 2))
    adapter = _adapter(_StubModel([0.3, 0.9]))
    assert _predict(adapter, batch) == pytest.approx([0.3, 0.9])


# -- 2. few-shot maps fed to the prompt learner in training ------------------------------------


@pytest.fixture(scope="module")
def candles(tmp_path_factory) -> list[Sample]:
    folder = tmp_path_factory.mktemp("candles")
    rng = np.random.default_rng(0)
    # One oriented pattern (stripes, a block in a corner), image i turned i quarter-turns: the
    # reference's turns match the others, its upright version does not. Image 3, listed first
    # below, is the mirror image instead: its turns are another reference.
    base = np.full((96, 96, 3), 200, np.uint8)
    base[::8] = 30
    base[10:40, 10:40] = rng.integers(40, 120, size=(30, 30, 3), dtype=np.uint8)
    found = []
    for i in range(4):
        path = folder / f"{i}.png"
        image = np.fliplr(base) if i == 3 else np.rot90(base, i)
        Image.fromarray(np.ascontiguousarray(image)).save(path)
        found.append(Sample(f"candle/{i}.png", "visa", "candle", "train", "normal", str(path)))
    return found


def _bank(model: AnomalyGPTModel, reference: Sample, turns: int) -> list[torch.Tensor]:
    image = to_tensor([image_array(reference, 224)], 56)
    return model.patch_tokens(torch.cat([torch.rot90(image, k, (-2, -1)) for k in range(turns)]))


def test_half_of_the_batches_feed_the_prompt_learner_the_few_shot_map(candles, tmp_path):
    model = build_tiny_model(seed=0)
    calls = []

    def recording_encode(images, class_names, references=None):
        encoded = AnomalyGPTModel.encode(model, images, class_names, references)
        calls.append((images.detach().clone(), encoded))
        return encoded

    model.encode = recording_encode  # type: ignore[method-assign]
    settings = TrainingSettings(epochs=2, batch_size=1, lr=0.0, seed=3, image_size=56)
    # Listed last-first: the reference must be the FIRST id (candle/0.png), not the first listed.
    train_anomalygpt(model, candles[::-1], settings, tmp_path / "w")
    rotated, upright = _bank(model, candles[0], 4), _bank(model, candles[0], 1)
    kinds, turns_matter = [], False
    for images, encoded in calls:
        fed = encoded.anomaly_map.detach()  # what the prompt learner read
        if torch.allclose(fed, anomaly_map(encoded.maps).detach()):
            kinds.append("text")
            continue
        query = model.patch_tokens(images)
        torch.testing.assert_close(fed, few_shot_map(query, rotated, size=224))
        kinds.append("few-shot")
        # The four turns matter: the upright reference alone gives another map.
        turns_matter |= not torch.allclose(fed, few_shot_map(query, upright, size=224), atol=1e-3)
    assert len(kinds) == 8 and {"text", "few-shot"} == set(kinds), kinds
    assert turns_matter
