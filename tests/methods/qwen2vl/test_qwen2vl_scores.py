"""P(defect) of the A/B methods, read from generate's logits at the answer letter (issue 20).

A random tiny model never writes an answer by itself, so the tests force the generated tokens
with ``prefix_allowed_tokens_fn`` (a logits processor): the tokens are forced, the raw logits
``generate`` returns are still the model's own, and so is the score.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from PIL import Image

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from sklearn.metrics import roc_auc_score  # noqa: E402

from iadbench import RunContext  # noqa: E402
from iadbench.contract.records import DEFECT, INVALID, NORMAL  # noqa: E402
from iadbench_methods.qwen2vl import answers  # noqa: E402
from iadbench_methods.qwen2vl.adapter import Qwen2VL, Qwen2VLOptions  # noqa: E402
from iadbench_methods.qwen2vl.chat import encode_chat  # noqa: E402

CATEGORIES = ["bottle", "metal_nut", "pcb1", "bottle", "capsules", "screw"]
TRUTH = [DEFECT, NORMAL, DEFECT, NORMAL, NORMAL, DEFECT]


@pytest.fixture(scope="module")
def images() -> list[Image.Image]:
    rng = np.random.default_rng(1)
    shapes = [(56, 84), (84, 84), (112, 56), (56, 56), (84, 112), (112, 112)]
    return [Image.fromarray(rng.integers(0, 255, (*s, 3), dtype=np.uint8)) for s in shapes]


def _adapter(answer: str | None) -> Qwen2VL:
    """A tiny qwen2-vl whose generated tokens are forced to spell ``answer`` (None: free)."""
    adapter = Qwen2VL(
        Qwen2VLOptions(max_new_tokens=16), context=RunContext(tiny=True, device="cpu")
    )
    if answer is not None:
        _, processor = adapter.model_and_processor()
        forced = processor.tokenizer.encode(answer, add_special_tokens=False)
        adapter.max_new_tokens = len(forced)
        adapter.generate_kwargs = {"prefix_allowed_tokens_fn": _forcing(forced)}
    return adapter


def _forcing(forced: list[int]) -> Callable[[int, Any], list[int]]:
    """A ``prefix_allowed_tokens_fn`` that allows only the next token of ``forced``."""
    state: dict[str, int] = {}

    def allowed(_row: int, ids: Any) -> list[int]:
        n, start = ids.shape[-1], state.get("prompt", -1)
        # A new generate call (a new batch): its prompt does not end in the forced prefix.
        if not 0 <= n - start < len(forced) or ids[start:].tolist() != forced[: n - start]:
            state["prompt"] = start = n
        return [forced[n - start]]

    return allowed


@pytest.mark.parametrize("answer", ["<think>x</think> <answer>A</answer>", "<answer>(B)</answer>"])
def test_the_score_is_a_direct_forwards_probability_of_the_defect_letter(images, answer):
    adapter = _adapter(answer)
    model, processor = adapter.model_and_processor()
    scored = adapter.generate_scored(CATEGORIES[:3], images[:3])
    assert [text for text, _ in scored] == [answer] * 3
    # One forward on prompt + generated tokens; the logits before the letter give its pair.
    prompts = [adapter._chat_text(processor, c) for c in CATEGORIES[:3]]
    encoded = encode_chat(processor, prompts, images[:3])
    generated = torch.tensor([processor.tokenizer.encode(answer, add_special_tokens=False)] * 3)
    offset, letter = answers.answer_letter(answer) or (0, "")
    prefix = processor.tokenizer.encode(answer[:offset], add_special_tokens=False)
    letter_index = len(prefix)  # the letter starts a token in these answers
    assert processor.tokenizer.decode(generated[0, : letter_index + 1]).endswith(letter)
    a_id = processor.tokenizer.convert_tokens_to_ids(
        processor.tokenizer.convert_ids_to_tokens(int(generated[0, letter_index])).replace("B", "A")
    )
    b_id = processor.tokenizer.convert_tokens_to_ids(
        processor.tokenizer.convert_ids_to_tokens(int(generated[0, letter_index])).replace("A", "B")
    )
    width = encoded["input_ids"].shape[1]
    extended = {"input_ids": generated, "attention_mask": torch.ones_like(generated)}
    full = {  # the generated tokens appended to every per-token input (text tokens: type 0)
        key: torch.cat([value, extended.get(key, torch.zeros_like(generated))], dim=1)
        if torch.is_tensor(value) and value.shape[:2] == encoded["input_ids"].shape
        else value
        for key, value in encoded.items()
    }
    with torch.no_grad():
        logits = model(**full).logits[:, width + letter_index - 1].float()
    direct = torch.softmax(logits[:, [a_id, b_id]], dim=-1)[:, 0].tolist()
    assert [score for _, score in scored] == pytest.approx(direct, abs=1e-5)
    # Different images, different probabilities: the score is read per row, not once.
    assert len({round(score or 0, 9) for _, score in scored}) > 1


def test_predict_keeps_the_parsed_label_and_adds_the_score(images):
    adapter = _adapter("<answer>B</answer>")
    samples = [_sample(i) for i in range(2)]
    predictions = adapter.predict(samples, images[:2])
    assert [p.label for p in predictions] == [NORMAL, NORMAL]
    assert all(p.score is not None and 0 < p.score < 1 for p in predictions)


@pytest.mark.parametrize("answer", ["<answer>C</answer>", "<answer>A or B</answer>", None])
def test_an_invalid_answer_has_no_score(images, answer):
    predictions = _adapter(answer).predict([_sample(i) for i in range(2)], images[:2])
    assert [p.label for p in predictions] == [INVALID, INVALID]
    assert [p.score for p in predictions] == [None, None]


def test_swapping_the_letters_inverts_the_auroc(images, monkeypatch):
    adapter = _adapter("<answer>A</answer>")
    samples = [_sample(i) for i in range(len(images))]
    truth = [label == DEFECT for label in TRUTH]
    before = adapter.predict(samples, images)
    monkeypatch.setattr(answers, "LETTERS", {"A": NORMAL, "B": DEFECT})
    monkeypatch.setattr("iadbench_methods.qwen2vl.scores.LETTERS", answers.LETTERS)
    after = adapter.predict(samples, images)
    assert {p.label for p in before} == {DEFECT} and {p.label for p in after} == {NORMAL}
    auroc = roc_auc_score(truth, [p.score for p in before])
    swapped = roc_auc_score(truth, [p.score for p in after])
    assert auroc != pytest.approx(0.5)  # a fixture on which the inversion shows
    assert swapped == pytest.approx(1 - auroc, abs=1e-12)


def _sample(index: int) -> Any:
    from iadbench.contract.records import Sample

    category = CATEGORIES[index]
    return Sample(f"{category}/{index}.png", "mvtec", category, "test", TRUTH[index], "/x.png")  # type: ignore[arg-type]


def test_a_run_of_a_text_method_reports_auroc_and_keeps_the_parsed_labels(
    tmp_path, synth_mvtec, synth_visa, monkeypatch
):
    import json

    from transformers import AutoTokenizer

    from iadbench.execution.planning import RunRequest, plan_run
    from iadbench.execution.runner import execute_run
    from iadbench.views.leaderboard import collect_runs, render_leaderboard
    from iadbench_methods.qwen2vl.tiny import tiny_model_dir

    answer = "<answer>B</answer>"  # every image "normal"; the scores still rank them
    forced = AutoTokenizer.from_pretrained(tiny_model_dir()).encode(
        answer, add_special_tokens=False
    )
    setup = Qwen2VL.setup

    def forcing_setup(self: Qwen2VL) -> None:
        setup(self)
        self.generate_kwargs = {"prefix_allowed_tokens_fn": _forcing(forced)}

    monkeypatch.setattr(Qwen2VL, "setup", forcing_setup)
    request = RunRequest(
        method="qwen2-vl", train=None, test="mvtec", tiny=True,
        data_roots={"mvtec": str(synth_mvtec), "visa": str(synth_visa)},
        options={"max_new_tokens": str(len(forced))},
        out=tmp_path / "runs" / "qwen2-vl" / "run", cache_dir=tmp_path / "cache",
    )  # fmt: skip
    out = execute_run(plan_run(request)).out
    records = [json.loads(x) for x in (out / "predictions.jsonl").read_text().splitlines()]
    assert {r["pred"] for r in records} == {NORMAL}  # the parsed answer, never a threshold
    assert all(r["score"] is not None for r in records)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["threshold"] is None
    overall = summary["overall"]
    assert overall["auroc"] is not None and overall["ap"] is not None
    assert overall["n_unscored"] == 0
    board = render_leaderboard(collect_runs(tmp_path / "runs"))
    (row,) = [line for line in board.splitlines() if line.startswith("| qwen2-vl")][:1]
    assert f"{100 * overall['auroc']:.1f}" in row
