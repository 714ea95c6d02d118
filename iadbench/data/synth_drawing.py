"""Drawing of the synthetic images: a per-category base look, jittered normals, drawn defects.

Looks are array maths (objects on a plain background, or textures); defects are blobs and
scratches in a colour far from the local look, with a mask of class indices (:data:`BLOB`,
:data:`SCRATCH`) so VisA's class-index masks can be written as they are and MVTec's binarised.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

# What each category looks like: an object on a plain background, or a texture.
LOOKS: dict[str, str] = {
    "bottle": "ring", "cable": "pieces", "capsule": "bar", "carpet": "texture", "grid": "grid",
    "hazelnut": "disc", "leather": "texture", "metal_nut": "ring", "pill": "bar", "screw": "bar",
    "tile": "checker", "toothbrush": "bar", "transistor": "board", "wood": "stripes",
    "zipper": "stripes", "candle": "pieces", "capsules": "pieces", "cashew": "disc",
    "chewinggum": "bar", "fryum": "ring", "macaroni1": "pieces", "macaroni2": "pieces",
    "pcb1": "board", "pcb2": "board", "pcb3": "board", "pcb4": "board", "pipe_fryum": "bar",
}  # fmt: skip
# VisA masks hold class indices: blobs are class 1, scratches class 2 (binarised by readers).
BLOB, SCRATCH = 1, 2


def scaled_count(official: int, scale: float, min_per_group: int) -> int:
    """Images of one group at a scale: ``max(min_per_group, round(official * scale))``.

    Here, the leaf of the synthetic writers, so every writer (and synth.py) scales one way.
    """
    return max(min_per_group, round(official * scale))


def save_png(pixels: np.ndarray, path: Path) -> None:
    """An image or mask as PNG at compression level 1 (fast; the trees are throw-away)."""
    Image.fromarray(pixels).save(path, "PNG", compress_level=1)


class Painter:
    """Draws one category's images: a fixed base look, jittered per image, plus defects.

    Args:
        category: Category name; picks the look (:data:`LOOKS`, a texture when unknown).
        size: Side of the square images in pixels.
        grayscale: Draw grey images (still three equal channels).
        rng: The category's random stream; every image drawn advances it.
    """

    def __init__(self, category: str, size: int, grayscale: bool, rng: np.random.Generator) -> None:
        self.size = size
        self.grayscale = grayscale
        self.rng = rng
        base = base_look(LOOKS.get(category, "texture"), size, rng)
        self.base = base.mean(axis=2, keepdims=True).repeat(3, axis=2) if grayscale else base

    def normal(self) -> np.ndarray:
        """A normal image, ``(size, size, 3)`` uint8."""
        shift = self.rng.integers(-2, 3, size=2)
        image = np.roll(self.base, (int(shift[0]), int(shift[1])), axis=(0, 1))
        noise = self.rng.normal(self.rng.normal(0, 5), 4, size=(self.size, self.size, 1))
        return np.clip(image + noise, 0, 255).astype(np.uint8)

    def defect(self) -> tuple[np.ndarray, np.ndarray]:
        """A defective image and its mask of class indices (0 = no defect), both uint8."""
        image = self.normal()
        mask_image = Image.new("L", (self.size, self.size), 0)
        draw = ImageDraw.Draw(mask_image)
        s, rng = self.size, self.rng
        for _ in range(int(rng.integers(1, 3))):
            cx, cy = rng.uniform(0.25 * s, 0.75 * s, size=2)
            if rng.random() < 0.5:
                rx, ry = rng.uniform(0.05 * s, 0.14 * s, size=2) + 1
                draw.ellipse((cx - rx, cy - ry, cx + rx, cy + ry), fill=BLOB)
            else:
                angle, half = rng.uniform(0, np.pi), rng.uniform(0.15 * s, 0.3 * s)
                dx, dy = half * np.cos(angle), half * np.sin(angle)
                draw.line((cx - dx, cy - dy, cx + dx, cy + dy), fill=SCRATCH,
                          width=max(1, s // 32))  # fmt: skip
        mask = np.asarray(mask_image)
        # A colour far from the local look, so the defect is visible (and learnable).
        colour = 255.0 - image[mask > 0].mean(axis=0) + rng.normal(0, 20, size=3)
        if self.grayscale:
            colour[:] = colour.mean()
        image[mask > 0] = np.clip(colour, 0, 255).astype(np.uint8)
        return image, mask


def base_look(look: str, size: int, rng: np.random.Generator) -> np.ndarray:
    """A category's base image, ``(size, size, 3)`` float32, drawn with array maths."""
    y, x = (np.mgrid[0:size, 0:size].astype(np.float32) + 0.5) / size
    bg, fg = rng.uniform(20, 235, size=(2, 3)).astype(np.float32)
    fg = np.where(np.abs(fg - bg) < 60, 255 - bg, fg)  # keep the object distinguishable
    radius2 = (x - 0.5) ** 2 + (y - 0.5) ** 2
    angle = rng.uniform(0, np.pi)
    u = (x - 0.5) * np.cos(angle) + (y - 0.5) * np.sin(angle)
    v = (y - 0.5) * np.cos(angle) - (x - 0.5) * np.sin(angle)
    freq = float(rng.uniform(4, 9))
    if look == "disc":
        weight = (radius2 < rng.uniform(0.28, 0.38) ** 2) * (1.0 - 0.8 * radius2)
    elif look == "ring":
        outer = rng.uniform(0.3, 0.4)
        weight = ((radius2 < outer**2) & (radius2 > (outer * 0.45) ** 2)).astype(np.float32)
    elif look == "bar":
        weight = ((u / 0.4) ** 2 + (v / rng.uniform(0.08, 0.16)) ** 2 < 1) * (1.0 - np.abs(v))
    elif look == "pieces":
        weight = np.zeros_like(x)
        for cx, cy in rng.uniform(0.2, 0.8, size=(int(rng.integers(2, 6)), 2)):
            weight = np.maximum(weight, (x - cx) ** 2 + (y - cy) ** 2 < 0.012)
    elif look == "board":
        weight = ((np.abs(x - 0.5) < 0.4) & (np.abs(y - 0.5) < 0.4)) * 0.35
        for cx, cy in rng.uniform(0.2, 0.8, size=(int(rng.integers(3, 8)), 2)):
            weight = np.maximum(weight, (np.abs(x - cx) < 0.06) & (np.abs(y - cy) < 0.04))
    elif look == "stripes":
        weight = 0.5 + 0.5 * np.sin(2 * np.pi * freq * u + rng.uniform(0, 6.3))
    elif look == "grid":
        weight = (((x * freq) % 1 < 0.2) | ((y * freq) % 1 < 0.2)).astype(np.float32)
    elif look == "checker":
        weight = ((np.floor(u * freq) + np.floor(v * freq)) % 2) * 0.6 + 0.2
    else:  # "texture": a few random waves
        weight = np.zeros_like(x)
        for fx, fy, phase in rng.uniform((-16, -16, 0), (16, 16, 6.3), size=(4, 3)):
            weight += np.sin(2 * np.pi * (fx * x + fy * y) + phase)
        weight = 0.5 + weight / 8
    weight = np.asarray(weight, dtype=np.float32)[..., None]
    blended: np.ndarray = bg * (1 - weight) + fg * weight  # bg, fg: rows of an array (Any)
    return blended
