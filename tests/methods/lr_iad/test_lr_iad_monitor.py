"""LR-IAD's held-out monitor: arithmetic, warnings, evaluation on the tiny Qwen2-VL, callback."""

from __future__ import annotations

import copy
import dataclasses
import json
import math

import pytest

pytest.importorskip("trl")

import torch
from transformers import (
    AutoModelForImageTextToText,
    AutoProcessor,
    LogitsProcessor,
    LogitsProcessorList,
    TrainerCallback,
    TrainerControl,
    TrainerState,
    TrainingArguments,
)

from iadbench.contract.images import load_rgb
from iadbench.data import open_dataset
from iadbench_methods.lr_iad import monitor as monitor_module
from iadbench_methods.lr_iad.answer_letter import find_letter_spots
from iadbench_methods.lr_iad.monitor import (
    SCORES_NAME,
    HeldOutMonitor,
    due_warnings,
    evaluate_heldout,
    scores_from,
    wilson_interval,
)
from iadbench_methods.qwen2vl.prompt import build_messages
from iadbench_methods.qwen2vl.tiny import tiny_model_dir

D, N, X = "defect", "normal", "invalid"


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def tiny():
    path = tiny_model_dir()
    return AutoModelForImageTextToText.from_pretrained(path), AutoProcessor.from_pretrained(path)


@pytest.fixture(scope="module")
def heldout(synth_visa):
    """Two defects and two normals, interleaved (rows of a batch mix classes)."""
    samples = open_dataset("visa", synth_visa).samples("all")
    defects = [s for s in samples if s.label == D][:2]
    normals = [s for s in samples if s.label == N][:2]
    return [defects[0], normals[0], defects[1], normals[1]]


# -- pure arithmetic ------------------------------------------------------------------------------


def test_scores_arithmetic():
    labels = [D, D, D, N, N]
    s = scores_from(labels, [D, N, X, N, X], [2.0, -1.0, None, -3.0, None], step=4, seconds=1.5)
    assert (s.step, s.n, s.seconds) == (4, 5, 1.5)
    assert s.accuracy == pytest.approx({D: 1 / 3, N: 1 / 2})
    assert s.balanced_accuracy == pytest.approx((1 / 3 + 1 / 2) / 2)
    assert s.invalid_rate == pytest.approx(2 / 5)
    assert s.letter_gap == pytest.approx((2.0 - 1.0) / 2 - (-3.0))  # None values left out
    low, high = s.interval
    assert 0.0 <= low < s.balanced_accuracy < high <= 1.0
    assert json.loads(json.dumps(dataclasses.asdict(s)))["interval"] == list(s.interval)


def test_interval_shrinks_with_more_images_and_matches_wilson():
    assert wilson_interval(0.5, 20) == pytest.approx((0.2993, 0.7007), abs=1e-4)  # 10/20
    small = scores_from([D] * 4 + [N] * 4, [D] * 3 + [X] + [N] * 2 + [D] * 2, [None] * 8, step=0)
    big = scores_from(
        [D] * 40 + [N] * 40, [D] * 30 + [X] * 10 + [N] * 20 + [D] * 20, [None] * 80, step=0
    )
    assert small.balanced_accuracy == big.balanced_accuracy == pytest.approx(0.625)
    assert big.interval[1] - big.interval[0] < small.interval[1] - small.interval[0]
    # Two balanced classes of 40: the interval of a proportion over 80 trials.
    assert big.interval == pytest.approx(wilson_interval(0.625, 80))
    # Unbalanced, 10 defects and 90 normals: n_eff = 4 / (1/10 + 1/90) = 36, not 100.
    skewed = scores_from([D] * 10 + [N] * 90, [D] * 5 + [N] * 95, [None] * 100, step=0)
    assert skewed.balanced_accuracy == pytest.approx(0.75)
    assert skewed.interval == pytest.approx(wilson_interval(0.75, 36))
    perfect = scores_from([D, N], [D, N], [None, None], step=0)
    assert perfect.interval[1] == 1.0 and perfect.interval[0] < 1.0


def test_letter_gap_sign_and_unknown():
    labels = [D, D, N, N]
    apart = scores_from(labels, [D, D, N, N], [3.0, 1.0, -1.0, -2.0], step=0)
    inverted = scores_from(labels, [N, N, D, D], [-3.0, -1.0, 1.0, 2.0], step=0)
    assert apart.letter_gap == pytest.approx(3.5) and inverted.letter_gap == pytest.approx(-3.5)
    one_class_known = scores_from(labels, [D, X, X, X], [3.0, None, None, None], step=0)
    assert one_class_known.letter_gap is None
    assert "monitor/letter_gap" not in one_class_known.scalars()
    assert apart.scalars()["monitor/letter_gap"] == pytest.approx(3.5)
    assert set(apart.scalars()) == {
        "monitor/balanced_accuracy", "monitor/accuracy_defect", "monitor/accuracy_normal",
        "monitor/invalid_rate", "monitor/letter_gap",
    }  # fmt: skip


def test_line_is_compact():
    s = scores_from([D] * 50 + [N] * 50, [D] * 50 + [X] * 50, [-9.99] * 50 + [0.0] * 50, step=9999)
    line = dataclasses.replace(s, seconds=999.4).line()
    assert line.startswith("monitor 9999 | bal-acc 0.50 [")
    assert "defect 1.00 normal 0.00 | invalid 0.50 | gap -9.99 | 999s" in line
    assert len(line) <= 100


def _scored(step: int, correct: int, invalid: int, per_class: int = 50):
    """``per_class`` images per class, ``correct`` right in each, ``invalid`` invalid in each."""
    preds = [D] * correct + [X] * invalid + [N] * (per_class - correct - invalid)
    preds += [N] * correct + [X] * invalid + [D] * (per_class - correct - invalid)
    return scores_from([D] * per_class + [N] * per_class, preds, [None] * len(preds), step=step)


def test_chance_warning_fires_exactly_when_not_above_chance_from_warn_after():
    base = _scored(0, correct=25, invalid=0)
    at_chance, learned = _scored(200, correct=27, invalid=0), _scored(200, correct=40, invalid=0)
    below = _scored(200, correct=5, invalid=0)  # e.g. inverted, or collapsed and invalid
    assert at_chance.interval[0] < 0.5 < at_chance.interval[1] and learned.interval[0] > 0.5
    assert below.interval[1] < 0.5
    assert [kind for kind, _ in due_warnings([base, at_chance], warn_after=200)] == ["chance"]
    message = dict(due_warnings([base, at_chance], warn_after=200))["chance"]
    assert message.startswith("held-out balanced accuracy 0.54 has not left chance (95 % interval")
    assert "contains 0.5) after 200 steps" in message and "README" in message
    below_message = dict(due_warnings([base, below], warn_after=200))["chance"]
    assert "0.10 is below chance" in below_message and "lies below 0.5" in below_message
    assert due_warnings([base, at_chance], warn_after=201) == []
    assert due_warnings([base, learned], warn_after=0) == []
    assert due_warnings([base, at_chance], warn_after=0, issued=frozenset({"chance"})) == []
    assert due_warnings([base], warn_after=0) == []  # step 0: nothing trained yet


def test_format_warning_fires_from_five_points_above_the_baseline():
    base = _scored(0, correct=40, invalid=5)  # invalid rate 0.10
    risen, almost = _scored(300, correct=40, invalid=8), _scored(300, correct=40, invalid=7)
    assert (risen.invalid_rate, almost.invalid_rate) == (0.16, 0.14)
    assert [k for k, _ in due_warnings([base, risen], warn_after=300)] == ["format"]
    assert due_warnings([base, almost], warn_after=300) == []
    exact = _scored(300, correct=80, invalid=15, per_class=100)  # 0.15 = 0.10 + 0.05
    base100 = _scored(0, correct=80, invalid=10, per_class=100)
    assert [k for k, _ in due_warnings([base100, exact], warn_after=0)] == ["format"]
    assert due_warnings([base, risen], warn_after=301) == []


# -- evaluation on the tiny model -----------------------------------------------------------------


def test_evaluate_heldout_on_the_tiny_model_restores_the_model(tiny, heldout):
    model, processor = tiny
    model.train()
    model.gradient_checkpointing_enable()
    processor.tokenizer.padding_side = "right"
    try:
        scores = evaluate_heldout(model, processor, heldout, step=7, max_new_tokens=4, batch_size=3)
        assert model.training and model.is_gradient_checkpointing
        assert processor.tokenizer.padding_side == "right"
    finally:
        model.gradient_checkpointing_disable()
        model.eval()
        processor.tokenizer.padding_side = "left"
    assert (scores.step, scores.n) == (7, 4) and set(scores.accuracy) == {D, N}
    assert all(0.0 <= v <= 1.0 for v in [*scores.accuracy.values(), scores.invalid_rate])
    low, high = scores.interval
    assert 0.0 <= low <= scores.balanced_accuracy <= high <= 1.0 and scores.seconds > 0
    # A random model writes noise: no answer, so no letter to read the gap at.
    assert scores.invalid_rate == 1.0 and scores.letter_gap is None


class ForceTokens(LogitsProcessor):
    """Makes row r of the batch write ``rows[r]`` then end (processed scores; raw logits kept)."""

    def __init__(self, rows: list[list[int]], eos: int) -> None:
        self.rows, self.eos, self.start = rows, eos, None

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        self.start = self.start or input_ids.shape[1]
        k = input_ids.shape[1] - self.start
        forced = torch.full_like(scores, -math.inf)
        for row, ids in enumerate(self.rows):
            forced[row, ids[k] if k < len(ids) else self.eos] = 0.0
        return forced


def _answer_ids(tokenizer, letter: str) -> list[int]:
    text = f"<think>x</think> <answer>{letter}</answer>"
    ids = tokenizer.encode(text, add_special_tokens=False)
    assert tokenizer.decode(ids) == text
    return ids


def _log_odds_by_forward(model, processor, sample, completion: list[int]) -> float:
    """log p(A) − log p(B) at the letter, from one plain forward over prompt + completion."""
    (spot,) = find_letter_spots(processor.tokenizer, [completion])
    chat = processor.apply_chat_template(
        build_messages(sample.category), add_generation_prompt=True, tokenize=False
    )
    encoded = processor(text=[chat], images=[load_rgb(sample.image_path)], return_tensors="pt")
    prefix = torch.tensor([completion[: spot.index]])
    ids = torch.cat([encoded.pop("input_ids"), prefix], dim=1)
    mask = torch.ones_like(ids)
    encoded.pop("attention_mask")
    for key in ("token_type_ids", "mm_token_type_ids"):
        if key in encoded:  # the completion holds text tokens only
            encoded[key] = torch.cat([encoded[key], torch.zeros_like(prefix)], dim=1)
    with torch.no_grad():
        logits = model(input_ids=ids, attention_mask=mask, **encoded).logits[0, -1]
    return float(logits[spot.token_ids["A"]] - logits[spot.token_ids["B"]])


@pytest.mark.parametrize("swap", [False, True])
def test_forced_answers_are_parsed_strictly_and_the_gap_read_at_the_letter(tiny, heldout, swap):
    base, processor = tiny
    tokenizer = processor.tokenizer
    # The random model's A−B logit hardly depends on the context: sharpen both output rows so
    # that a logit read one position off (or from another row) would be far from the truth.
    model = copy.deepcopy(base)
    letters = [tokenizer.convert_tokens_to_ids(letter) for letter in ("A", "B")]
    with torch.no_grad():
        model.lm_head.weight[letters] *= 50.0
    letter = {D: "B" if swap else "A", N: "A" if swap else "B"}
    rows = [_answer_ids(tokenizer, letter[s.label]) for s in heldout]
    force = LogitsProcessorList([ForceTokens(rows, tokenizer.convert_tokens_to_ids("<|im_end|>"))])
    scores = evaluate_heldout(
        model, processor, heldout, step=0, max_new_tokens=max(map(len, rows)) + 1,
        batch_size=len(heldout), generation_kwargs={"logits_processor": force},
    )  # fmt: skip
    assert scores.invalid_rate == 0.0
    assert scores.accuracy == ({D: 0.0, N: 0.0} if swap else {D: 1.0, N: 1.0})
    odds = [
        _log_odds_by_forward(model, processor, s, r) for s, r in zip(heldout, rows, strict=True)
    ]
    expected = (odds[0] + odds[2]) / 2 - (odds[1] + odds[3]) / 2
    assert scores.letter_gap == pytest.approx(expected, abs=1e-3)
    assert abs(expected) > 0.1


# -- the callback ---------------------------------------------------------------------------------


def _drive(monitor, model, tmp_path, first: int, last: int) -> None:
    args = TrainingArguments(output_dir=str(tmp_path / "out"), report_to=[], use_cpu=True)
    state, control = TrainerState(global_step=first, max_steps=last), TrainerControl()
    monitor.on_train_begin(args, state, control, model=model)
    for step in range(first + 1, last + 1):
        state.global_step = step
        monitor.on_step_end(args, state, control, model=model)
    monitor.on_train_end(args, state, control, model=model)


def test_monitor_evaluates_at_begin_every_and_end_and_writes_tensorboard(tiny, heldout, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    model, processor = tiny
    lines: list[str] = []
    common = {"every": 2, "warn_after": 10**6, "max_new_tokens": 2, "best_dir": None}
    monitor = HeldOutMonitor(
        heldout, processor, tensorboard_dir=tmp_path / "tb", log=lines.append, **common
    )
    assert isinstance(monitor, TrainerCallback)
    _drive(monitor, model, tmp_path, first=1, last=5)  # a run resumed at step 1
    assert [s.step for s in monitor.history] == [1, 2, 4, 5]
    # Issue 19: one legend line first says what "monitor" and "gap" mean.
    assert lines[0].startswith("monitor: greedy answers on 4 held-out images of visa")
    assert "gap = mean log p(A)" in lines[0]
    assert [line.split(" | ")[0] for line in lines[1:]] == [f"monitor {s}" for s in (1, 2, 4, 5)]
    events = EventAccumulator(str(tmp_path / "tb"))
    events.Reload()
    assert [e.step for e in events.Scalars("monitor/balanced_accuracy")] == [1, 2, 4, 5]
    assert "monitor/accuracy_normal" in events.Tags()["scalars"]

    ends_on_every = HeldOutMonitor(heldout, processor, tensorboard_dir=None, **common)
    _drive(ends_on_every, model, tmp_path, first=0, last=4)
    assert [s.step for s in ends_on_every.history] == [0, 2, 4]  # step 4 not evaluated twice

    quiet: list[str] = []
    other_rank = HeldOutMonitor(
        heldout, processor, tensorboard_dir=tmp_path / "tb2", is_main=False, log=quiet.append,
        **common,
    )  # fmt: skip
    _drive(other_rank, model, tmp_path, first=0, last=2)
    assert len(other_rank.history) == 2 and not quiet and not (tmp_path / "tb2").exists()


def _fake_evaluations(monkeypatch, results):
    """Make the monitor's evaluations return ``results`` in turn (their steps as driven)."""
    queue = list(results)

    def fake(model, processor, samples, *, step, **kwargs):
        return dataclasses.replace(queue.pop(0), step=step)

    monkeypatch.setattr(monitor_module, "evaluate_heldout", fake)


def _lora_b(directory) -> set[float]:
    from safetensors.torch import load_file

    weights = load_file(str(directory / "adapter_model.safetensors"))
    return {float(v) for name, t in weights.items() if "lora_B" in name for v in t.unique()}


def test_keep_best_saves_only_on_strict_improvement(tiny, heldout, tmp_path, monkeypatch):
    from peft import LoraConfig, get_peft_model

    base, processor = tiny
    model = get_peft_model(base, LoraConfig(r=2, target_modules=["q_proj", "v_proj"]))
    try:
        # Balanced accuracies 0.5, 0.8, 0.6, 0.8: saved at steps 0 and 1 only.
        _fake_evaluations(monkeypatch, [_scored(0, c, 0) for c in (25, 40, 30, 40)])
        best = tmp_path / "best"
        monitor = HeldOutMonitor(
            heldout, processor, every=1, warn_after=10**6, max_new_tokens=2,
            tensorboard_dir=None, best_dir=best, log=lambda line: None,
        )  # fmt: skip
        args = TrainingArguments(output_dir=str(tmp_path / "out"), report_to=[], use_cpu=True)
        state, control = TrainerState(global_step=0, max_steps=3), TrainerControl()
        saved = []
        for step in range(4):
            # The LoRA B weights tell which step's adapter is on disk.
            with torch.no_grad():
                for name, p in model.named_parameters():
                    if "lora_B" in name:
                        p.fill_(float(step + 1))
            state.global_step = step
            event = monitor.on_train_begin if step == 0 else monitor.on_step_end
            event(args, state, control, model=model)
            saved.append(json.loads((best / SCORES_NAME).read_text())["step"])
        assert saved == [0, 1, 1, 1]
        assert _lora_b(best) == {2.0} and monitor.best.step == 1
        assert (best / "adapter_config.json").is_file()
        assert not [p for p in tmp_path.iterdir() if p.name.startswith(".best")]  # no staging
    finally:
        model.unload()


def test_warnings_fire_once_per_kind_on_the_main_process(tiny, heldout, tmp_path, monkeypatch):
    model, processor = tiny
    # Baseline, then at chance with format falling (both), again (nothing new), learned.
    results = [_scored(0, 25, 0), _scored(0, 25, 10), _scored(0, 26, 10), _scored(0, 40, 5)]
    for is_main in (True, False):
        _fake_evaluations(monkeypatch, results)
        warned: list[str] = []
        monitor = HeldOutMonitor(
            heldout, processor, every=1, warn_after=1, max_new_tokens=2, tensorboard_dir=None,
            best_dir=None, is_main=is_main, log=lambda line: None, warn=warned.append,
        )  # fmt: skip
        _drive(monitor, model, tmp_path, first=0, last=3)
        assert len(monitor.history) == 4
        if is_main:
            assert monitor.issued == {"chance", "format"} and len(warned) == 2
            assert warned[0].startswith("held-out balanced accuracy 0.50 has not left chance")
            assert warned[1].startswith("format validity falling: held-out invalid rate 0.20")
        else:
            assert warned == [] and not monitor.issued


def test_monitor_lines_go_to_stderr_with_the_heading_and_one_legend(
    tiny, heldout, tmp_path, monkeypatch, capsys
):
    """Issue 19: with ``demo > log`` the lines went to stdout, the heading to stderr."""
    model, processor = tiny
    _fake_evaluations(monkeypatch, [_scored(0, c, 0) for c in (25, 40, 30)])
    monitor = HeldOutMonitor(
        heldout, processor, every=1, warn_after=10**6, max_new_tokens=2,
        tensorboard_dir=None, best_dir=None,
    )  # fmt: skip
    capsys.readouterr()
    _drive(monitor, model, tmp_path, first=0, last=2)
    out = capsys.readouterr()
    assert out.out == ""
    lines = out.err.splitlines()
    assert all(line.startswith("LR-IAD ") for line in lines), lines
    assert sum("gap = " in line for line in lines) == 1 and "gap = " in lines[0]
    assert [line.split(" | ")[0] for line in lines[1:]] == [
        f"LR-IAD monitor {s}" for s in (0, 1, 2)
    ]
