"""LR-IAD's rewards on crafted completions: format, strict correctness, focal values, gathering,
and which reward factors survive GRPO's advantage normalisation."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")

from iadbench_methods.lr_iad.rewards import (
    FocalReward,
    accuracy_reward,
    advantages,
    class_weights,
    completion_text,
    correctness,
    default_gather,
    focal_values,
    format_reward,
    group_success_rates,
)


def turn(text: str) -> list[dict[str, str]]:
    """A completion as trl 1.16 hands it to reward functions: a list of chat messages."""
    return [{"role": "assistant", "content": text}]


GOOD_A = "<think>a scratch on the rim</think> <answer>A</answer>"
GOOD_B = "<think>clean</think><answer>B</answer>"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (GOOD_A, 1.0),
        ("<think>\nline one\nline two\n</think>\n<answer>\nB\n</answer>\n", 1.0),  # newlines
        ("<think>x</think><answer></answer>", 1.0),  # structure only: the answer is c's business
        ("<think>x</think><answer>A or B</answer>", 1.0),
        ("<answer>A</answer>", 0.0),  # no think block
        ("<think>x</think> A", 0.0),  # no answer tags
        ("<think>x</think><answer>A</answer><answer>A</answer>", 0.0),  # two answer blocks
        ("<think>x<think>y</think></think><answer>A</answer>", 0.0),  # two think blocks
        ("Sure! <think>x</think><answer>A</answer>", 0.0),  # text outside the blocks
        ("<answer>A</answer><think>x</think>", 0.0),  # wrong order
        ("", 0.0),
    ],
)
def test_format_reward(text, expected):
    assert format_reward([None], [turn(text)]) == [expected]


@pytest.mark.parametrize(
    ("text", "label", "expected"),
    [
        (GOOD_A, "defect", 1),
        (GOOD_A, "normal", 0),
        ("<think>x</think><answer> (A) </answer>", "defect", 1),
        ("<think>x</think><answer>A or B</answer>", "defect", 0),  # a hedge is not an answer
        ("<think>x</think><answer>A or B</answer>", "normal", 0),
        ("<think>x</think><answer></answer>", "defect", 0),  # empty
        ("<think>x</think><answer>(B) normal</answer>", "defect", 0),  # wrong and not strict
        ("<think>x</think><answer>(B) normal</answer>", "normal", 0),  # not strict either
        ("<think>x</think><answer>A</answer><answer>A</answer>", "defect", 0),  # two blocks
        ("<think>x</think><answer>B</answer><answer>A</answer>", "defect", 0),
        ("The answer is A", "defect", 0),  # missing tags
        ("<think>x</think><answer>a</answer>", "defect", 0),  # lower case
        ("<think>the answer is A</think><answer>B</answer>", "defect", 0),  # no substring match
    ],
)
def test_correctness_is_strict(text, label, expected):
    assert correctness([completion_text(turn(text))], [label]) == [expected]


def test_completion_text_accepts_strings_and_content_parts():
    content = [{"type": "text", "text": "<answer>"}, {"type": "text", "text": "A</answer>"}]
    parts = [{"role": "assistant", "content": content}]
    assert completion_text(parts) == "<answer>A</answer>"
    assert completion_text("plain") == "plain"


def test_class_weights_are_inverse_frequency_with_mean_one():
    labels = ["defect"] * 1 + ["normal"] * 3
    weights = class_weights(labels)
    assert weights == pytest.approx({"defect": 2.0, "normal": 2 / 3})
    assert sum(weights[y] for y in labels) / len(labels) == pytest.approx(1.0)
    assert class_weights(["normal"] * 5) == {"normal": 0.5}  # a Train subset: normals only
    with pytest.raises(ValueError):
        class_weights(["good"])


def test_group_hit_rate_ablation_of_a_hand_made_group():
    # 4 completions of one defect image, 3 right: p = 0.75, so R = 1 · (0.25)^2 · f = f / 16.
    f = class_weights(["defect"] + ["normal"] * 3)["defect"]
    texts = [GOOD_A, GOOD_A, GOOD_A, GOOD_B]
    reward = FocalReward(alpha=1.0, gamma=2.0, p_source="group", gather=lambda local: local)
    values = reward(
        [None] * 4, [turn(t) for t in texts], None,
        label=["defect"] * 4, sample_id=["img"] * 4, class_weight=[f] * 4,
    )  # fmt: skip
    assert values == pytest.approx([f / 16, f / 16, f / 16, 0.0])
    assert focal_values([1, 0], [0.5, 0.5], [1.0, 1.0], alpha=2.0, gamma=1.0) == [1.0, 0.0]


def test_all_correct_group_earns_nothing_and_groups_are_separate():
    rates = group_success_rates(["a", "a", "b", "b"], [1, 1, 1, 0], gather=lambda local: local)
    assert rates == [1.0, 1.0, 0.5, 0.5]
    assert focal_values([1, 1, 1, 0], rates, [1.0] * 4) == [0.0, 0.0, 0.25, 0.0]


def test_focal_reward_logs_accuracy_and_invalid_rate():
    logged: dict[str, float] = {}
    texts = [GOOD_A, "<think>x</think><answer>A or B</answer>"]
    FocalReward(gather=lambda local: local)(
        [None] * 2, [turn(t) for t in texts], None, label=["defect"] * 2, sample_id=["s"] * 2,
        class_weight=[1.0] * 2, answer_probability=[0.8, None], log_metric=logged.__setitem__,
        trainer_state=None,
    )  # fmt: skip
    assert logged == {
        "accuracy": 0.5, "accuracy/defect": 0.5, "invalid_rate": 0.5, "defect_share": 0.5,
        "focal_p": 0.8,
    }  # fmt: skip


def test_default_gather_is_the_identity_alone():
    assert default_gather([("s", 1)]) == [("s", 1)]


def test_group_split_across_two_injected_processes_gives_the_one_process_p():
    ids, correct = ["img"] * 4 + ["other"] * 2, [1, 0, 1, 1, 0, 1]
    alone = group_success_rates(ids, correct, gather=lambda local: local)
    # Rank 0 holds the first three completions, rank 1 the rest; gather = rank order concat.
    halves = [list(zip(ids[:3], correct[:3], strict=True)),
              list(zip(ids[3:], correct[3:], strict=True))]  # fmt: skip
    rank0 = group_success_rates(ids[:3], correct[:3], gather=lambda local: halves[0] + halves[1])
    rank1 = group_success_rates(ids[3:], correct[3:], gather=lambda local: halves[0] + halves[1])
    assert rank0 + rank1 == alone == [0.75] * 4 + [0.5] * 2


def _two_process_worker(rank: int, init_file: str, results: dict) -> None:
    import torch.distributed as dist

    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=2)
    try:
        texts = [GOOD_A, GOOD_B, GOOD_A] if rank == 0 else [GOOD_A, GOOD_B, GOOD_B]
        ids = ["img", "img", "img"] if rank == 0 else ["img", "cat", "cat"]
        labels = ["defect"] * 3 if rank == 0 else ["defect", "normal", "normal"]
        # Default gather: torch.distributed.all_gather_object.
        results[rank] = FocalReward(p_source="group")(
            [None] * 3, [turn(t) for t in texts], None, label=labels, sample_id=ids,
            class_weight=[1.0] * 3,
        )  # fmt: skip
    finally:
        dist.destroy_process_group()


def test_group_split_across_two_real_processes(tmp_path):
    import torch.multiprocessing as mp

    manager = mp.get_context("spawn").Manager()
    results = manager.dict()
    mp.spawn(_two_process_worker, args=(str(tmp_path / "init"), results), nprocs=2, join=True)
    # img: 4 completions over both ranks, 3 right → p = 0.75; cat: 2 on rank 1, both right.
    texts = [GOOD_A, GOOD_B, GOOD_A, GOOD_A, GOOD_B, GOOD_B]
    alone = FocalReward(p_source="group", gather=lambda local: local)(
        [None] * 6, [turn(t) for t in texts], None, label=["defect"] * 4 + ["normal"] * 2,
        sample_id=["img"] * 4 + ["cat"] * 2, class_weight=[1.0] * 6,
    )  # fmt: skip
    assert results[0] + results[1] == alone == pytest.approx([0.0625, 0, 0.0625, 0.0625, 0, 0])


# --- Which factors act under GRPO's advantage normalisation -----------------------------------


def _group_rewards(correct, probabilities, weight, *, p_source="answer", alpha=1.0, gamma=2.0):
    """Format (all well formatted: 1) + focal rewards of one image's group."""
    if p_source == "group":
        probabilities = [sum(correct) / len(correct)] * len(correct)
    focal = focal_values(correct, probabilities, [weight] * len(correct), alpha=alpha, gamma=gamma)
    return [1.0 + value for value in focal]


def test_per_completion_p_changes_advantages_under_group_scaling():
    # One defect image, 4 well-formatted completions: 3 right (one of them unsure), 1 wrong.
    correct, p = [1, 1, 1, 0], [0.95, 0.9, 0.55, 0.3]
    focal = advantages(_group_rewards(correct, p, 2.0), 4, "group")
    accuracy = advantages([1.0 + c for c in correct], 4, "group")
    assert max(abs(a - b) for a, b in zip(focal, accuracy, strict=True)) > 0.5
    # Among the right answers the unsure one is pushed hardest, the wrong one least. (The
    # confident right answers earn little more than the wrong one, so their advantage can be
    # negative: the group mean is lifted by the unsure sibling.)
    assert focal[2] > focal[1] > focal[0] > focal[3]
    assert accuracy[0] == accuracy[1] == accuracy[2]


@pytest.mark.parametrize(("alpha", "weight", "gamma"), [(1.0, 2.0, 2.0), (3.0, 0.5, 1.0)])
def test_group_hit_rate_p_cancels_to_plain_accuracy_under_group_scaling(alpha, weight, gamma):
    # The first reading (p = the group's hit rate) is constant in the group: α, f(y) and p all
    # divide out, leaving exactly the accuracy reward's advantages (what issue 7 measured).
    correct = [1, 1, 1, 0]
    rewards = _group_rewards(correct, None, weight, p_source="group", alpha=alpha, gamma=gamma)
    accuracy = advantages([1.0 + c for c in correct], 4, "group")
    # Equal up to trl's 1e-4 in the denominator (std + 1e-4), which the scale k = α·f·(1-p)^γ
    # makes relatively larger: the 1.4995 vs 1.4997 the issue measured.
    assert advantages(rewards, 4, "group") == pytest.approx(accuracy, rel=1e-2)


def test_alpha_and_class_weight_cancel_under_group_scaling_but_not_batch():
    correct, p = [1, 1, 0, 0], [0.6, 0.5, 0.2, 0.4]
    rare = _group_rewards(correct, p, 2.0)  # f(defect) on a defect-poor training set
    common = _group_rewards(correct, p, 0.5)
    assert advantages(rare, 4, "group") == pytest.approx(advantages(common, 4, "group"), rel=1e-2)
    both = advantages(rare + common, 4, "batch")
    # Same answers, same p: the rare-class image's right answers get more advantage.
    assert both[0] > both[4] > 0 and both[1] > both[5] > 0
    unscaled = advantages(rare + common, 4, "none")
    assert unscaled[0] > unscaled[4] > 0


def test_penalty_makes_confident_mistakes_cost_more():
    values = focal_values([0, 0, 0], [0.45, 0.05, None], [1.0] * 3, wrong="penalty")
    assert values[2] < values[1] < values[0] < 0  # invalid (no p) costs most
    assert focal_values([0, 0], [0.45, 0.05], [1.0] * 2) == [0.0, 0.0]  # the default: zero


def test_accuracy_reward_is_strict_and_logs_per_class():
    logged: dict[str, float] = {}
    texts = [GOOD_A, GOOD_B, "<think>x</think><answer>A or B</answer>"]
    values = accuracy_reward(
        [None] * 3, [turn(t) for t in texts], None, label=["defect", "defect", "normal"],
        log_metric=logged.__setitem__,
    )  # fmt: skip
    assert values == [1.0, 0.0, 0.0]
    assert logged["accuracy/defect"] == 0.5 and logged["accuracy/normal"] == 0.0


def test_focal_answer_p_refuses_to_run_without_the_column():
    with pytest.raises(ValueError, match="answer_probability"):
        FocalReward()([None], [turn(GOOD_A)], None, label=["defect"], sample_id=["s"],
                      class_weight=[1.0])  # fmt: skip
