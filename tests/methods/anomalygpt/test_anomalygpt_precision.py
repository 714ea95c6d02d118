"""AnomalyGPT's inference precision: fp16 on a GPU as the official test, fp32 on the CPU."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("peft")
pytest.importorskip("open_clip")

from iadbench.contract.method import RunContext  # noqa: E402
from iadbench.data import open_dataset  # noqa: E402
from iadbench.execution.predict_loop import predict_samples  # noqa: E402
from iadbench_methods.anomalygpt.adapter import AnomalyGPT, AnomalyGPTOptions  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _adapter(precision: str, device: str = "cpu") -> AnomalyGPT:
    options = AnomalyGPTOptions(max_new_tokens=4, precision=precision)  # type: ignore[arg-type]
    return AnomalyGPT(options, context=RunContext(tiny=True, device=device))


def test_auto_is_fp16_on_a_gpu_and_fp32_on_the_cpu():
    assert _adapter("auto").inference_dtype() == "fp32"
    assert _adapter("auto", "cuda:1").inference_dtype() == "fp16"  # nothing is built here
    assert _adapter("bf16", "cuda").inference_dtype() == "bf16"


def test_bf16_casts_the_model_and_keeps_the_scores_close(synth_mvtec):
    samples = open_dataset("mvtec", synth_mvtec).samples("test")[:6]
    full, half = _adapter("fp32"), _adapter("bf16")
    reference = predict_samples(full, samples)
    cast = predict_samples(half, samples)
    assert next(half.model.parameters()).dtype == torch.bfloat16
    assert next(full.model.parameters()).dtype == torch.float32
    assert half.describe()["precision"] == "bf16"
    differences = [abs(a.score - b.score) for a, b in zip(reference, cast, strict=True)]
    assert 0 < max(differences) < 0.05, differences  # bf16 acts, and only a little
