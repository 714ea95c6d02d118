"""P(defect) of an A/B answer, read from ``generate``'s own logits at the answer letter.

A text method's answer is a label, not a ranking; the probability the model gives its answer
letter makes it one. At the generation step where the greedy answer wrote its letter (the letter
the strict parser read, :func:`iadbench_methods.qwen2vl.answers.answer_letter`, mapped back to the
generated token that holds it), the score is the softmax over the two logits {A-token, B-token}:
the probability of the defect letter among the two options. The logits are ``generate``'s raw
ones (``output_logits=True``), the model's own before any logits processor (a checkpoint's
repetition penalty), so the score equals a direct forward's probability on prompt + generated
prefix; no second forward is run (``benchmarks/text_scores.py`` measures both).

No score where the strict parser reads no letter (the answer stays ``invalid``), and none where
the vocabulary has no single token with the other letter in the letter's place (Qwen's byte-level
vocabulary has both ``A``/``B`` and ``>A``/``>B``, so this does not happen with real checkpoints).

Paper: LR-IAD, arXiv 2504.19524 (the letter probability of its focal reward),
https://arxiv.org/abs/2504.19524
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from iadbench.contract.records import DEFECT

from .answers import LETTERS


def defect_letter() -> str:
    """The letter the prompt gives to ``defect`` (``"A"``: "(A) defect (B) normal")."""
    return next(letter for letter, label in LETTERS.items() if label == DEFECT)


def defect_probabilities(
    tokenizer: Any, new_ids: Sequence[Sequence[int]], logits: Sequence[Any]
) -> list[float | None]:
    """P(defect) per generated row, or None where no answer letter is read.

    Args:
        tokenizer: The model's tokenizer.
        new_ids: The generated token ids of each row (no prompt; padding after the end is fine:
            special tokens decode to nothing).
        logits: ``generate``'s ``output.logits``: one ``(rows, vocabulary)`` tensor per step,
            raw (before logits processors).

    Returns:
        One probability in [0, 1] or None per row, in order.
    """
    import torch

    # The spot finder is LR-IAD's (its focal reward reads the same letter); imported here so
    # that the base method's module does not load its trainer's package at import time.
    from ..lr_iad.answer_letter import find_letter_spots

    positive = defect_letter()
    negative = next(letter for letter in LETTERS if letter != positive)
    scores: list[float | None] = []
    for row, spot in enumerate(find_letter_spots(tokenizer, [list(ids) for ids in new_ids])):
        if spot is None or spot.index >= len(logits):
            scores.append(None)
            continue
        yes, no = spot.token_ids.get(positive), spot.token_ids.get(negative)
        if yes is None or no is None:
            scores.append(None)
            continue
        step = logits[spot.index][row].float()
        pair = torch.stack([step[yes], step[no]])
        scores.append(float(torch.softmax(pair, dim=0)[0]))
    return scores
