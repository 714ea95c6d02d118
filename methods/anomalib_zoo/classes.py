"""The method class of each catalogue entry: :func:`zoo_adapter` (``models.py`` calls it).

The class's ``Options`` is a frozen dataclass of the entry's constructor arguments (sequences as
their ``--set`` text) and the bridge's own options; its capabilities follow the entry
(``gives_maps``; a zero-shot entry neither trains nor is one-class). Imports neither torch nor
anomalib.
"""

from __future__ import annotations

from dataclasses import make_dataclass
from typing import Any

from iadbench.contract.method import Capabilities, MethodAdapter
from iadbench.contract.options import option

from .adapter import BRIDGE_VERSION, AnomalibModel, anomalib_version
from .catalogue import SEQUENCE_TYPES, ZooEntry
from .catalogue import option_text as zoo_text

_TYPES: dict[str, Any] = {
    "int": int, "float": float, "bool": bool, "str": str,
    "int|None": int | None, "float|None": float | None, "str|None": str | None,
}  # fmt: skip


def zoo_adapter(entry: ZooEntry) -> type[AnomalibModel]:
    """The method class of one catalogue entry: options from its constructor, plus the bridge's.

    Raises:
        ValueError: An option type the catalogue may not use, or an option named like one of
            the bridge's (a catalogue error, caught by the tests).
    """
    fields: list[tuple[str, Any, Any]] = []
    for zoo_option in entry.options:
        sequence = zoo_option.type.removesuffix("|None") in SEQUENCE_TYPES
        if not sequence and zoo_option.type not in _TYPES:
            raise ValueError(f"{entry.method}: option {zoo_option.name} has type {zoo_option.type}")
        tiny = entry.tiny.get(zoo_option.name, _NO_TINY)
        # A sequence travels as its --set text (comma-separated), parsed for the constructor.
        default = zoo_text(zoo_option, zoo_option.default) if sequence else zoo_option.default
        tiny_text = None if tiny is _NO_TINY else zoo_text(zoo_option, tiny)
        fields.append((
            zoo_option.name,
            str if sequence else _TYPES[zoo_option.type],
            option(default, help=zoo_option.help, tiny=tiny_text),
        ))  # fmt: skip
    bridge = _bridge_fields(entry)
    if clash := {name for name, _, _ in fields} & {name for name, _, _ in bridge}:
        raise ValueError(f"{entry.method}: options {sorted(clash)} clash with the bridge's")
    class_name = entry.model_class
    zero_shot = entry.learning_type == "zero_shot"
    capabilities = Capabilities(
        trains=not zero_shot, one_class=not zero_shot, gives_scores=True,
        gives_maps=entry.gives_maps, needs_pixels=True,
    )  # fmt: skip
    options_cls = make_dataclass("Options", fields + bridge, frozen=True)
    # Pickle finds it as ``models.<Class>.Options`` (``module=`` needs Python 3.12).
    options_cls.__module__ = f"{__package__}.models"
    options_cls.__qualname__ = f"{class_name}.Options"
    options_cls.__doc__ = f"Options of {entry.method}: anomalib's constructor, then the bridge's."
    namespace = {
        "__doc__": entry.summary,
        "__module__": f"{__package__}.models",
        "__qualname__": class_name,
        "zoo": entry,
        "capabilities": capabilities,
        "Options": options_cls,
        "version": f"{BRIDGE_VERSION}+anomalib-{anomalib_version()}",
    }
    if zero_shot:  # nothing to fit or reload: the contract refuses a load() without training
        namespace.update(fit=MethodAdapter.fit, load=MethodAdapter.load)
    return type(class_name, (AnomalibModel,), namespace)


_NO_TINY = object()
#: Epochs of an optimiser model's fit unless ``--set max_epochs`` says otherwise (anomalib's
#: example configs mostly train for tens to hundreds of epochs: a middle value, unconfirmed).
DEFAULT_EPOCHS = 100


def _bridge_fields(entry: ZooEntry) -> list[tuple[str, Any, Any]]:
    epochs: list[tuple[str, Any, Any]] = []
    if entry.max_epochs is None and not entry.memory_bank and entry.learning_type != "zero_shot":
        # An optimiser model fixes no epoch count (its trainer_arguments leave it to the
        # caller; Lightning's own default is 1000): the bridge's option, 1 under --tiny.
        epochs = [("max_epochs", int, option(
            DEFAULT_EPOCHS, tiny="1", help="Epochs of the Engine's fit (an optimiser model).",
        ))]  # fmt: skip
    return epochs + [
        ("shots", int, option(
            0, replaces_training=True,
            help="Few-shot: K normal references per category (the test dataset's Train) "
            "replace the training; 0 trains on the training subset.",
        )),
        ("calibration_share", float, option(
            0.2, help="Share of each category's normals held out of fit to calibrate scores "
            "(at least 2 images).",
        )),
        ("image_side", int, option(
            entry.image_size, tiny=str(entry.tiny_image_size),
            help="Side in pixels every image is resized to (the model's input).",
        )),
        ("train_batch_size", int, option(16, help="Images per batch of the Engine's fit.")),
    ]  # fmt: skip
