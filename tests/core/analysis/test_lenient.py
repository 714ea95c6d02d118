"""Lenient answer parsing (issue 8 item 6): the rules, and the summary's lenient block."""

from __future__ import annotations

import pytest

from iadbench.analysis.metrics import (
    F1_3CLASS,
    LENIENT_KEYS,
    SUMMARY_KEYS,
    summarize,
)
from iadbench.runs.reader import Outcome
from iadbench_methods.qwen2vl.answers import (
    AB_ANSWER_RULES,
    LENIENT_ANSWER_RULE,
    STRICT_RULE,
    parse_answer,
    parse_answer_lenient,
    parse_yes_no_lenient,
)


@pytest.mark.parametrize(
    ("text", "strict", "lenient"),
    [
        ("<think>x</think><answer>A</answer>", "defect", "defect"),
        ("<answer> (B) </answer>", "normal", "normal"),
        ("<answer>(B) normal</answer>", "invalid", "normal"),
        ("<answer>A or B</answer>", "invalid", "defect"),  # a hedge counts as its first letter
        ("<answer>B</answer> <answer>A</answer>", "invalid", "normal"),  # first block only
        ("<answer>The answer is: A.</answer>", "invalid", "defect"),
        ("<answer>Answer: none</answer>", "invalid", "invalid"),  # A inside a word
        ("<answer>a</answer>", "invalid", "invalid"),  # lower case never counts
        ("The answer is A", "invalid", "invalid"),  # no answer block
        ("<answer>A", "invalid", "invalid"),  # no closing tag
    ],
)
def test_lenient_rule_reads_the_first_standalone_letter_of_the_first_block(
    text: str, strict: str, lenient: str
) -> None:
    assert parse_answer(text) == strict  # the strict parser is unchanged
    assert parse_answer_lenient(text) == lenient


def test_yes_no_rule_is_anomalygpts_substring_test() -> None:
    assert parse_yes_no_lenient("Yes, there is an anomaly.") == "defect"
    assert parse_yes_no_lenient("No. Yes-men aside") == "defect"  # a substring, as in AnomalyGPT
    assert parse_yes_no_lenient("yes") == "normal"  # case-sensitive
    assert parse_yes_no_lenient("") == "normal"  # never invalid


def test_the_text_methods_declare_their_answer_rules() -> None:
    # The rules come from the adapter, not from the method's name: a plugin declares its own.
    from iadbench.execution.registry import METHODS

    for name in ("qwen2-vl", "lr-iad"):
        rules = METHODS.get(name).answer_rules
        assert rules is AB_ANSWER_RULES
        assert (rules.strict, rules.lenient) == (STRICT_RULE, LENIENT_ANSWER_RULE)
    assert METHODS.get("always-defect").answer_rules is None


def records() -> list[Outcome]:
    return [
        Outcome("a/1", "a", "defect", "defect", text="<answer>A</answer>"),
        Outcome("a/2", "a", "defect", "invalid", text="<answer>(A) defect</answer>"),
        Outcome("a/3", "a", "normal", "invalid", text="<answer>A or B</answer>"),
        Outcome("b/1", "b", "normal", "normal", text="<answer>B</answer>"),
        Outcome("b/2", "b", "normal", "invalid", text="no answer at all"),
        Outcome("b/3", "b", "defect", "invalid", error="unreadable image"),
    ]


def test_summary_of_a_text_method_has_a_lenient_block() -> None:
    summary = summarize(records(), AB_ANSWER_RULES)
    lenient = summary["lenient"]
    assert (lenient["rule"], lenient["strict_rule"]) == (LENIENT_ANSWER_RULE, STRICT_RULE)
    overall = lenient["overall"]
    assert set(overall) == set(LENIENT_KEYS)
    assert overall["n"] == 6
    assert overall["strict_accepted_rate"] == pytest.approx(2 / 6)
    assert overall["accepted_rate"] == pytest.approx(4 / 6)  # the error stays invalid
    assert overall["changed"] == 2
    # Lenient labels: defect, defect, defect (wrong), normal, invalid, invalid.
    assert overall["accuracy"] == pytest.approx(3 / 6)
    assert summary["overall"]["accuracy"] == pytest.approx(2 / 6)  # headline: strict
    assert lenient["per_class"]["a"]["accuracy"] == pytest.approx(2 / 3)
    assert lenient["class_mean"]["accuracy"] == pytest.approx((2 / 3 + 1 / 3) / 2)
    assert lenient["class_mean"]["categories"] == 2


def test_text_method_summary_adds_keys_without_renaming_pinned_ones() -> None:
    plain, text = summarize(records()), summarize(records(), AB_ANSWER_RULES)
    assert "lenient" not in plain and F1_3CLASS not in plain["overall"]
    for group in ("overall", "class_mean"):
        assert set(SUMMARY_KEYS) <= set(text[group])
        assert {k: text[group][k] for k in plain[group]} == plain[group]
        assert text[group][F1_3CLASS] == pytest.approx(2 / 3 * text[group]["f1_macro"])
    assert text["per_class"]["a"][F1_3CLASS] == pytest.approx(
        2 / 3 * text["per_class"]["a"]["f1_macro"]
    )
