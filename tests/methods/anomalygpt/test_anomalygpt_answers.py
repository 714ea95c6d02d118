"""AnomalyGPT's replies: strict verdicts, and the official lenient rule beside them."""

from __future__ import annotations

import pytest

from iadbench_methods.anomalygpt.answers import YES_NO_ANSWER_RULES, parse_yes_no_strict


@pytest.mark.parametrize(
    ("reply", "strict", "lenient"),
    [
        ("Yes, there is an anomaly in the image, at the top of the image.", "defect", "defect"),
        ("No, there is no anomaly in the image.", "normal", "normal"),
        ("  No.", "normal", "normal"),
        ("There is no anomaly. Yes, really.", "invalid", "defect"),  # lenient: 'Yes' anywhere
        ("", "invalid", "normal"),  # lenient: silence counts as normal
        ("yes", "invalid", "normal"),  # case-sensitive, as the official rule
        ("Yesterday it was fine", "invalid", "defect"),
    ],
)
def test_strict_and_lenient_rules_disagree_where_the_reply_gives_no_verdict(reply, strict, lenient):
    assert parse_yes_no_strict(reply) == strict
    assert YES_NO_ANSWER_RULES.parse_lenient(reply) == lenient
    assert YES_NO_ANSWER_RULES.strict == "strict:leading-yes-no"
    assert YES_NO_ANSWER_RULES.lenient == "lenient:yes-in-reply"
