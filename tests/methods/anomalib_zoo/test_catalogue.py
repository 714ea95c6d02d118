"""The anomalib zoo catalogue: its data, its offline refusals, and every offline model built tiny.

The first tests read the catalogue only (no anomalib). The rest import anomalib once for the
module (10-16 s): the stored data must equal what the generator makes of the installed anomalib,
and every entry without ``needs`` must build offline with its ``--tiny`` overrides and give
finite scores and maps of the declared shape (``-k tiny_build`` runs that part alone).
"""

from __future__ import annotations

import inspect
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from iadbench_methods.anomalib_zoo.catalogue import (
    EXCLUDED,
    OPTION_TYPES,
    ZOO,
    ZooEntry,
    ZooOption,
    offline_problem,
    option_text,
    parse_option,
    zoo_entry,
)

REPO = Path(__file__).resolve().parents[3]
OFFLINE = [e for e in ZOO.values() if e.needs is None]
NEEDS_ASSETS = [e for e in ZOO.values() if e.needs is not None]


def test_importing_the_catalogue_imports_neither_anomalib_nor_torch() -> None:
    code = (
        "import sys, iadbench_methods.anomalib_zoo.catalogue as c; "
        "assert c.ZOO; print(sorted(m for m in ('anomalib', 'torch', 'timm') if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO
    )
    assert done.stdout.strip() == "[]"


def test_entries_are_named_after_their_class_and_sorted() -> None:
    assert list(ZOO) == sorted(ZOO)
    for method, entry in ZOO.items():
        assert method == entry.method == "anomalib-" + entry.model_class.lower()
        assert entry.summary and "\n" not in entry.summary
    assert zoo_entry("anomalib-patchcore").model_class == "Patchcore"
    with pytest.raises(KeyError, match="anomalib-nope"):
        zoo_entry("anomalib-nope")
    assert not {e.model_class for e in ZOO.values()} & set(EXCLUDED)


def test_the_classical_detectors_build_offline() -> None:
    assert {"anomalib-patchcore", "anomalib-padim"} <= {e.method for e in OFFLINE}
    assert zoo_entry("anomalib-efficientad").needs is not None


def test_every_tiny_override_is_an_option_and_reads_back_from_its_set_text() -> None:
    for entry in ZOO.values():
        assert set(entry.tiny) <= {o.name for o in entry.options}, entry.method
        for name, value in entry.tiny.items():
            option = entry.option(name)
            assert parse_option(option, option_text(option, value)) == value, (entry.method, name)
        if entry.needs is None:
            assert entry.tiny_image_size <= entry.image_size


def test_options_have_a_known_type_a_default_of_that_type_and_help() -> None:
    for entry in ZOO.values():
        for option in entry.options:
            assert option.type in OPTION_TYPES, (entry.method, option)
            if option.default is not None:  # the default reads back from its own --set text
                assert parse_option(option, option_text(option, option.default)) == option.default
        assert not {o.name for o in entry.options} & set(entry.skipped)
    patchcore = zoo_entry("anomalib-patchcore")
    assert patchcore.option("backbone") == ZooOption(
        "backbone", "str", "wide_resnet50_2", patchcore.option("backbone").help
    )
    assert "backbone" in patchcore.option("backbone").help.lower()
    assert {"pre_processor", "evaluator"} <= set(patchcore.skipped)


@pytest.mark.parametrize(
    ("type_", "text", "value"),
    [
        ("int", "3", 3),
        ("float", "0.5", 0.5),
        ("bool", "off", False),
        ("str|None", "none", None),
        ("int|None", "", None),
        ("list[str]", "layer2, layer3", ("layer2", "layer3")),
        ("list[int]|None", "3,6", (3, 6)),
        ("tuple[int,int]", "64,64", (64, 64)),
    ],
)
def test_parse_option_reads_each_type(type_: str, text: str, value: Any) -> None:
    assert parse_option(ZooOption("x", type_, None, ""), text) == value


@pytest.mark.parametrize(
    ("option", "text", "msg"),
    [
        (ZooOption("n", "int", 1, ""), "1.5", "expects int"),
        (ZooOption("r", "float", 1.0, ""), "nan", "finite"),
        (ZooOption("b", "bool", True, ""), "maybe", "true/false"),
        (ZooOption("s", "tuple[int,int]", [1, 1], ""), "1,2,3", "two integers"),
        (ZooOption("m", "str", "add", "", ("add", "multiply")), "sum", "one of add, multiply"),
        (ZooOption("n", "int", 1, ""), "none", "expects int"),
    ],
)
def test_parse_option_refuses_what_does_not_fit(option: ZooOption, text: str, msg: str) -> None:
    with pytest.raises(ValueError, match=msg):
        parse_option(option, text)


def test_models_that_need_assets_are_refused_offline_with_their_sentence() -> None:
    assert NEEDS_ASSETS
    for entry in NEEDS_ASSETS:
        assert entry.needs is not None
        problem = offline_problem(entry, {"HF_HUB_OFFLINE": "1"})
        assert problem is not None
        assert entry.method in problem and entry.needs in problem
        assert problem.endswith(".") and problem.count(". ") == 0 and "\n" not in problem
        assert offline_problem(entry, {}) is None  # online, anomalib downloads it on first use
    for entry in OFFLINE:
        assert offline_problem(entry, {"HF_HUB_OFFLINE": "1"}) is None


def test_the_zoo_page_lists_every_model_and_every_exclusion() -> None:
    page = (REPO / "docs" / "anomalib-zoo.md").read_text(encoding="utf-8")
    for entry in ZOO.values():
        assert f"`{entry.method}`" in page, entry.method
    for name in EXCLUDED:
        assert name in page


# --- With anomalib (one import for the module) ---------------------------------------------


@pytest.fixture(scope="module")
def anomalib_models() -> Any:
    pytest.importorskip("anomalib")
    import anomalib.models.image as image_models

    return image_models


def test_stored_catalogue_equals_the_generators_output(anomalib_models: Any) -> None:
    from iadbench_methods.anomalib_zoo import generate_catalogue

    stored = generate_catalogue.DATA_FILE.read_text(encoding="utf-8")
    assert stored == generate_catalogue.render(generate_catalogue.build_catalogue()), (
        "catalogue_data.json is stale or hand-edited: run "
        "python -m iadbench_methods.anomalib_zoo.generate_catalogue"
    )


def test_the_generator_refuses_a_model_missing_from_its_tables(
    anomalib_models: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from iadbench_methods.anomalib_zoo import generate_catalogue

    monkeypatch.delitem(generate_catalogue.TINY, "Patchcore")  # as if anomalib added a model
    with pytest.raises(ValueError, match=r"unclassified \['Patchcore'\]"):
        generate_catalogue.build_catalogue()
    monkeypatch.setitem(generate_catalogue.TINY, "Patchcore", ({"no_such_argument": 1}, {}))
    with pytest.raises(ValueError, match="no_such_argument"):
        generate_catalogue.build_catalogue()


def test_tiny_overrides_name_real_constructor_arguments(anomalib_models: Any) -> None:
    for entry in ZOO.values():
        cls = getattr(anomalib_models, entry.model_class)
        parameters = inspect.signature(cls.__init__).parameters
        assert set(entry.tiny) | {o.name for o in entry.options} <= set(parameters)
        assert set(entry.tiny_pre_processor) <= set(
            inspect.signature(cls.configure_pre_processor).parameters
        ), entry.method


@pytest.fixture(scope="module")
def no_network() -> Any:
    """Any connection fails: a tiny build that would download something fails loudly."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise OSError("the tiny build test may not use the network")

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HF_HUB_OFFLINE", "1")
        patch.setattr(socket.socket, "connect", refuse)
        yield


def build_tiny(image_models: Any, entry: ZooEntry) -> Any:
    """The model as ``--tiny`` builds it, fitted when it is a memory-bank model."""
    import torch
    from anomalib.data import ImageBatch

    cls = getattr(image_models, entry.model_class)
    pre = {k: tuple(v) for k, v in entry.tiny_pre_processor.items()}
    model = cls(pre_processor=cls.configure_pre_processor(**pre), **dict(entry.tiny))
    if entry.memory_bank:  # what Engine.fit does for them: training steps, then fit() per epoch
        side = entry.tiny_image_size
        normals = model.pre_processor.transform(torch.rand(4, 3, side, side))
        model.train()
        for _ in range(entry.max_epochs or 1):
            with torch.no_grad():
                model.training_step(ImageBatch(image=normals, gt_label=torch.zeros(4).bool()))
            model.fit()
    else:  # its optimisers build offline too (GLASS's fail with pre_trained=False: it needs assets)
        assert model.configure_optimizers() is not None
    return model.eval()


@pytest.mark.slow
@pytest.mark.usefixtures("no_network", "one_torch_thread")
@pytest.mark.parametrize("method", [e.method for e in OFFLINE])
def test_tiny_build_and_forward_offline(anomalib_models: Any, method: str) -> None:
    import torch

    entry = zoo_entry(method)
    torch.manual_seed(0)
    model = build_tiny(anomalib_models, entry)
    side = entry.tiny_image_size
    with torch.no_grad():
        out = model(torch.rand(2, 3, side, side))
    scores = out.pred_score.reshape(-1)
    assert scores.shape == (2,) and bool(torch.isfinite(scores).all())
    if entry.gives_maps:
        assert tuple(out.anomaly_map.shape) in {(2, 1, side, side), (2, side, side)}
        assert bool(torch.isfinite(out.anomaly_map).all())
    else:
        assert out.anomaly_map is None
