"""Write ``catalogue_data.json`` from the installed anomalib: ``python -m <this module>``.

Read from anomalib (``anomalib.models.image``): every image model's constructor arguments (the
typed ones ``--set`` can carry, with defaults and the docstring's ``Args:`` help), its summary,
the output side of its default pre-processor, its learning type, whether it is a memory-bank
model and the ``max_epochs`` its ``trainer_arguments`` fix. Written by hand below, each from a
survey that built every model offline (``docs/anomalib-zoo.md``): the ``--tiny`` overrides, the
assets a model needs that no offline build has, and the models left out. The output is
deterministic (sorted keys, fixed layout), so ``tests/methods/anomalib_zoo/test_catalogue.py``
can regenerate it and compare: a new anomalib or a hand edit fails there.

Importing this module imports nothing heavy; :func:`build_catalogue` imports anomalib.
"""

from __future__ import annotations

import enum
import inspect
import json
import re
import sys
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

DATA_FILE = Path(__file__).with_name("catalogue_data.json")

# Objects and callables a command line cannot carry (the bridge configures these itself).
OBJECT_ARGUMENTS = ("pre_processor", "post_processor", "evaluator", "visualizer")

_HF_CACHE = "the Hugging Face cache ($HF_HOME/hub, default ~/.cache/huggingface/hub)"
_TORCH_CACHE = "$TORCH_HOME/hub/checkpoints (default ~/.cache/torch/hub/checkpoints)"
_ANOMALIB_CACHE = "~/.cache/anomalib/pre_trained"

# Models left out of the zoo, with the reason (one sentence each).
EXCLUDED: dict[str, str] = {
    "CFM": "CFM maps RGB to point-cloud features and needs a depth or point-cloud input "
    "(MVTec 3D-AD), which iadbench's image datasets do not have.",
    "VlmAd": "VlmAd sends each image to a vision-language service (Ollama, the OpenAI API with "
    "a key, or a local LLaVA-NeXT) and parses its text answer: not a trainable image model; "
    "iadbench's own VLM methods cover this family.",
    "WinClip": "WinCLIP is already the iadbench method winclip (the same anomalib model, with "
    "class-name prompts per category); a second copy here would lose the prompts.",
}

# Per model: (tiny constructor overrides, tiny configure_pre_processor arguments). Checked by
# building each one offline and running a forward pass (the build test does it again).
_S64 = {"image_size": [64, 64]}
TINY: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "Cflow": (
        {
            "backbone": "resnet18",
            "pre_trained": False,
            "coupling_blocks": 2,
            "condition_vector": 16,
            # a batch of fibers per step: 64 px gives only 2 x 2 per image at layer4
            "fiber_batch_size": 4,
        },
        _S64,
    ),
    "Dfkde": ({"backbone": "resnet18", "pre_trained": False, "n_pca_components": 1}, _S64),
    "Dfm": ({"backbone": "resnet18", "pre_trained": False}, _S64),
    "Fastflow": ({"backbone": "resnet18", "pre_trained": False, "flow_steps": 2}, _S64),
    # input_dim = channels x pooled side²: resnet18 layer3 (256) at 64/16/2 = 2 → 1024.
    "Fre": (
        {"backbone": "resnet18", "pre_trained": False, "input_dim": 1024, "latent_dim": 16},
        _S64,
    ),
    "Ganomaly": ({"n_features": 16, "latent_vec_size": 16}, _S64),
    "GeneralAD": (
        {
            "backbone": "vit_tiny_patch16_224",
            "layers": [6],
            "hidden_dim": 32,
            "pre_trained": False,
            "epochs": 1,
        },
        _S64,
    ),
    # MH-PatchCore's pre-processor always center-crops 224 and refuses a smaller resize; layer3
    # alone and a small bank keep its three passes (PCA, covariance, bank) near 10 s, not 45.
    "MHPatchcore": (
        {
            "backbone": "resnet18",
            "pre_trained": False,
            "layers": ["layer3"],
            "memory_bank_size": 100,
            "local_coreset_size": 64,
            "num_neighbors": 3,
        },
        {"image_size": [224, 224]},
    ),
    "Padim": ({"backbone": "resnet18", "pre_trained": False, "n_features": 10}, _S64),
    "Patchcore": ({"backbone": "resnet18", "pre_trained": False}, _S64),
    "Patchflow": (
        {
            "backbone": "resnet18",
            "pre_trained": False,
            "flow_feature_dim": 32,
            "flow_hidden_dim": 32,
        },
        _S64,
    ),
    # RAD's pre-processor center-crops 448 by default: the crop must shrink with the resize.
    "Rad": (
        {"backbone": "vit_small_patch16_dinov3", "pre_trained": False},
        {"image_size": [64, 64], "center_crop_size": [64, 64]},
    ),
    "ReverseDistillation": ({"backbone": "resnet18", "pre_trained": False}, _S64),
}

# Models that cannot build and train offline, whatever the options: the asset and where it goes.
NEEDS: dict[str, str] = {
    "AnomalyDINO": "AnomalyDINO always loads pretrained DINOv2 weights (timm "
    f"vit_small_patch14_dinov2 by default) from the Hugging Face Hub into {_HF_CACHE}.",
    "AnomalyVFM": "AnomalyVFM downloads its RADIO backbone and trained head "
    f"(MaticFuc/anomalyvfm_radio) from the Hugging Face Hub into {_HF_CACHE} when built.",
    "Cfa": "CFA builds its backbone with torchvision's pretrained weights, downloaded into "
    f"{_TORCH_CACHE}.",
    "Csflow": "CS-Flow's feature extractor is torchvision's pretrained EfficientNet-B5, "
    f"downloaded into {_TORCH_CACHE}.",
    "Dinomaly": "Dinomaly always loads a pretrained DINOv2-reg encoder (timm "
    f"vit_base_patch14_reg4_dinov2 by default) from the Hugging Face Hub into {_HF_CACHE}.",
    "Draem": "DRAEM needs the DTD texture images (dtd-r1.0.1 from robots.ox.ac.uk), downloaded "
    "when the model is built unless --set dtd_dir names a folder that holds them "
    "(default ./datasets/dtd under the working directory).",
    "Dsr": "DSR loads its pretrained VQ model (vq_model_pretrained_128_4096.pckl, an anomalib "
    f"GitHub release) into {_ANOMALIB_CACHE}/dsr when training starts.",
    "EfficientAd": "EfficientAD loads its pretrained teacher (efficientad_pretrained_weights, an "
    f"anomalib GitHub release, into {_ANOMALIB_CACHE}) and the ImageNette penalty images "
    "(--set imagenet_dir, default ./datasets/imagenette) when training starts.",
    "FoundAD": "FoundAD always loads a pretrained DINOv2 encoder (timm "
    f"vit_base_patch14_dinov2.lvd142m by default) from the Hugging Face Hub into {_HF_CACHE}.",
    "Glass": "GLASS trains only with a pretrained backbone (with --set pre_trained=false anomalib "
    "2.7's configure_optimizers fails on the backbone's name), so it needs the timm weights of "
    f"--set backbone (wide_resnet50_2 by default) from the Hugging Face Hub in {_HF_CACHE}.",
    "InpFormer": "INP-Former always loads a pretrained DINOv2-reg encoder (timm "
    f"vit_base_patch14_reg4_dinov2 by default) from the Hugging Face Hub into {_HF_CACHE}.",
    "L2BT": "L2BT's teacher is a pretrained timm vit_base_patch14_reg4_dinov2, loaded from "
    f"the Hugging Face Hub into {_HF_CACHE}.",
    "Stfpm": "STFPM's teacher is always pretrained (timm weights of --set backbone, resnet18 "
    f"by default) from the Hugging Face Hub into {_HF_CACHE}.",
    "SuperADD": "SuperADD always loads a pretrained DINOv3 ViT (timm "
    f"vit_huge_plus_patch16_dinov3 by default) from the Hugging Face Hub into {_HF_CACHE}.",
    "Supersimplenet": "SuperSimpleNet's feature extractor is always pretrained (timm weights of "
    f"--set backbone, wide_resnet50_2.tv_in1k by default) from the Hugging Face Hub into "
    f"{_HF_CACHE}.",
    "Uflow": "U-Flow's feature extractors are always pretrained (timm CaiT models for mcait, "
    f"resnet18 or wide_resnet50_2 otherwise) from the Hugging Face Hub into {_HF_CACHE}.",
    "UniNet": "UniNet builds its two teachers with torchvision's pretrained weights of --set "
    f"teacher_backbone (wide_resnet50_2 by default), downloaded into {_TORCH_CACHE}.",
}

# Models whose forward pass gives an image score only (no anomaly map), seen in the survey.
NO_MAPS = frozenset({"Dfkde", "Ganomaly"})


def method_name(model_class: str) -> str:
    """``Patchcore`` → ``anomalib-patchcore`` (the zoo's naming)."""
    return "anomalib-" + model_class.lower()


def _type_text(annotation: Any) -> str:
    """An annotation as a plain string, whether anomalib wrote it as a string or a type."""
    if isinstance(annotation, str):
        text = annotation
    elif isinstance(annotation, type) and not getattr(annotation, "__args__", None):
        text = annotation.__name__
    else:
        text = str(annotation)
    text = re.sub(r"\b[\w.]+\.(\w+)", r"\1", text)  # collections.abc.Sequence → Sequence
    return text.replace("Sequence[", "list[").replace(" ", "")


def _enum_choices(annotation: Any) -> tuple[str, ...]:
    if typing.get_origin(annotation) is typing.Literal:
        return tuple(str(value) for value in typing.get_args(annotation))
    classes = annotation.__args__ if isinstance(annotation, types.UnionType) else (annotation,)
    for item in classes:
        if isinstance(item, type) and issubclass(item, enum.Enum):
            return tuple(str(member.value) for member in item)
    return ()


_SIMPLE = {
    "int",
    "float",
    "bool",
    "str",
    "list[int]",
    "list[float]",
    "list[str]",
    "tuple[int,int]",
}


def option_type(annotation: Any) -> tuple[str, tuple[str, ...]] | None:
    """The catalogue type and enum choices of a constructor annotation; None if ``--set`` can't.

    Paths and enums that also take their value as text become ``str``; ``Path | str | None``
    becomes ``str|None``; ``Sequence[str]`` becomes ``list[str]``.
    """
    choices = _enum_choices(annotation)
    parts = _type_text(annotation).split("|")
    optional = "None" in parts
    rest = [p for p in parts if p not in ("None", "Path")]
    if choices:
        rest = ["str"]
    elif rest and rest[0] == "dtype":  # RAD's bank_dtype: torch.dtype or its name
        rest = [p for p in rest if p != "dtype"]
    if len(rest) != 1 or rest[0] not in _SIMPLE:
        return None
    return rest[0] + ("|None" if optional else ""), choices


def _json_default(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (tuple, list)):
        return [_json_default(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


_ARG_LINE = re.compile(r"^(\s*)(\w+)\s*(\([^)]*\))?\s*:\s*(.*)$")


def docstring_args(*objects: Any) -> dict[str, str]:
    """``name → one line`` from the Google ``Args:`` sections of the objects' docstrings."""
    found: dict[str, str] = {}
    for obj in objects:
        text = inspect.getdoc(obj) or ""
        if "Args:" not in text:
            continue
        current, indent = "", -1
        for line in text.split("Args:", 1)[1].splitlines():
            if not line.strip():
                continue
            width = len(line) - len(line.lstrip())
            match = _ARG_LINE.match(line)
            if match and (indent < 0 or width == indent):
                indent, current = width, match.group(2)
                found.setdefault(current, "")
                if not found[current]:
                    found[current] = match.group(4).strip()
                else:
                    current = ""  # documented by an earlier object: keep that text
            elif width > indent >= 0 and current:
                found[current] = (found[current] + " " + line.strip()).strip()
            elif width < indent or (indent >= 0 and width == indent):
                break
    return {name: _one_line(text) for name, text in found.items()}


def _one_line(text: str) -> str:
    text = re.sub(r"\s+", " ", text.replace("``", "")).strip()
    if len(text) > 160 and ". " in text[:160]:
        text = text[: text.index(". ", 0, 160) + 1]  # the first sentence(s) that fit
    return text


class _Probe:
    """A stand-in ``self`` for reading constant properties (``learning_type``) off a class."""

    k_shot = 0

    def __getattr__(self, name: str) -> Any:
        raise AttributeError(name)


def _class_property(cls: type, name: str) -> Any:
    try:
        return getattr(cls, name).fget(_Probe())
    except (AttributeError, TypeError, ValueError):
        return None


def _output_side(cls: Any, **arguments: Any) -> int:
    """The side of what the class's ``configure_pre_processor(**arguments)`` makes of a picture."""
    import torch

    pre = cls.configure_pre_processor(**{k: tuple(v) for k, v in arguments.items()})
    shape = pre.transform(torch.zeros(1, 3, 300, 300)).shape
    if shape[-1] != shape[-2]:
        raise ValueError(f"{cls.__name__}'s pre-processor gives a non-square {tuple(shape)}")
    return int(shape[-1])


def model_record(cls: Any) -> dict[str, Any]:
    """The catalogue record of one anomalib image model class."""
    from anomalib.models.components import MemoryBankMixin

    name = cls.__name__
    helps = docstring_args(cls, cls.__init__)
    options, skipped = [], []
    for param in list(inspect.signature(cls.__init__).parameters.values())[1:]:
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        annotation = param.annotation
        if isinstance(annotation, str) and annotation.isidentifier():
            # A bare alias under `from __future__ import annotations` (GeneralAD's
            # FakeFeatureType, a Literal): read it from the model's module.
            annotation = vars(sys.modules[cls.__module__]).get(annotation, annotation)
        kind = None if param.name in OBJECT_ARGUMENTS else option_type(annotation)
        if kind is None:
            skipped.append(param.name)
            continue
        option: dict[str, Any] = {
            "name": param.name,
            "type": kind[0],
            "default": _json_default(param.default),
            "help": helps.get(param.name, ""),
        }
        if kind[1]:
            option["choices"] = list(kind[1])
        options.append(option)
    tiny, tiny_pre = TINY.get(name, ({}, {}))
    learning = _class_property(cls, "learning_type")
    trainer = _class_property(cls, "trainer_arguments") or {}
    doc = inspect.getdoc(cls) or ""
    return {
        "method": method_name(name),
        "model_class": name,
        "summary": _one_line(doc.split("\n\n", 1)[0]),
        "options": options,
        "skipped": skipped,
        "tiny": tiny,
        "tiny_pre_processor": tiny_pre,
        "needs": NEEDS.get(name),
        "image_size": _output_side(cls),
        "tiny_image_size": _output_side(cls, **tiny_pre),
        "learning_type": learning.value if isinstance(learning, enum.Enum) else "one_class",
        "memory_bank": issubclass(cls, MemoryBankMixin),
        "max_epochs": trainer.get("max_epochs"),
        "gives_maps": name not in NO_MAPS,
    }


def build_catalogue() -> dict[str, Any]:
    """The catalogue's data from the installed anomalib (imports it: 10-16 s).

    Raises:
        ValueError: anomalib's image models and this module's tables disagree (a model added or
            removed upstream, a tiny override that is no option, a model in two tables).
    """
    import anomalib
    import anomalib.models.image as image_models

    names = sorted(image_models.__all__)
    kept = [n for n in names if n not in EXCLUDED]
    unknown = sorted(set(TINY) ^ set(NEEDS) ^ set(kept))  # each kept model in exactly one
    stale = sorted((set(TINY) | set(NEEDS) | set(EXCLUDED)) - set(names))
    if unknown or stale or set(TINY) & set(NEEDS):
        raise ValueError(
            f"anomalib {anomalib.__version__}'s image models differ from the tables: "
            f"unclassified {unknown}, gone {stale}, in TINY and NEEDS "
            f"{sorted(set(TINY) & set(NEEDS))}; survey them and update generate_catalogue.py"
        )
    records = [model_record(getattr(image_models, n)) for n in kept]
    for record in records:
        known = {o["name"] for o in record["options"]}
        if not set(record["tiny"]) <= known:
            raise ValueError(f"{record['method']}: tiny sets {set(record['tiny']) - known}")
    return {
        "anomalib_version": anomalib.__version__,
        "excluded": EXCLUDED,
        "models": records,
    }


def render(data: Mapping[str, Any]) -> str:
    """The file text: sorted keys, one indent, a final newline (stable across runs)."""
    return json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write the catalogue (or, with ``--check``, exit 1 when the stored one differs)."""
    args = sys.argv[1:] if argv is None else argv
    text = render(build_catalogue())
    if "--check" in args:
        same = DATA_FILE.is_file() and DATA_FILE.read_text(encoding="utf-8") == text
        print(f"{DATA_FILE.name} is {'up to date' if same else 'stale: regenerate it'}")
        return 0 if same else 1
    DATA_FILE.write_text(text, encoding="utf-8")
    print(f"wrote {DATA_FILE} ({len(text)} characters)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
