"""The answer letter inside a completion's tokens, and the policy's probability of the right one.

LR-IAD's focal reward needs "the predicted probability of the correct answer" (arXiv 2504.19524,
Eq. 4). iadbench reads it per completion: the probability the policy gives the correct letter
at the very token where that completion wrote its answer letter, given that completion's own
prefix (its reasoning). Two steps:

1. :func:`find_letter_spots`: in each completion's token ids, the token that holds the letter
   the strict parser read (:func:`iadbench_methods.qwen2vl.answers.answer_letter`), and the ids
   of that token with the letter A and with B. Byte-level BPE tokenizers may merge the letter
   with its neighbours (Qwen2's ``>A`` or `` A``): the counterpart is the same token text with
   the other letter, looked up in the vocabulary (``None`` when no such single token exists).
2. :func:`letter_probability`: from the logits at that position, the correct letter's
   probability either renormalised over the pair {A-token, B-token} (``pair``, the default: the
   probability of the answer among the two options) or over the whole vocabulary
   (``vocabulary``: also counts mass on any other token as "not correct").

The logits come from one no-grad forward of the policy (see
:class:`iadbench_methods.lr_iad.trainer.LRIADGRPOTrainer`) and from greedy generation scores in
the held-out monitor.

Paper: LR-IAD, arXiv 2504.19524, https://arxiv.org/abs/2504.19524
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from ..qwen2vl.answers import LETTERS, answer_letter, answer_span

ProbabilitySpace = Literal["pair", "vocabulary"]
_OTHER = {"A": "B", "B": "A"}


@dataclass(frozen=True)
class LetterSpot:
    """Where one completion wrote its answer letter.

    Attributes:
        index: Index of the token holding the letter, within the completion's tokens.
        letter: The letter written there, ``"A"`` or ``"B"``.
        token_ids: The id of that token with ``"A"`` and with ``"B"`` in the letter's place
            (a letter maps to None when the vocabulary has no such single token).
        span: Token indices ``[start, end)`` covering the ``<answer>…</answer>`` block.
    """

    index: int
    letter: str
    token_ids: dict[str, int | None]
    span: tuple[int, int]


def _prefix_lengths(tokenizer: Any, ids: Sequence[int]) -> list[int]:
    """Character length of the decoded text after each token (``[0, len(t0), len(t0 t1), …]``).

    Token pieces decoded one by one add up to the whole text for ASCII; when they do not (a
    multi-byte character split across tokens) every prefix is decoded instead (rare, slower).
    """
    pieces = [tokenizer.decode([i], skip_special_tokens=True) for i in ids]
    whole = tokenizer.decode(list(ids), skip_special_tokens=True)
    if "".join(pieces) == whole:
        lengths = [0]
        for piece in pieces:
            lengths.append(lengths[-1] + len(piece))
        return lengths
    return [
        len(tokenizer.decode(list(ids[:k]), skip_special_tokens=True)) for k in range(len(ids) + 1)
    ]


def _token_at(lengths: Sequence[int], offset: int) -> int:
    """Index of the token whose decoded characters cover ``offset``."""
    for index in range(len(lengths) - 1):
        if lengths[index] <= offset < lengths[index + 1]:
            return index
    raise ValueError(f"offset {offset} is outside the decoded text")


def _counterparts(
    tokenizer: Any, token_id: int, position: int, letter: str
) -> dict[str, int | None]:
    """The token's id with A and with B at ``position`` of its text (byte-level vocab lookup)."""
    token = tokenizer.convert_ids_to_tokens(token_id)
    ids: dict[str, int | None] = {letter: token_id}
    other = _OTHER[letter]
    # Byte-level BPE maps printable ASCII to itself, so the letter sits at the same position of
    # the token string as of the decoded piece (a leading space is one character, 'Ġ', in both).
    if 0 <= position < len(token) and token[position] == letter:
        candidate = tokenizer.convert_tokens_to_ids(
            token[:position] + other + token[position + 1 :]
        )
        unknown = tokenizer.unk_token_id
        ids[other] = candidate if candidate is not None and candidate != unknown else None
    else:
        ids[other] = None
    return ids


def find_letter_spots(
    tokenizer: Any,
    completion_ids: Sequence[Sequence[int]],
) -> list[LetterSpot | None]:
    """The answer-letter spot of each completion; None where the strict parser reads no answer.

    Args:
        tokenizer: The policy's tokenizer.
        completion_ids: The sampled token ids of each completion (no prompt, no padding).

    Returns:
        One :class:`LetterSpot` or None per completion, in order.

    Example:
        >>> ids = tokenizer.encode("<think>x</think> <answer>A</answer>")  # doctest: +SKIP
        >>> spot, = find_letter_spots(tokenizer, [ids])  # doctest: +SKIP
        >>> spot.letter, spot.token_ids["B"] is not None  # doctest: +SKIP
        ('A', True)
    """
    spots: list[LetterSpot | None] = []
    for ids in completion_ids:
        text = tokenizer.decode(list(ids), skip_special_tokens=True)
        found = answer_letter(text)
        if found is None:
            spots.append(None)
            continue
        offset, letter = found
        lengths = _prefix_lengths(tokenizer, ids)
        if lengths[-1] != len(text):
            spots.append(None)  # decoding is not additive here: no reliable position
            continue
        index = _token_at(lengths, offset)
        start, end = answer_span(text) or (offset, offset + 1)
        spots.append(
            LetterSpot(
                index=index,
                letter=letter,
                token_ids=_counterparts(tokenizer, ids[index], offset - lengths[index], letter),
                span=(_token_at(lengths, start), _token_at(lengths, end - 1) + 1),
            )
        )
    return spots


def letter_probability(
    logits: Any,
    spot: LetterSpot,
    correct_letter: str,
    space: ProbabilitySpace = "pair",
) -> float:
    """The probability of ``correct_letter`` at ``spot`` from that position's logits.

    Args:
        logits: The next-token logits at the position before the letter token (1-D).
        spot: Where the completion wrote its letter.
        correct_letter: ``"A"`` or ``"B"``: the ground truth's letter.
        space: ``pair``: softmax over the A- and B-tokens only; ``vocabulary``: over all tokens.

    Returns:
        A probability in [0, 1]. When the correct letter has no single-token counterpart at this
        spot (the completion wrote the other letter in a token with no twin), 0.0; when only the
        other letter lacks one, the correct token's probability over the vocabulary.
    """
    import torch

    correct_id = spot.token_ids.get(correct_letter)
    if correct_id is None:
        return 0.0
    logits = logits.float()
    if space == "vocabulary":
        return float(torch.softmax(logits, dim=-1)[correct_id])
    other_id = spot.token_ids.get(_OTHER[correct_letter])
    if other_id is None:  # no twin to renormalise against: fall back to the vocabulary
        return float(torch.softmax(logits, dim=-1)[correct_id])
    pair = torch.stack([logits[correct_id], logits[other_id]])
    return float(torch.softmax(pair, dim=0)[0])


def letter_log_odds(logits: Any, spot: LetterSpot) -> float | None:
    """``log p(A) − log p(B)`` at ``spot`` (None when one of the two tokens does not exist).

    The held-out monitor averages it per class: the gap (defect mean minus normal mean) grows
    when the policy's letter starts to depend on the image, before greedy answers flip.
    """
    a, b = spot.token_ids.get("A"), spot.token_ids.get("B")
    if a is None or b is None:
        return None
    value = float(logits[a].float() - logits[b].float())
    return value if math.isfinite(value) else None


def correct_letter(label: str) -> str:
    """The letter of a ground-truth label: ``defect`` → ``"A"``, ``normal`` → ``"B"``.

    Example:
        >>> correct_letter("defect"), correct_letter("normal")
        ('A', 'B')
    """
    return next(letter for letter, value in LETTERS.items() if value == label)
