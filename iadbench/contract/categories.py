"""Category folder names and the natural names that prompts use; the one place that maps them."""

from __future__ import annotations

MVTEC_CATEGORIES: tuple[str, ...] = (
    "bottle", "cable", "capsule", "carpet", "grid", "hazelnut", "leather", "metal_nut", "pill",
    "screw", "tile", "toothbrush", "transistor", "wood", "zipper",
)  # fmt: skip

VISA_CATEGORIES: tuple[str, ...] = (
    "candle", "capsules", "cashew", "chewinggum", "fryum", "macaroni1", "macaroni2", "pcb1",
    "pcb2", "pcb3", "pcb4", "pipe_fryum",
)  # fmt: skip

# Only names that a plain "replace underscores with spaces" would get wrong are listed.
_NATURAL_NAMES: dict[str, str] = {
    # BTAD's products are anonymised (01, 02, 03); the authors do not name them.
    "01": "industrial product",
    "02": "industrial product",
    "03": "industrial product",
    # MPDD: colour first, as a prompt says it.
    "bracket_black": "black metal bracket",
    "bracket_brown": "brown metal bracket",
    "bracket_white": "white metal bracket",
    "audiojack": "audio jack",  # Real-IAD (this and the other Real-IAD names below)
    "chewinggum": "chewing gum",
    "macaroni1": "macaroni",
    "macaroni2": "macaroni",
    "pcb1": "printed circuit board",
    "pcb2": "printed circuit board",
    "pcb3": "printed circuit board",
    "pcb4": "printed circuit board",
    # KolektorSDD2's one category (iadbench's name for the whole release): the authors describe
    # images of surfaces with defects; what the product is was not confirmed here.
    "ksdd2": "product surface",
    "tubes": "metal tube",
    "pushpins": "push pins",  # MVTec LOCO
    "wallplugs": "wall plugs",  # MVTec AD 2
    "pcb": "printed circuit board",
    "sim_card_set": "SIM card set",
    "terminalblock": "terminal block",
    "transistor1": "transistor",
    "u_block": "U-shaped block",
    "usb": "USB connector",
    "usb_adaptor": "USB adaptor",
    "vcpill": "pill",  # the release names no expansion of "vc"
    "woodstick": "wooden stick",
}


def natural_name(category: str) -> str:
    """The name a prompt uses for a category folder.

    Example:
        >>> natural_name("metal_nut"), natural_name("pcb3"), natural_name("pipe_fryum")
        ('metal nut', 'printed circuit board', 'pipe fryum')
    """
    return _NATURAL_NAMES.get(category, category.replace("_", " "))
