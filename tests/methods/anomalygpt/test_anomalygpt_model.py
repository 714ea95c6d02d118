"""AnomalyGPT assembled on tiny random weights: the LLM input layout, what trains, answers."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("peft")
pytest.importorskip("open_clip")

from iadbench_methods.anomalygpt.model import (  # noqa: E402
    ANSWER_END,
    ASSISTANT,
    IGNORE,
    PROMPT_MIDDLE,
    PROMPT_START,
)
from iadbench_methods.anomalygpt.tiny import build_tiny_model  # noqa: E402

QUESTION = "This is a photo of a bottle for anomaly detection. Is there any anomaly in the image?"


@pytest.fixture(scope="module")
def model():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield build_tiny_model(seed=0)
    torch.set_num_threads(threads)


def _images(n: int) -> torch.Tensor:
    return torch.randn(n, 3, 56, 56, generator=torch.Generator().manual_seed(n))


def test_the_llm_input_follows_prompt_wrap_and_only_the_answer_is_scored(model):
    encoded = model.encode(_images(1), ["bottle"])
    answer = "No, there is no anomaly in the image."
    embeds, labels = model.sequence(encoded, 0, QUESTION, answer)
    ids = lambda text: model.tokenizer(text, add_special_tokens=False).input_ids  # noqa: E731
    n_before = 1 + len(ids(PROMPT_START))  # BOS + "### Human: <Img>"
    n_middle = len(ids(PROMPT_MIDDLE))
    layout = [
        n_before,
        1,
        n_middle,
        18,
        len(ids(QUESTION + ASSISTANT)),
        len(ids(answer + ANSWER_END)),
    ]
    assert embeds.shape == (sum(layout), 32)
    table = model.llm.get_input_embeddings().weight
    torch.testing.assert_close(embeds[0], table[model.tokenizer.bos_token_id])
    torch.testing.assert_close(embeds[n_before], encoded.image_token[0, 0])
    start = n_before + 1 + n_middle
    torch.testing.assert_close(embeds[start : start + 18], encoded.prompts[0])
    scored = labels != IGNORE
    assert int(scored.sum()) == layout[-1] and bool(scored[-layout[-1] :].all())
    decoded = model.tokenizer.decode(labels[scored].tolist())
    assert decoded == answer + ANSWER_END


def test_a_training_step_updates_only_the_decoder_and_the_prompt_learner(model):
    images, masks = _images(2), torch.zeros(2, 224, 224)
    masks[0, 50:100, 50:100] = 1.0
    answers = ["Yes, there is an anomaly in the image, at the top left of the image.",
               "No, there is no anomaly in the image."]  # fmt: skip
    model.zero_grad(set_to_none=True)
    loss, parts = model.loss(images, ["bottle", "bottle"], [QUESTION] * 2, answers, masks)
    loss.backward()
    assert torch.isfinite(loss) and parts["lm"] > 0 and parts["pixel"] > 0
    trained = {id(p) for p in model.trainable_parameters()}
    with_grad = {id(p) for p in model.parameters() if p.grad is not None}
    assert with_grad == trained  # ImageBind, LLM, LoRA and llama_proj stay frozen, as agent.py
    assert all(p.grad.abs().sum() > 0 for p in model.trainable_parameters() if p.grad is not None)
    model.zero_grad(set_to_none=True)


def test_batched_greedy_answers_equal_one_by_one(model):
    images = _images(2)
    questions = [QUESTION, "Is there any anomaly in the image?"]
    together, maps = model.answer(images, ["bottle", "cable"], questions, max_new_tokens=6)
    names = ["bottle", "cable"]
    alone = [
        model.answer(images[i : i + 1], [names[i]], [questions[i]], max_new_tokens=6)[0][0]
        for i in range(2)
    ]
    assert together == alone and maps.shape == (2, 1, 224, 224)
    assert model.answer(images, ["bottle", "cable"], questions, max_new_tokens=6)[0] == together
