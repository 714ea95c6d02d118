"""AnomalyGPT's P(Yes) against P(No) at its verdict token, from generate's logits (issue 20).

The random tiny model never writes a verdict by itself: the tests force the generated tokens with
``prefix_allowed_tokens_fn`` (a logits processor); the raw logits ``generate`` returns, and so the
score, are still the model's own.
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("peft")
pytest.importorskip("open_clip")

from iadbench_methods.anomalygpt.answers import parse_yes_no_strict  # noqa: E402
from iadbench_methods.anomalygpt.model import _left_pad  # noqa: E402
from iadbench_methods.anomalygpt.tiny import build_tiny_model  # noqa: E402

QUESTION = "This is a photo of a bottle for anomaly detection. Is there any anomaly in the image?"
NAMES = ["bottle", "cable", "bottle"]


@pytest.fixture(scope="module")
def model():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield build_tiny_model(seed=0)
    torch.set_num_threads(threads)


def _images(n: int) -> torch.Tensor:
    return torch.randn(n, 3, 56, 56, generator=torch.Generator().manual_seed(n))


def _forced(model, reply: str) -> tuple[list[int], dict]:
    ids = model.tokenizer(reply, add_special_tokens=False).input_ids
    # From inputs_embeds alone, the function sees the generated tokens only.
    return ids, {"prefix_allowed_tokens_fn": lambda _row, seen: [ids[seen.shape[-1]]]}


@pytest.mark.parametrize(
    "reply", ["Yes, there is an anomaly in the image.", "No, there is no anomaly in the image."]
)
def test_the_score_is_a_direct_forwards_probability_of_yes(model, reply):
    images = _images(3)
    questions = [QUESTION] * 3
    ids, force = _forced(model, reply)
    replies, _, scores = model.answer_scored(
        images, NAMES, questions, max_new_tokens=len(ids), generate_kwargs=force
    )
    assert replies == [reply] * 3 and parse_yes_no_strict(reply) != "invalid"
    # One forward on the prompt alone: the verdict is the reply's first token, and the pair is
    # the first token of "Yes" and of "No" (the tiny vocabulary splits "Yes" as "Ye" + "s").
    first = {w: model.tokenizer(w, add_special_tokens=False).input_ids[0] for w in ("Yes", "No")}
    assert ids[0] == first[reply.split(",")[0]]
    yes, no = first["Yes"], first["No"]
    with torch.no_grad():
        encoded = model.encode(images, NAMES)
        rows = [model.sequence(encoded, i, q, None) for i, q in enumerate(questions)]
        embeds, _, attention = _left_pad(rows, model._pad_embedding(encoded))
        logits = model.llm(inputs_embeds=embeds, attention_mask=attention).logits[:, -1].float()
    direct = torch.softmax(logits[:, [yes, no]], dim=-1)[:, 0].tolist()
    assert scores == pytest.approx(direct, abs=1e-5)
    assert len({round(s, 9) for s in scores}) > 1  # read per row: the images differ


@pytest.mark.parametrize("reply", ["Maybe, there is an anomaly.", "There is no anomaly."])
def test_a_reply_without_a_verdict_has_no_score(model, reply):
    ids, force = _forced(model, reply)
    replies, _, scores = model.answer_scored(
        _images(2), NAMES[:2], [QUESTION] * 2, max_new_tokens=len(ids), generate_kwargs=force
    )
    assert [parse_yes_no_strict(r) for r in replies] == ["invalid", "invalid"]
    assert scores == [None, None]


def test_answer_is_answer_scored_without_the_scores(model):
    images = _images(2)
    plain = model.answer(images, NAMES[:2], [QUESTION] * 2, max_new_tokens=4)
    scored = model.answer_scored(images, NAMES[:2], [QUESTION] * 2, max_new_tokens=4)
    assert plain[0] == scored[0] and torch.equal(plain[1], scored[1])
