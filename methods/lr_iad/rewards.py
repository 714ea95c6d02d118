"""LR-IAD's rewards: a format reward and a focal reward, in trl 1.16's reward-function form.

Both are computed from the strict parser shared with evaluation
(:mod:`iadbench_methods.qwen2vl.answers`), so training rewards exactly what evaluation counts:

- format reward: 1 when the whole completion is ``<think>…</think>`` then ``<answer>…</answer>``
  (one of each, newlines allowed inside), else 0;
- focal reward: ``R = c · α · (1 − p)^γ · f(y)`` where ``c`` is 1 when the strictly parsed answer
  equals the ground truth (``invalid`` counts as wrong), ``p`` the share of correct completions in
  that image's GRPO group (a Monte-Carlo estimate of the policy's chance to answer the image
  correctly, so easy images earn little and hard ones much), and ``f(y) = N / (2·N_y)`` the
  inverse class frequency of the image's label on the training subset actually used (mean 1).

A GRPO group (the ``num_generations`` completions of one image) can be spread over several
processes, so ``p`` is counted over every process's completions: :class:`FocalReward` takes a
``gather`` function (default :func:`default_gather`: ``torch.distributed.all_gather_object`` when
a process group is running, else the identity). Every process calls the reward at the same step
of trl's loop, so the collective never waits for an absent partner.

The pure helpers (:func:`format_values`, :func:`correctness`, :func:`group_success_rates`,
:func:`focal_values`, :func:`class_weights`) hold the arithmetic and are what the tests check on
crafted outputs; the two callables only adapt trl's calling convention
``f(prompts, completions, completion_ids, <dataset columns>, trainer_state, log_extra,
log_metric)`` to them.

Paper: LR-IAD, arXiv 2504.19524, https://arxiv.org/abs/2504.19524

See Also:
    :mod:`iadbench_methods.lr_iad.training` (where trl receives them) and
    ``methods/lr_iad/README.md`` (why per-group reward scaling can cancel a per-group factor).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from iadbench.records import DEFECT, INVALID, LABELS
from iadbench_methods.qwen2vl.answers import follows_format, parse_answer

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
    success_rates: Sequence[float],
    weights: Sequence[float],
    *,
    alpha: float = 1.0,
    gamma: float = 2.0,
) -> list[float]:
    """``R_focal = c · α · (1 − p)^γ · f(y)`` per completion.

    Example:
        >>> focal_values([1, 1, 1, 0], [0.75] * 4, [2.0] * 4)
        [0.125, 0.125, 0.125, 0.0]
    """
    return [
        float(c) * alpha * (1.0 - p) ** gamma * w
        for c, p, w in zip(correct, success_rates, weights, strict=True)
    ]


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


class FocalReward:
    """The trl focal reward: ``c · α · (1 − p)^γ · f(y)``, with ``p`` counted over every process.

    Reads the dataset columns ``label`` (``"defect"``/``"normal"``), ``sample_id`` (groups
    completions per image) and ``class_weight`` (``f(y)``), which trl passes as keyword lists.
    Logs ``accuracy`` (share of strictly correct answers), ``invalid_rate`` and
    ``defect_share`` (share of A answers: a collapse to one letter shows here first) through
    trl's ``log_metric``.

    Args:
        alpha: α, the focal reward's scale.
        gamma: γ, the focusing exponent (0: every correct answer earns ``α·f``).
        gather: Concatenates a list over processes (default :func:`default_gather`).

    Example:
        >>> reward = FocalReward(alpha=1.0, gamma=2.0, gather=lambda local: local)
        >>> done = [{"role": "assistant", "content": "<think>x</think><answer>A</answer>"}]
        >>> wrong = [{"role": "assistant", "content": "<think>x</think><answer>B</answer>"}]
        >>> reward([None] * 4, [done, done, done, wrong], label=["defect"] * 4,
        ...        sample_id=["s"] * 4, class_weight=[2.0] * 4)
        [0.125, 0.125, 0.125, 0.0]

    Paper: LR-IAD, arXiv 2504.19524 (focal reward), https://arxiv.org/abs/2504.19524

    See Also:
        :func:`focal_values`, :func:`group_success_rates`.
    """

    # trl names the reward's metrics after ``__name__`` (rewards/focal_reward/mean, ...).
    __name__ = "focal_reward"

    def __init__(self, alpha: float = 1.0, gamma: float = 2.0, gather: Gather | None = None):
        self.alpha = alpha
        self.gamma = gamma
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
        log_metric: Callable[[str, float], None] | None = None,
        **kwargs: Any,
    ) -> list[float]:
        """One focal reward per completion (see the class docstring)."""
        texts = [completion_text(c) for c in completions]
        correct = correctness(texts, label)
        rates = group_success_rates(sample_id, correct, self.gather)
        values = focal_values(
            correct, rates, [float(w) for w in class_weight], alpha=self.alpha, gamma=self.gamma
        )
        if log_metric is not None and texts:
            parsed = [parse_answer(text) for text in texts]  # cheap: a few regexes per text
            log_metric("accuracy", sum(correct) / len(correct))
            log_metric("invalid_rate", sum(p == INVALID for p in parsed) / len(parsed))
            log_metric("defect_share", sum(p == DEFECT for p in parsed) / len(parsed))
        return values
