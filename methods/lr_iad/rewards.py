"""LR-IAD's rewards (format, focal, plain accuracy), in trl 1.16's reward-function form.

All are computed from the strict parser shared with evaluation
(:mod:`iadbench_methods.qwen2vl.answers`), so training rewards exactly what evaluation counts:

- format reward: 1 when the whole completion is ``<think>…</think>`` then ``<answer>…</answer>``
  (one of each, newlines allowed inside), else 0;
- focal reward (the paper's Eq. 4, as we read it): ``R = c · α · (1 − p)^γ · f(y)``, with ``c`` =
  1 when the strictly parsed answer equals the ground truth (``invalid`` counts as wrong), ``f(y)
  = N / (2·N_y)`` the inverse class frequency of the image's label on the images trained on, and
  ``p`` "the predicted probability of the correct answer". ``focal_p`` says which ``p``:

  - ``answer`` (default): per completion, the policy's probability of the correct letter at the
    token where that completion wrote its letter, renormalised over the A/B pair
    (``focal_p_space=pair``) or over the vocabulary (``vocabulary``); computed by
    :class:`iadbench_methods.lr_iad.trainer.LRIADGRPOTrainer` with one no-grad forward and handed
    to the reward as the ``answer_probability`` column. Among correct completions of one image
    the unsure ones earn more than the confident ones, so the term changes the GRPO update;
  - ``group`` (ablation, iadbench's first reading): the share of correct completions in the
    image's group. It is constant within a group, so per-group reward scaling divides it out.

  A wrong answer (``focal_wrong``): ``zero`` (default: ``c = 0`` gives 0) or ``penalty``:
  ``−α · (1 − p)^γ · f(y)``, so a confidently wrong answer (small ``p``) loses more than a nearly
  right one ("low-confidence misclassified samples receive higher penalties"); an invalid answer
  has no letter and takes ``p = 0``.
- accuracy reward (``reward=accuracy``): ``c`` (0/1), like the Visual-RFT code base's
  classification reward but strict where that one matches substrings.

**Which factors act under which scaling.** trl turns the summed reward ``r_i`` of completion
``i`` of an image into the advantage ``A_i = (r_i − mean_g r) / s`` (:func:`advantages`), where
the mean is over the image's group ``g`` and ``s`` is the group's std (``scale_rewards=group``,
the paper's Sec. III-C and the default), the batch's std (``batch``) or 1 (``none``). Write
``r_i = F_i + α f(y) q_i`` with ``q_i = c_i (1 − p_i)^γ``. Within a group ``α f(y)`` is one
constant ``k``; when the format reward ``F`` is constant in the group (every completion well
formatted), ``A_i = k (q_i − mean q) / (k · std q) = (q_i − mean q) / std q``: **α and f(y)
cancel under group scaling**, and a ``p`` constant within the group makes ``q_i ∝ c_i``, i.e. the
plain accuracy reward's advantages. Under ``batch`` scaling ``s`` is shared by every image, so
``A_i = k (q_i − mean q) / s``: α scales all advantages (with the format term beside it) and
``f(y)`` gives a rare-class image larger advantages than a common one; under ``none`` the same
without the division. The per-completion ``p`` acts under all three.

A GRPO group (the ``num_generations`` completions of one image) can be spread over several
processes: ``focal_p=group`` counts ``p`` over every process's completions through a ``gather``
function (default :func:`default_gather`: ``torch.distributed.all_gather_object`` when a process
group is running, else the identity); every process calls the reward at the same step of trl's
loop, so the collective never waits for an absent partner. ``focal_p=answer`` needs no gathering.

Paper: LR-IAD, arXiv 2504.19524, https://arxiv.org/abs/2504.19524

See Also:
    :mod:`iadbench_methods.lr_iad.trainer` (computes ``answer_probability``),
    :mod:`iadbench_methods.lr_iad.training` (where trl receives the rewards).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from iadbench.contract.records import DEFECT, INVALID, LABELS

from ..qwen2vl.answers import follows_format, parse_answer

REWARDS = ("focal", "accuracy")
"""``reward``: the paper's focal reward, or the plain accuracy reward (ablation)."""
FOCAL_P = ("answer", "group")
"""``focal_p``: per completion from the policy (default), or the group's hit rate (ablation)."""
FOCAL_WRONG = ("zero", "penalty")
"""``focal_wrong``: what a wrong answer earns from the focal term."""
SCALE_REWARDS = ("group", "batch", "none")
"""trl's ``scale_rewards``: the std advantages are divided by."""

Gather = Callable[[list[Any]], list[Any]]
"""Concatenates a list from every process in rank order (identity for a single process)."""


def default_gather(local: list[Any]) -> list[Any]:
    """Every process's ``local`` list, concatenated in rank order; ``local`` itself when alone.

    Uses ``torch.distributed.all_gather_object``, which moves small pickled objects over any
    backend (gloo on CPUs, NCCL on GPUs). It is a collective: every process must call it.

    Example:
        >>> default_gather([("bottle/000.png", 1)])  # no process group: the identity
        [('bottle/000.png', 1)]
    """
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return list(local)
    gathered: list[list[Any] | None] = [None] * dist.get_world_size()
    dist.all_gather_object(gathered, list(local))
    return [item for part in gathered for item in (part or [])]


def completion_text(completion: Any) -> str:
    """The text of one completion, as trl hands it over.

    trl passes conversational completions as a list of chat messages (``[{"role": "assistant",
    "content": "..."}]``; content may also be a list of ``{"type": "text", "text": ...}`` parts)
    and plain ones as strings; both are accepted.

    Example:
        >>> completion_text([{"role": "assistant", "content": "<answer>A</answer>"}])
        '<answer>A</answer>'
    """
    if isinstance(completion, str):
        return completion
    if isinstance(completion, Mapping):
        completion = [completion]
    texts: list[str] = []
    for message in completion:
        content = message.get("content") if isinstance(message, Mapping) else message
        if isinstance(content, str):
            texts.append(content)
        elif isinstance(content, Sequence):
            texts.extend(
                str(part.get("text") or "")
                for part in content
                if isinstance(part, Mapping) and part.get("type", "text") == "text"
            )
    return "".join(texts)


def format_values(texts: Sequence[str]) -> list[float]:
    """1.0 for each text that follows ``<think>…</think> <answer>…</answer>``, else 0.0.

    Example:
        >>> format_values(["<think>ok</think><answer>B</answer>", "<answer>B</answer>"])
        [1.0, 0.0]
    """
    return [1.0 if follows_format(text) else 0.0 for text in texts]


def correctness(texts: Sequence[str], labels: Sequence[str]) -> list[int]:
    """``c`` per completion: 1 when the strictly parsed answer equals the label, else 0.

    Example:
        >>> correctness(["<answer>A</answer>", "<answer>A or B</answer>"], ["defect", "defect"])
        [1, 0]
    """
    parsed = [parse_answer(text) for text in texts]
    return [int(p != INVALID and p == y) for p, y in zip(parsed, labels, strict=True)]


def group_success_rates(
    sample_ids: Sequence[str], correct: Sequence[int], gather: Gather | None = None
) -> list[float]:
    """``p`` per local completion: the share of correct completions of its image's group.

    The group of an image is every completion for the same ``sample_id`` in this reward call,
    on every process (``gather`` concatenates the processes' lists; None = alone).

    Example:
        >>> group_success_rates(["a", "a", "a", "a", "b", "b"], [1, 1, 1, 0, 0, 1])
        [0.75, 0.75, 0.75, 0.75, 0.5, 0.5]
    """
    local = [(str(s), int(c)) for s, c in zip(sample_ids, correct, strict=True)]
    everyone = (gather or default_gather)(local)
    totals: Counter[str] = Counter()
    hits: Counter[str] = Counter()
    for sample_id, c in everyone:
        totals[sample_id] += 1
        hits[sample_id] += c
    return [hits[s] / totals[s] for s, _ in local]


def focal_values(
    correct: Sequence[int],
    probabilities: Sequence[float | None],
    weights: Sequence[float],
    *,
    alpha: float = 1.0,
    gamma: float = 2.0,
    wrong: str = "zero",
) -> list[float]:
    """The focal reward per completion: ``c · α · (1 − p)^γ · f(y)`` (and the wrong answers' term).

    Args:
        correct: ``c`` per completion (1: the strictly parsed answer is right).
        probabilities: ``p`` per completion, the probability of the correct answer; None where it
            is unknown (an invalid answer), which counts as 0.
        weights: ``f(y)`` per completion.
        alpha: α.
        gamma: γ.
        wrong: ``zero``: a wrong answer earns 0; ``penalty``: it earns ``−α · (1 − p)^γ · f(y)``.

    Example:
        >>> focal_values([1, 1, 0], [0.9, 0.5, 0.2], [1.0] * 3)  # the unsure hit earns more
        [0.009999999999999995, 0.25, 0.0]
        >>> focal_values([1, 0, 0], [0.9, 0.4, None], [1.0] * 3, wrong="penalty")
        [0.009999999999999995, -0.36, -1.0]
    """
    if wrong not in FOCAL_WRONG:
        raise ValueError(f"wrong must be one of {', '.join(FOCAL_WRONG)}, got {wrong!r}")
    values: list[float] = []
    for c, p, w in zip(correct, probabilities, weights, strict=True):
        term = alpha * (1.0 - (p or 0.0)) ** gamma * w
        values.append(term if c else (-term if wrong == "penalty" else 0.0))
    return values


def advantages(rewards: Sequence[float], num_generations: int, scale: str = "group") -> list[float]:
    """GRPO advantages of summed rewards, as trl 1.16 computes them (``sum_then_normalize``).

    ``(r − group mean) / (s + 1e-4)`` with ``s`` the group's std (``group``), the whole batch's
    std (``batch``) or no division (``none``); stds are unbiased (``torch.std``), groups are
    consecutive runs of ``num_generations`` rewards. Used by the tests and the docs to show which
    reward factors survive which scaling; ``tests/methods/lr_iad`` checks it against trl itself.

    Example:
        >>> [round(a, 3) for a in advantages([2.0, 2.0, 1.0, 1.0], 4)]
        [0.866, 0.866, -0.866, -0.866]
    """
    import torch

    if scale not in SCALE_REWARDS:
        raise ValueError(f"scale must be one of {', '.join(SCALE_REWARDS)}, got {scale!r}")
    r = torch.tensor(list(rewards), dtype=torch.float64)
    grouped = r.view(-1, num_generations)
    centred = (grouped - grouped.mean(dim=1, keepdim=True)).flatten()
    if scale == "none":
        return centred.tolist()
    std = r.std() if scale == "batch" else grouped.std(dim=1).repeat_interleave(num_generations)
    return (centred / (std + 1e-4)).tolist()


def class_weights(labels: Sequence[str]) -> dict[str, float]:
    """``f(y) = N / (2·N_y)`` for each label present (inverse class frequency, mean 1 over images).

    Example:
        >>> class_weights(["defect"] + ["normal"] * 3)
        {'defect': 2.0, 'normal': 0.6666666666666666}
    """
    counts = Counter(labels)
    unknown = set(counts) - set(LABELS)
    if unknown:
        raise ValueError(f"labels must be {' or '.join(LABELS)}, got {sorted(unknown)}")
    total = sum(counts.values())
    return {label: total / (len(LABELS) * n) for label in LABELS if (n := counts[label])}


def format_reward(prompts: Sequence[Any], completions: Sequence[Any], **kwargs: Any) -> list[float]:
    """The trl format reward: 1 per completion that follows the answer format, else 0.

    Example:
        >>> turn = {"role": "assistant", "content": "<think>x</think><answer>A</answer>"}
        >>> format_reward([None], [[turn]])
        [1.0]
    """
    return format_values([completion_text(c) for c in completions])


def log_answer_metrics(
    texts: Sequence[str],
    labels: Sequence[str],
    log_metric: Callable[[str, float], None] | None,
) -> None:
    """Log what the sampled answers say, through trl's ``log_metric`` (None: nothing).

    ``accuracy`` (strictly correct share), ``accuracy/defect`` and ``accuracy/normal`` (per
    class: a collapse to one letter shows as 1 and 0), ``invalid_rate`` and ``defect_share``
    (share of A answers). A class absent from this batch logs nothing for that class.
    """
    if log_metric is None or not texts:
        return
    parsed = [parse_answer(text) for text in texts]
    hits = [int(p == y) for p, y in zip(parsed, labels, strict=True)]
    log_metric("accuracy", sum(hits) / len(hits))
    for label in LABELS:
        mine = [h for h, y in zip(hits, labels, strict=True) if y == label]
        if mine:
            log_metric(f"accuracy/{label}", sum(mine) / len(mine))
    log_metric("invalid_rate", sum(p == INVALID for p in parsed) / len(parsed))
    log_metric("defect_share", sum(p == DEFECT for p in parsed) / len(parsed))


def accuracy_reward(
    prompts: Sequence[Any],
    completions: Sequence[Any],
    completion_ids: Sequence[Any] | None = None,
    *,
    label: Sequence[str],
    log_metric: Callable[[str, float], None] | None = None,
    **kwargs: Any,
) -> list[float]:
    """The plain accuracy reward (``reward=accuracy``): 1 for a strictly correct answer, else 0.

    Like the Visual-RFT code base's classification reward (which also accepts substring matches);
    the ablation of the focal reward.

    Example:
        >>> done = [{"role": "assistant", "content": "<think>x</think><answer>A</answer>"}]
        >>> accuracy_reward([None] * 2, [done, done], label=["defect", "normal"])
        [1.0, 0.0]
    """
    texts = [completion_text(c) for c in completions]
    log_answer_metrics(texts, label, log_metric)
    return [float(c) for c in correctness(texts, label)]


class FocalReward:
    """The trl focal reward ``c · α · (1 − p)^γ · f(y)`` (see the module docstring for ``p``).

    Reads the dataset columns ``label`` (``"defect"``/``"normal"``), ``sample_id`` (groups
    completions per image), ``class_weight`` (``f(y)``) and, for ``p_source="answer"``,
    ``answer_probability`` (added per completion by
    :class:`~iadbench_methods.lr_iad.trainer.LRIADGRPOTrainer`), which trl passes as keyword
    lists. Logs the answer metrics of :func:`log_answer_metrics` and ``focal_p`` (mean ``p`` of
    the completions that have one) through trl's ``log_metric``.

    Args:
        alpha: α, the focal reward's scale.
        gamma: γ, the focusing exponent (0: every correct answer earns ``α·f``).
        p_source: ``answer`` (per completion, from the policy) or ``group`` (the group hit rate).
        wrong: ``zero`` or ``penalty`` (see :func:`focal_values`).
        gather: Concatenates a list over processes (``group`` only; default
            :func:`default_gather`).

    Example:
        >>> reward = FocalReward(alpha=1.0, gamma=2.0, p_source="answer")
        >>> done = [{"role": "assistant", "content": "<think>x</think><answer>A</answer>"}]
        >>> reward([None] * 2, [done, done], label=["defect"] * 2, sample_id=["s"] * 2,
        ...        class_weight=[1.0] * 2, answer_probability=[0.9, 0.5])
        [0.009999999999999995, 0.25]

    Paper: LR-IAD, arXiv 2504.19524 (focal reward), https://arxiv.org/abs/2504.19524

    See Also:
        :func:`focal_values`, :func:`group_success_rates`.
    """

    # trl names the reward's metrics after ``__name__`` (rewards/focal_reward/mean, ...).
    __name__ = "focal_reward"

    def __init__(
        self,
        alpha: float = 1.0,
        gamma: float = 2.0,
        p_source: str = "answer",
        wrong: str = "zero",
        gather: Gather | None = None,
    ):
        if p_source not in FOCAL_P:
            raise ValueError(f"p_source must be one of {', '.join(FOCAL_P)}, got {p_source!r}")
        if wrong not in FOCAL_WRONG:
            raise ValueError(f"wrong must be one of {', '.join(FOCAL_WRONG)}, got {wrong!r}")
        self.alpha = alpha
        self.gamma = gamma
        self.p_source = p_source
        self.wrong = wrong
        self.gather = gather

    def __call__(
        self,
        prompts: Sequence[Any],
        completions: Sequence[Any],
        completion_ids: Sequence[Any] | None = None,
        *,
        label: Sequence[str],
        sample_id: Sequence[str],
        class_weight: Sequence[float],
        answer_probability: Sequence[float | None] | None = None,
        log_metric: Callable[[str, float], None] | None = None,
        **kwargs: Any,
    ) -> list[float]:
        """One focal reward per completion (see the class docstring)."""
        texts = [completion_text(c) for c in completions]
        correct = correctness(texts, label)
        if self.p_source == "group":
            probabilities: Sequence[float | None] = group_success_rates(
                sample_id, correct, self.gather
            )
        elif answer_probability is None:
            raise ValueError(
                "focal_p=answer needs the answer_probability column, which "
                "LRIADGRPOTrainer adds; a plain trl GRPOTrainer does not"
            )
        else:
            probabilities = answer_probability
        values = focal_values(
            correct, probabilities, [float(w) for w in class_weight],
            alpha=self.alpha, gamma=self.gamma, wrong=self.wrong,
        )  # fmt: skip
        log_answer_metrics(texts, label, log_metric)
        known = [p for p in probabilities if p is not None]
        if log_metric is not None and known:
            log_metric("focal_p", sum(known) / len(known))
        return values
