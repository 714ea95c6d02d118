"""LRIADGRPOTrainer on a warm-started tiny Qwen2-VL: the focal p, the advantages, the answer span.

The warm start writes well-formatted answers with mixed letters, so completions carry answer
letters and rewards vary: what the focal reward reads can be checked against trl's own numbers.
"""

from __future__ import annotations

import dataclasses
import math

import pytest

pytest.importorskip("trl")

import torch

from iadbench_methods.lr_iad import LRIADOptions
from iadbench_methods.lr_iad.answer_letter import correct_letter, find_letter_spots
from iadbench_methods.lr_iad.learning_task import (
    task_samples,
    warm_start_dir,
    write_task_dataset,
)
from iadbench_methods.lr_iad.rewards import advantages, completion_text
from iadbench_methods.lr_iad.training import build_trainer

OPTIONS = LRIADOptions(
    max_steps=1, num_generations=4, per_device_train_batch_size=32, gradient_accumulation_steps=1,
    max_completion_length=32, monitor_samples=0, gradient_checkpointing=False,
    disable_dropout=True, report_to="none", max_pixels=112 * 112, temperature=1.3,
)  # fmt: skip


pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("one_torch_thread")]


@pytest.fixture(scope="module")
def task(tmp_path_factory):
    root = write_task_dataset(tmp_path_factory.mktemp("task") / "t", per_class=16, seed=3)
    return task_samples(root), warm_start_dir()


class Recorder:
    """A reward of 0 (changes no advantage) that keeps what trl hands the rewards."""

    __name__ = "recorder"

    def __init__(self) -> None:
        self.calls: list[dict] = []

    def __call__(self, prompts, completions, completion_ids, **columns):
        self.calls.append({"completions": completions, "completion_ids": completion_ids, **columns})
        return [0.0] * len(completions)


def _one_generation(task, tmp_path, **changes):
    samples, warm = task
    recorder = Recorder()
    built = build_trainer(
        samples, dataclasses.replace(OPTIONS, **changes), model_source=str(warm),
        workdir=tmp_path, seed=0, device="cpu", precision="fp32", attention="sdpa",
        extra_rewards=[recorder],
    )  # fmt: skip
    trainer = built.trainer
    inputs = next(iter(trainer.get_train_dataloader()))
    torch.manual_seed(0)
    output = trainer._generate_and_score_completions(inputs)
    return trainer, output, recorder.calls[-1]


def test_answer_probability_is_the_policys_probability_of_the_correct_letter(task, tmp_path):
    trainer, output, seen = _one_generation(task, tmp_path, focal_p_space="vocabulary")
    spots = find_letter_spots(trainer.processing_class.tokenizer, seen["completion_ids"])
    # trl's own per-token log-probs of the sampled tokens (fused head, temperature applied): for
    # a right answer the sampled letter IS the correct letter, so the two must agree.
    ids = torch.cat([output["prompt_ids"], output["completion_ids"]], dim=1)
    mask = torch.cat([output["prompt_mask"], output["completion_mask"]], dim=1)
    with torch.no_grad():
        logps, _, _ = trainer._get_per_token_logps_and_entropies(
            trainer.model, ids, mask, output["completion_ids"].size(1),
            pixel_values=output["pixel_values"], image_grid_thw=output["image_grid_thw"],
            num_images=output["num_images"], mm_token_type_ids=output.get("mm_token_type_ids"),
        )  # fmt: skip
    checked = 0
    for row, spot in enumerate(spots):
        p = seen["answer_probability"][row]
        if spot is None:
            assert p is None
            continue
        if spot.letter == correct_letter(seen["label"][row]):
            assert p == pytest.approx(math.exp(float(logps[row, spot.index])), rel=1e-4)
            checked += 1
        else:
            assert 0.0 <= p < 1.0
    assert checked >= 3, "too few right answers sampled to check"


def test_advantages_are_trls_for_the_summed_rewards(task, tmp_path):
    from iadbench_methods.lr_iad.rewards import FocalReward, format_reward

    trainer, output, seen = _one_generation(task, tmp_path)
    prompts = [None] * len(seen["completions"])
    columns = {k: seen[k] for k in ("label", "sample_id", "class_weight", "answer_probability")}
    total = [
        f + r
        for f, r in zip(
            format_reward(prompts, seen["completions"]),
            FocalReward(OPTIONS.focal_alpha, OPTIONS.focal_gamma)(
                prompts, seen["completions"], **columns
            ),
            strict=True,
        )
    ]
    ours = advantages(total, OPTIONS.num_generations, OPTIONS.scale_rewards)
    assert output["advantages"].tolist() == pytest.approx(ours, abs=1e-5)
    # Rewards vary among the right answers of a group: the focal term acts (issue 7).
    right = [
        (sid, r)
        for sid, r, text, y in zip(
            seen["sample_id"],
            total,
            map(completion_text, seen["completions"]),
            seen["label"],
            strict=True,
        )  # fmt: skip
        if r > 1.0
    ]
    assert len({round(r, 6) for _, r in right}) > 1


def test_answer_span_loss_masks_everything_but_the_answer_block(task, tmp_path):
    trainer, output, _ = _one_generation(task, tmp_path, loss_span="answer")
    tokenizer = trainer.processing_class.tokenizer
    masked_rows = 0
    for ids, keep, valid in zip(
        output["completion_ids"], output["tool_mask"], output["completion_mask"], strict=True
    ):
        kept = tokenizer.decode(ids[(keep * valid).bool()].tolist(), skip_special_tokens=True)
        if keep.sum() < valid.sum():  # an answer block was found: only it is kept
            assert kept.strip().startswith("<answer>") and kept.endswith("</answer>")
            masked_rows += 1
    assert masked_rows >= len(output["completion_ids"]) // 2
    _, plain, _ = _one_generation(task, tmp_path / "plain")
    assert "tool_mask" not in plain  # the default loss covers the whole completion
