"""The anomalygpt adapter's contract pieces that need no model run."""

from __future__ import annotations

import pytest

from iadbench.contract.errors import IADBenchError
from iadbench.contract.method import RunContext, contract_problems
from iadbench.contract.options import inference_only_names, tiny_values
from iadbench_methods.anomalygpt import AnomalyGPT, AnomalyGPTOptions


def test_real_size_names_the_weights_it_needs():
    with pytest.raises(IADBenchError, match="imagebind=PATH .* vicuna=DIR .* pandagpt=PATH"):
        AnomalyGPT(AnomalyGPTOptions(), context=RunContext(device="cpu"))


def test_missing_weight_files_are_named_before_anything_is_built():
    adapter = AnomalyGPT(
        AnomalyGPTOptions(imagebind="/w/ib.pth", vicuna="/w/v", pandagpt="/w/p.pt"),
        context=RunContext(device="cpu"),
    )
    with pytest.raises(IADBenchError, match="weights path /w/ib.pth does not exist"):
        _ = adapter.model


def test_declarations_match_the_class_and_tiny_is_a_short_schedule():
    assert contract_problems(AnomalyGPT) == []
    assert tiny_values(AnomalyGPTOptions) == {
        "epochs": "1", "batch_size": "2", "max_train_samples": "4", "max_new_tokens": "8"
    }  # fmt: skip
    assert inference_only_names(AnomalyGPTOptions) == {
        "max_new_tokens",
        "few_shot",
        "few_shot_round",
        "precision",
        "class_names",  # the text features' class name at test time (training uses the folder)
        "score",  # map maximum or P(Yes) at the verdict (issue 20): read at test time only
    }
    assert AnomalyGPT.answer_rules is not None
    assert AnomalyGPT.answer_rules.lenient == "lenient:yes-in-reply"
