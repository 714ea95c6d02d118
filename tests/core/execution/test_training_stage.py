"""The runner owns reuse and locking of trained artefacts: ``fit`` only trains (issue 10)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from iadbench.execution.crash import MethodCrash
from iadbench.execution.planning import RunRequest, plan_run
from iadbench.execution.registry import METHODS
from iadbench.execution.runner import execute_run
from iadbench.execution.training_stage import TRAINED_MARKER

# fit and load append their name to calls.log in the training dir; fit can be made slow or fail.
_PLUGIN = textwrap.dedent(
    """
    import dataclasses, os, time
    import iadbench
    from iadbench.contract.options import option

    def _log(workdir, what):
        with open(workdir / "calls.log", "a") as handle:
            handle.write(what + "\\n")

    @dataclasses.dataclass(frozen=True)
    class Options:
        given: str = option("", replaces_training=True)

    @iadbench.register_method("{name}")
    class Counting(iadbench.MethodAdapter):
        capabilities = iadbench.Capabilities(needs_pixels=False, trains=True)
        Options = Options

        def fit(self, samples):
            _log(self.context.workdir, "fit")
            time.sleep(float(os.environ.get("FIT_SECONDS", "0")))
            if os.environ.get("FIT_FAILS"):
                raise RuntimeError("training crashed")
            (self.context.workdir / "model.txt").write_text(str(len(samples)))

        {load}

        def predict(self, batch):
            return [iadbench.Prediction("defect") for _ in batch]
    """
)
_LOAD = """def load(self):
            _log(self.context.workdir, "load")
            self.size = int((self.context.workdir / "model.txt").read_text())"""


def _plugin(tmp_path: Path, name: str, with_load: bool = True) -> Path:
    path = tmp_path / f"{name}.py"
    path.write_text(_PLUGIN.format(name=name, load=_LOAD if with_load else ""))
    return path


def _request(tmp_path: Path, roots: dict[str, str], method: str, out: str) -> RunRequest:
    return RunRequest(
        method=method, train="visa", test="mvtec", data_roots=roots, out=tmp_path / out,
        cache_dir=tmp_path / "cache", train_split="train",
    )  # fmt: skip


@pytest.fixture()
def roots(synth_mvtec: Path, synth_visa: Path) -> dict[str, str]:
    return {"mvtec": str(synth_mvtec), "visa": str(synth_visa)}


def _calls(tmp_path: Path, method: str) -> list[str]:
    (workdir,) = (tmp_path / "cache" / "trained" / method).iterdir()
    return (workdir / "calls.log").read_text().split()


def test_a_trained_configuration_is_fitted_once_then_loaded(tmp_path, roots):
    METHODS.load_plugin_file(_plugin(tmp_path, "counting"))
    execute_run(plan_run(_request(tmp_path, roots, "counting", "a")))
    execute_run(plan_run(_request(tmp_path, roots, "counting", "b")))
    assert _calls(tmp_path, "counting") == ["fit", "load"]
    (workdir,) = (tmp_path / "cache" / "trained" / "counting").iterdir()
    assert "-" not in workdir.name  # uncapped: the training hash alone, as before
    assert json.loads((workdir / TRAINED_MARKER).read_text())["finished"]


def test_a_training_that_failed_leaves_no_marker_and_is_trained_again(tmp_path, roots, monkeypatch):
    METHODS.load_plugin_file(_plugin(tmp_path, "crashing"))
    monkeypatch.setenv("FIT_FAILS", "1")
    # Issue 19: the method's exception arrives as a MethodCrash naming method and stage.
    with pytest.raises(MethodCrash, match="'crashing' crashed while training: RuntimeError") as e:
        execute_run(plan_run(_request(tmp_path, roots, "crashing", "a")))
    assert isinstance(e.value.__cause__, RuntimeError)
    monkeypatch.delenv("FIT_FAILS")
    execute_run(plan_run(_request(tmp_path, roots, "crashing", "a")))
    assert _calls(tmp_path, "crashing") == ["fit", "fit"]


def test_a_trainer_without_load_is_refused_when_resolved(tmp_path):
    from iadbench.execution.registry import RegistryError

    METHODS.load_plugin_file(_plugin(tmp_path, "no-load", with_load=False))
    with pytest.raises(RegistryError, match="trains=True but defines no load"):
        METHODS.get("no-load")


def test_an_option_that_replaces_the_training_skips_it_and_the_training_data(tmp_path, roots):
    METHODS.load_plugin_file(_plugin(tmp_path, "given-weights"))
    request = _request(tmp_path, roots, "given-weights", "r")
    request.options, request.train = {"given": "/weights"}, None
    plan = plan_run(request)  # no --train needed: nothing trains
    assert plan.spec.train is None and plan.data.train is None
    outcome = execute_run(plan)
    assert outcome.out.is_dir() and not (tmp_path / "cache" / "trained").exists()


def test_two_runs_of_one_training_configuration_at_once_train_once(tmp_path, roots):
    plugin = _plugin(tmp_path, "slow-fit")
    data = [arg for name, root in roots.items() for arg in ("--data", f"{name}={root}")]

    def start(out: str) -> subprocess.Popen[str]:
        command = [
            sys.executable, "-m", "iadbench", "run", "--method", "slow-fit", "--plugin",
            str(plugin), "--train", "visa", "--train-split", "train", "--test", "mvtec", *data,
            "--out", str(tmp_path / out), "--cache-dir", str(tmp_path / "cache"),
        ]  # fmt: skip
        env = {**__import__("os").environ, "FIT_SECONDS": "2"}
        return subprocess.Popen(command, env=env, text=True, stderr=subprocess.PIPE)

    first, second = start("a"), start("b")
    assert first.wait(timeout=120) == 0, first.stderr.read() if first.stderr else ""
    assert second.wait(timeout=120) == 0, second.stderr.read() if second.stderr else ""
    assert sorted(_calls(tmp_path, "slow-fit")) == ["fit", "load"]


def test_a_method_that_needs_masks_refuses_a_training_subset_without_any(tmp_path, roots):
    from iadbench.contract.errors import IADBenchError

    request = RunRequest(
        method="aprilgan", train="visa", test="mvtec", data_roots=roots, tiny=True,
        train_split="train", out=tmp_path / "r", cache_dir=tmp_path / "c",
    )  # fmt: skip
    with pytest.raises(IADBenchError, match="trains on defect masks.*--train-split test"):
        plan_run(request)


def test_capabilities_that_contradict_the_class_are_refused_when_resolved(tmp_path):
    from iadbench.execution.registry import RegistryError

    plugin = tmp_path / "contradicts.py"
    plugin.write_text(
        "import iadbench\n"
        "@iadbench.register_method('pixel-free-decoder')\n"
        "class PixelFree(iadbench.MethodAdapter):\n"
        "    capabilities = iadbench.Capabilities(needs_pixels=False)\n"
        "    def preprocessor(self):\n"
        "        return str\n"
        "    def predict(self, batch, inputs=None):\n"
        "        return []\n"
        "@iadbench.register_method('untrained-loader')\n"
        "class Loader(iadbench.MethodAdapter):\n"
        "    def load(self):\n"
        "        pass\n"
        "    def predict(self, batch, inputs=None):\n"
        "        return []\n"
    )
    METHODS.load_plugin_file(plugin)
    with pytest.raises(RegistryError, match="preprocessor.*needs_pixels=False"):
        METHODS.get("pixel-free-decoder")
    with pytest.raises(RegistryError, match="load.*trains=False"):
        METHODS.get("untrained-loader")


def test_a_gpu_method_on_the_cpu_at_real_size_warns(tmp_path, roots, caplog):
    plugin = tmp_path / "gpu.py"
    plugin.write_text(
        "import iadbench\n"
        "@iadbench.register_method('gpu-only')\n"
        "class GpuOnly(iadbench.MethodAdapter):\n"
        "    capabilities = iadbench.Capabilities(needs_pixels=False, prefers_gpu=True)\n"
        "    def predict(self, batch, inputs=None):\n"
        "        return [iadbench.Prediction('normal') for _ in batch]\n"
    )
    METHODS.load_plugin_file(plugin)
    request = _request(tmp_path, roots, "gpu-only", "r")
    request.device = "cpu"
    with caplog.at_level("WARNING"):
        execute_run(plan_run(request))
    assert "practical only on a GPU" in caplog.text
    caplog.clear()
    request.tiny, request.out = True, tmp_path / "tiny"
    with caplog.at_level("WARNING"):
        execute_run(plan_run(request))
    assert "practical only on a GPU" not in caplog.text


def test_the_adapter_gets_one_context_object_for_the_run(tmp_path, roots):
    plugin = tmp_path / "context.py"
    plugin.write_text(
        "import iadbench\n"
        "@iadbench.register_method('context-echo')\n"
        "class Echo(iadbench.MethodAdapter):\n"
        "    capabilities = iadbench.Capabilities(needs_pixels=False, trains=True)\n"
        "    def fit(self, samples):\n"
        "        (self.context.workdir / 'done').write_text('1')\n"
        "    def load(self):\n"
        "        pass\n"
        "    def predict(self, batch, inputs=None):\n"
        "        c = self.context\n"
        "        text = f'{c.tiny}|{c.device}|{c.seed}|{c.artifacts_dir}|{c.workdir}'\n"
        "        return [iadbench.Prediction('normal', text=text) for _ in batch]\n"
    )
    METHODS.load_plugin_file(plugin)
    request = _request(tmp_path, roots, "context-echo", "r")
    request.seed, request.device = 7, "cpu"
    plan = plan_run(request)
    outcome = execute_run(plan)
    first = json.loads((outcome.out / "predictions.jsonl").read_text().splitlines()[0])
    tiny, device, seed, artifacts, workdir = first["text"].split("|")
    assert (tiny, device, seed) == ("False", "cpu", "7")
    assert artifacts == str(outcome.out / "artifacts")
    assert workdir == str(plan.cache_dir / "trained" / "context-echo" / plan.spec.train_hash())
    assert (Path(workdir) / "done").exists()


def _unsplit_folder_dataset(synth_mvtec: Path, root: Path) -> Path:
    """A folder dataset without a split file: every image is a test image, Train is empty."""
    import shutil

    category = sorted(p for p in synth_mvtec.iterdir() if p.is_dir())[0]
    shutil.copytree(category / "test", root / category.name)
    return root


def test_training_on_an_empty_subset_is_refused_at_planning_by_train_run_and_the_api(
    tmp_path, synth_mvtec
):
    # fit([]) "trained", marked the dir TRAINED and stored NaN (issue 18 item 6).
    from typer.testing import CliRunner

    import iadbench
    from iadbench.cli import app

    plugin = _plugin(tmp_path, "counting")
    parts = _unsplit_folder_dataset(synth_mvtec, tmp_path / "parts")
    common = ["--method", "counting", "--plugin", str(plugin), "--train", "parts",
              "--train-split", "train", "--data", f"parts={parts}",
              "--cache-dir", str(tmp_path / "cache")]  # fmt: skip
    for command in (["train"], ["run", "--test", "parts", "--out", str(tmp_path / "r")]):
        result = CliRunner().invoke(app, [*command, *common])
        assert result.exit_code == 2, result.output
        assert "'train' subset of 'parts'" in result.output and "holds no images" in result.output
        assert "iadbench data split" in result.output and "Traceback" not in result.output
    with pytest.raises(iadbench.IADBenchError, match="holds no images"):
        iadbench.train("counting", "parts", data={"parts": parts}, train_split="train",
                       cache_dir=tmp_path / "cache")  # fmt: skip
    assert not (tmp_path / "cache").exists() and not (tmp_path / "r").exists()


# A method that needs both labels and caps its training set as LR-IAD does (issue 19 item 2).
_CAPPED = textwrap.dedent(
    """
    import dataclasses, json
    import iadbench
    from iadbench.contract.sampling import select_samples

    @dataclasses.dataclass(frozen=True)
    class Options:
        max_train_samples: int = 4

    @iadbench.register_method("capped")
    class Capped(iadbench.MethodAdapter):
        capabilities = iadbench.Capabilities(needs_pixels=False, trains=True,
                                             needs_both_labels=True)
        Options = Options

        @classmethod
        def training_subset(cls, samples, options, seed):
            return select_samples(samples, options.max_train_samples, seed)

        def fit(self, samples):
            used = self.training_subset(samples, self.options, self.context.seed)
            (self.context.workdir / "used.json").write_text(json.dumps([s.id for s in used]))

        def load(self):
            pass

        def predict(self, batch):
            return [iadbench.Prediction("defect") for _ in batch]
    """
)


def _capped_request(tmp_path: Path, roots: dict[str, str], cap: int, out: str) -> RunRequest:
    METHODS.load_plugin_file(_write(tmp_path / "capped.py", _CAPPED))
    return RunRequest(
        method="capped", train="visa", test="mvtec", data_roots=roots, out=tmp_path / out,
        cache_dir=tmp_path / "cache", train_split="all", options={"max_train_samples": cap},
    )  # fmt: skip


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_a_capped_training_holds_both_labels_and_its_record_says_so(tmp_path, roots):
    # Before: the cap drew from VisA's All subset at random (mostly normal images), and nothing
    # recorded what was trained on; now the subsample is stratified and recorded.
    execute_run(plan_run(_capped_request(tmp_path, roots, 4, "a")))
    (workdir,) = (tmp_path / "cache" / "trained" / "capped").iterdir()
    assert workdir.name.endswith("-stratified")  # never the dir of a training drawn at random
    record = json.loads((workdir / "training-data.json").read_text())
    trained = record["trained"]
    assert trained["images"] == 4 and trained["labels"]["defect"] >= 1
    assert trained["labels"]["normal"] >= 1 and record["n_samples"] > 4
    assert "stratified" in trained["rule"]
    used = json.loads((workdir / "used.json").read_text())
    plan = plan_run(_capped_request(tmp_path, roots, 4, "b"))  # the same seed: the same images
    assert [s.id for s in plan.data.trained or []] == used


def test_a_cap_that_leaves_one_label_is_refused_at_planning(tmp_path, roots):
    from iadbench.contract.errors import IADBenchError

    with pytest.raises(IADBenchError, match=r"it would train on 1, only (normal|defect)"):
        plan_run(_capped_request(tmp_path, roots, 1, "a"))
    assert not (tmp_path / "cache").exists() and not (tmp_path / "a").exists()


def test_a_capped_training_stored_before_the_subsample_was_recorded_is_not_reused(tmp_path, roots):
    from iadbench.contract.errors import RunConflictError

    execute_run(plan_run(_capped_request(tmp_path, roots, 4, "a")))
    (workdir,) = (tmp_path / "cache" / "trained" / "capped").iterdir()
    record_path = workdir / "training-data.json"
    record = json.loads(record_path.read_text())
    del record["trained"]  # as written before: it may hold normal images only
    record_path.write_text(json.dumps(record))
    with pytest.raises(RunConflictError, match="another subsample.*Delete that folder"):
        execute_run(plan_run(_capped_request(tmp_path, roots, 4, "b")))
