"""How AnomalyGPT's replies are read: a strict rule (the headline) and the official lenient one.

The official answers begin with the verdict: "No, there is no anomaly in the image." / "Yes, there
is an anomaly in the image, at the {position} of the image." (``code/datasets/{mvtec,visa}.py``).
The official test decides by ``'Yes' in reply`` (``code/test_mvtec.py``): any reply is a verdict,
even one that says nothing. iadbench's strict rule takes the verdict only where the reply gives
one — its first word, "Yes" or "No" — and counts everything else as ``invalid``; the summary
reports the official rule's figures beside it (``lenient:yes-in-reply``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from iadbench.contract.records import DEFECT, INVALID, NORMAL, AnswerRules, PredictedLabel

from ..qwen2vl.answers import LENIENT_YES_NO_RULE, parse_yes_no_lenient

STRICT_YES_NO_RULE = "strict:leading-yes-no"
_LEADING_WORD = re.compile(r"\s*([A-Za-z]+)")


def parse_yes_no_strict(text: str) -> PredictedLabel:
    """``defect`` when the reply's first word is ``Yes``, ``normal`` for ``No``, else ``invalid``.

    Example:
        >>> [parse_yes_no_strict(t) for t in ("Yes, there is an anomaly.", "No.", "Maybe yes")]
        ['defect', 'normal', 'invalid']
    """
    match = _LEADING_WORD.match(text)
    word = match.group(1) if match else ""
    return DEFECT if word == "Yes" else NORMAL if word == "No" else INVALID


#: AnomalyGPT's adapter declares these: the strict headline and the official lenient rule.
YES_NO_ANSWER_RULES = AnswerRules(STRICT_YES_NO_RULE, LENIENT_YES_NO_RULE, parse_yes_no_lenient)


def _word_start(text: str) -> int:
    """Character offset of the reply's first word (the strict rule reads it after whitespace)."""
    return len(text) - len(text.lstrip())


def yes_probabilities(
    tokenizer: Any, new_ids: Sequence[Sequence[int]], logits: Sequence[Any]
) -> list[float | None]:
    """P(Yes) against P(No) at each reply's verdict token, or None where there is no verdict.

    The verdict token is the generated token where the reply's first word begins, the word the
    strict rule (:func:`parse_yes_no_strict`) reads. The score is the softmax over two logits of
    that step: the first token of ``Yes`` and the first token of ``No``, each tokenized with
    the same leading whitespace (LLaMA's vocabulary holds ``▁Yes`` and ``▁No`` whole; a small
    vocabulary may split ``Yes`` as ``Ye`` + ``s``, and then the step decides between ``Ye`` and
    ``No``). No score when the strict rule reads no verdict (``invalid``), or when the generated
    token is not the first token of its word as the tokenizer spells it alone.

    Args:
        tokenizer: The LLM's tokenizer.
        new_ids: Generated token ids per row (no prompt).
        logits: ``generate``'s raw ``output.logits``: one ``(rows, vocabulary)`` tensor per step.

    Returns:
        One probability in [0, 1] or None per row.
    """
    import torch

    scores: list[float | None] = []
    for row, ids in enumerate(new_ids):
        ids = list(ids)
        whole = tokenizer.decode(ids, skip_special_tokens=True)
        word = {DEFECT: "Yes", NORMAL: "No"}.get(parse_yes_no_strict(whole.split("###")[0]))
        start = _word_start(whole)
        found = _token_holding(tokenizer, ids, start, whole)
        if word is None or found is None or found[0] >= len(logits):
            scores.append(None)
            continue
        index, lead = found
        first = {w: _first_token(tokenizer, lead + w) for w in ("Yes", "No")}
        yes, no = first["Yes"], first["No"]
        if ids[index] != first[word] or yes is None or no is None or yes == no:
            scores.append(None)
            continue
        step = logits[index][row].float()
        scores.append(float(torch.softmax(torch.stack([step[yes], step[no]]), dim=0)[0]))
    return scores


def _first_token(tokenizer: Any, text: str) -> int | None:
    ids = tokenizer(text, add_special_tokens=False).input_ids
    return int(ids[0]) if ids else None


def _token_holding(
    tokenizer: Any, ids: Sequence[int], offset: int, whole: str
) -> tuple[int, str] | None:
    """The token covering character ``offset`` of ``whole``, and that token's text before it.

    None when the token's text before ``offset`` is not whitespace (the word does not begin the
    token); also when the tokens decoded one by one do not add up to ``whole`` (a character split
    across tokens): then no position is reliable.
    """
    pieces = [tokenizer.decode([token_id], skip_special_tokens=True) for token_id in ids]
    if "".join(pieces) != whole:
        return None
    begin = 0
    for index, piece in enumerate(pieces):
        if offset < begin + len(piece):
            lead = piece[: offset - begin]
            return (index, lead) if not lead.strip() else None
        begin += len(piece)
    return None
