"""AnomalyGPT's few-shot option: the official 1 − best-match map against reference normals."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("peft")
pytest.importorskip("open_clip")

from iadbench.contract.errors import IADBenchError  # noqa: E402
from iadbench.contract.method import RunContext  # noqa: E402
from iadbench.contract.records import Sample  # noqa: E402
from iadbench.execution.planning import RunRequest, plan_run  # noqa: E402
from iadbench.execution.runner import execute_run  # noqa: E402
from iadbench_methods.anomalygpt.adapter import AnomalyGPT, AnomalyGPTOptions  # noqa: E402
from iadbench_methods.anomalygpt.decoder import few_shot_map  # noqa: E402
from iadbench_methods.anomalygpt.tiny import build_tiny_model  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _tokens(seed: int, n: int = 1, patches: int = 16, width: int = 8) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return [torch.randn(n, patches, width, generator=generator) for _ in range(4)]


def test_a_query_made_of_reference_patches_scores_zero_and_a_new_patch_stands_out():
    normal = _tokens(0, n=2)
    same = [t[:1].clone() for t in normal]
    assert float(few_shot_map(same, normal, size=8).abs().max()) < 1e-5
    changed = [t.clone() for t in same]
    for block in changed:
        block[0, 5] = -block[0, 5]  # patch 5 = row 1, column 1 of the 4 x 4 grid
    amap = few_shot_map(changed, normal, size=4)[0, 0]
    assert amap.shape == (4, 4) and divmod(int(amap.argmax()), 4) == (1, 1)
    assert float(amap[1, 1]) > 0.1 and float(amap.flatten().sort().values[-2]) < 1e-5


def test_references_replace_the_text_map_and_thus_the_prompts():
    model = build_tiny_model(seed=0)
    images = torch.randn(2, 3, 56, 56, generator=torch.Generator().manual_seed(1))
    zero_shot = model.encode(images, ["bottle", "bottle"])
    references = model.patch_tokens(images[1:])  # image 1 is its own reference
    few = model.encode(images, ["bottle", "bottle"], references=[None, references])
    torch.testing.assert_close(few.anomaly_map[0], zero_shot.anomaly_map[0])
    assert float(few.anomaly_map[1].detach().abs().max()) < 1e-5  # every patch matches exactly
    assert not torch.allclose(few.anomaly_map[1], zero_shot.anomaly_map[1])
    assert not torch.allclose(few.prompts[1], zero_shot.prompts[1])


def _sample(i: int) -> Sample:
    return Sample(f"bottle/train/good/{i:03d}.png", "mvtec", "bottle", "train", "normal", "/x")


@pytest.mark.parametrize(
    ("dataset", "round_", "expected"),
    [("mvtec", None, [12, 13]), ("visa", None, [16, 17]), ("parts", None, [0, 1]),
     ("mvtec", 1, [4, 5])],
)  # fmt: skip
def test_references_are_chosen_as_the_official_scripts_do(dataset, round_, expected):
    pool = tuple(_sample(i) for i in range(20))
    adapter = AnomalyGPT(
        AnomalyGPTOptions(few_shot=2, few_shot_round=round_),
        context=RunContext(tiny=True, references={"bottle": pool}),
    )
    chosen = adapter.reference_samples("bottle", dataset)
    assert [pool.index(s) for s in chosen] == expected  # visa: 4 * 14 = 56, cyclic in 20


def _request(tmp_path, synth_mvtec, **changes) -> RunRequest:
    base = dict(method="anomalygpt", train="mvtec", train_split="train", test="mvtec",
                test_split="test", tiny=True, data_roots={"mvtec": str(synth_mvtec)},
                cache_dir=tmp_path / "cache", device="cpu")  # fmt: skip
    return RunRequest(**{**base, **changes})


def test_planning_gives_train_normals_outside_the_test_set_and_keys_them(tmp_path, synth_mvtec):
    few = _request(tmp_path, synth_mvtec, options={"few_shot": "1"})
    with pytest.raises(IADBenchError, match="--test-split test"):
        plan_run(_request(tmp_path, synth_mvtec, options={"few_shot": "1"}, test_split="all"))
    plan = plan_run(few)
    zero = plan_run(_request(tmp_path, synth_mvtec))
    assert plan.data.references and zero.data.references is None
    assert {s.subset for s in plan.data.references} == {"train"}
    assert {s.label for s in plan.data.references} == {"normal"}
    assert plan.spec.references_fingerprint and plan.config_hash != zero.config_hash
    assert "references_fingerprint" not in zero.spec.config()  # zero-shot hashes unchanged
    assert plan.spec.train_hash(("few_shot", "few_shot_round", "max_new_tokens")) == (
        zero.spec.train_hash(("few_shot", "few_shot_round", "max_new_tokens"))
    )


@pytest.mark.slow
def test_a_few_shot_run_scores_with_its_references(tmp_path, synth_mvtec):
    zero = execute_run(plan_run(_request(tmp_path, synth_mvtec, out=tmp_path / "zero")))
    few = execute_run(plan_run(_request(tmp_path, synth_mvtec, out=tmp_path / "few",
                                        options={"few_shot": "1"})))  # fmt: skip
    assert few.summary["overall"]["n"] == zero.summary["overall"]["n"]
    assert few.summary["overall"]["auroc"] != zero.summary["overall"]["auroc"]
