"""Strict parsing of the model's answer, shared by evaluation and LR-IAD's training rewards.

The prompt (:mod:`iadbench_methods.qwen2vl.prompt`) asks for ``<think>...</think>
<answer>A or B</answer>`` with (A) defect and (B) normal. An answer counts only when the output
holds exactly one ``<answer>...</answer>`` block whose whole content is the letter A or B
(upper case), optionally in parentheses, optionally surrounded by whitespace. Anything else is
``invalid`` and scored as a wrong answer: no substring search, so ``<answer>A or B</answer>``,
``<answer>(B) normal</answer>`` or "the answer is A" never count as an answer.

Paper: LR-IAD, arXiv 2504.19524 (prompt and format reward), https://arxiv.org/abs/2504.19524

See Also:
    :mod:`iadbench_methods.qwen2vl.prompt`: the prompt that asks for this format.
"""

from __future__ import annotations

import re

from iadbench.contract.records import DEFECT, INVALID, NORMAL, AnswerRules, Label, PredictedLabel

LETTERS: dict[str, Label] = {"A": DEFECT, "B": NORMAL}

_OPEN_ANSWER, _CLOSE_ANSWER = "<answer>", "</answer>"
_FORMAT_TAGS = ("<think>", "</think>", _OPEN_ANSWER, _CLOSE_ANSWER)

# The content of the one answer block: a letter, bare or in parentheses, whitespace around.
_LETTER_RE = re.compile(r"\s*(?:\(\s*(?P<paren>[AB])\s*\)|(?P<bare>[AB]))\s*")
_ANSWER_BLOCK_RE = re.compile(r"<answer>(?P<content>.*?)</answer>", re.DOTALL)
# The whole output: think block, answer block, whitespace only between and around them.
_FORMAT_RE = re.compile(r"\s*<think>.*?</think>\s*<answer>.*?</answer>\s*", re.DOTALL)


def parse_answer(text: str) -> PredictedLabel:
    """The label an output commits to: ``"defect"`` (A), ``"normal"`` (B) or ``"invalid"``.

    Args:
        text: The model's generated text (special tokens already stripped).

    Returns:
        ``"defect"`` or ``"normal"`` when ``text`` holds exactly one answer block containing only
        the letter A or B (optional parentheses and whitespace); ``"invalid"`` otherwise.

    Example:
        >>> parse_answer("<think>a scratch</think> <answer>A</answer>")
        'defect'
        >>> parse_answer("<answer> (B) </answer>")
        'normal'
        >>> parse_answer("<answer>A or B</answer>"), parse_answer("<answer>(B) normal</answer>")
        ('invalid', 'invalid')
    """
    # Two blocks (or stray tags) are a hedge, not an answer: count the tags, not the matches.
    if text.count(_OPEN_ANSWER) != 1 or text.count(_CLOSE_ANSWER) != 1:
        return INVALID
    block = _ANSWER_BLOCK_RE.search(text)
    if block is None:  # the closing tag comes before the opening one
        return INVALID
    letter = _LETTER_RE.fullmatch(block.group("content"))
    if letter is None:
        return INVALID
    return LETTERS[letter.group("paren") or letter.group("bare")]


def answer_letter(text: str) -> tuple[int, str] | None:
    """Where the answered letter sits in ``text``: ``(character offset, "A" | "B")``, or None.

    None exactly when :func:`parse_answer` says ``invalid``; otherwise the offset of the letter
    it parsed. LR-IAD's training reads the policy's probability of the letter at this spot.

    Example:
        >>> answer_letter("<think>x</think> <answer> (B) </answer>")
        (27, 'B')
        >>> answer_letter("<answer>A or B</answer>") is None
        True
    """
    if parse_answer(text) == INVALID:
        return None
    block = _ANSWER_BLOCK_RE.search(text)
    assert block is not None  # parse_answer found it
    letter = _LETTER_RE.fullmatch(block.group("content"))
    assert letter is not None
    group = "paren" if letter.group("paren") else "bare"
    return block.start("content") + letter.start(group), letter.group(group)


def answer_span(text: str) -> tuple[int, int] | None:
    """The character span ``[start, end)`` of the one ``<answer>…</answer>`` block, or None.

    Example:
        >>> answer_span("<think>x</think> <answer>A</answer>")
        (17, 35)
    """
    if text.count(_OPEN_ANSWER) != 1 or text.count(_CLOSE_ANSWER) != 1:
        return None
    block = _ANSWER_BLOCK_RE.search(text)
    return None if block is None else (block.start(), block.end())


def follows_format(text: str) -> bool:
    r"""Whether the whole output is one think block followed by one answer block.

    Whitespace (newlines included) is allowed around and between the blocks and anywhere inside
    them. This checks structure only, as LR-IAD's format reward does; whether the answer holds a
    valid letter is :func:`parse_answer`'s question.

    Args:
        text: The model's generated text (special tokens already stripped).

    Returns:
        True when ``text`` is ``<think>...</think>`` then ``<answer>...</answer>``, each tag once.

    Example:
        >>> follows_format("<think>\nlooks clean\n</think>\n<answer>B</answer>")
        True
        >>> follows_format("<answer>B</answer>")
        False
        >>> follows_format("Sure! <think></think><answer>B</answer>")
        False
    """
    if any(text.count(tag) != 1 for tag in _FORMAT_TAGS):
        return False
    return _FORMAT_RE.fullmatch(text) is not None


# --- Lenient rules: reported beside the strict parser, never used for the headline or rewards.

#: Name of the strict rule above, as summaries and leaderboards print it.
STRICT_RULE = "strict:one-block-letter-only"
#: Name of :func:`parse_answer_lenient`'s rule.
LENIENT_ANSWER_RULE = "lenient:answer-block-letter"
#: Name of :func:`parse_yes_no_lenient`'s rule (AnomalyGPT's official evaluation).
LENIENT_YES_NO_RULE = "lenient:yes-in-reply"

# A standalone capital A or B: not part of a word ("Answer", "AB", "B2" do not count).
_STANDALONE_LETTER_RE = re.compile(r"(?<![0-9A-Za-z_])[AB](?![0-9A-Za-z_])")


def parse_answer_lenient(text: str) -> PredictedLabel:
    """The label under the lenient rule ``lenient:answer-block-letter``.

    Rule: take the *first* ``<answer>…</answer>`` block (first opening tag, the nearest closing
    tag after it; other blocks and stray tags are ignored); inside it, the *first* capital A or B
    that stands alone (no letter, digit or underscore right before or after it) decides: A is
    defect, B normal. No such block or no such letter: ``invalid``. A substring rule in the
    spirit of Visual-RFT's evaluation: a hedge such as ``A or B`` counts as its first letter, and
    ``(B) normal`` as B. Lower-case ``a``/``b`` never count (``a`` is an article).

    Args:
        text: The model's generated text.

    Returns:
        ``"defect"``, ``"normal"`` or ``"invalid"``.

    Example:
        >>> parse_answer_lenient("<answer>(B) normal</answer>")
        'normal'
        >>> parse_answer_lenient("<answer>A or B</answer><answer>B</answer>")
        'defect'
        >>> parse_answer_lenient("<answer>Answer: none</answer>"), parse_answer_lenient("A")
        ('invalid', 'invalid')
    """
    block = _ANSWER_BLOCK_RE.search(text)
    if block is None:
        return INVALID
    letter = _STANDALONE_LETTER_RE.search(block.group("content"))
    return INVALID if letter is None else LETTERS[letter.group()]


def parse_yes_no_lenient(text: str) -> PredictedLabel:
    """The label under ``lenient:yes-in-reply``, AnomalyGPT's official rule for Yes/No replies.

    Rule: ``"Yes" in text`` (case-sensitive substring anywhere in the reply) is defect, anything
    else normal; never ``invalid``.

    Example:
        >>> parse_yes_no_lenient("Yes, there is a crack."), parse_yes_no_lenient("No.")
        ('defect', 'normal')
    """
    return DEFECT if "Yes" in text else NORMAL


#: How the A/B methods (``qwen2-vl``, ``lr-iad``) are read: their adapters' ``answer_rules``.
AB_ANSWER_RULES = AnswerRules(STRICT_RULE, LENIENT_ANSWER_RULE, parse_answer_lenient)
