"""A learnable toy task and a format-only warm start, so that GRPO can be seen to learn on a CPU.

A random-weight model (the tiny Qwen2-VL of ``--tiny``) never writes ``<think>…</think>
<answer>…</answer>``, so both LR-IAD rewards are 0 and GRPO has nothing to learn from. This module
gives a *learning proof* two things:

- :func:`write_task_dataset`: a folder dataset (``<root>/tile/good`` and
  ``<root>/tile/dark_square``) whose defect is obvious: one dark square on a light, textured
  background. A model that looks at the image can get it right.
- :func:`warm_start_dir`: the tiny checkpoint after a short supervised fine-tuning that teaches
  the answer *format* only. The target letter is random and independent of the image (60 % A
  for every image, see :data:`WARM_LETTERS`), so the warm start answers at chance: whatever
  GRPO gains beyond balanced accuracy 0.5 it learned itself.

Variants of the warm start's think text:

- ``blind`` (default, the honest one): one fixed sentence, the same for every image.
- ``sighted``: the sentence names what is seen ("The tile has a hole." / "The tile looks
  clean."), the letter is still random. This leaks the image into the think text, so GRPO only
  has to tie the letter to a sentence the model already writes: easier, but part of the
  perception then comes from supervised labels, not from the rewards.

Paper: LR-IAD, arXiv 2504.19524, https://arxiv.org/abs/2504.19524

See Also:
    :func:`iadbench_methods.qwen2vl.tiny.tiny_model_dir`: the checkpoint this starts from.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from iadbench.contract.categories import MVTEC_CATEGORIES, VISA_CATEGORIES
from iadbench.contract.records import Sample

from ..qwen2vl.chat import category_chat_text, encode_chat

TASK_VERSION = "1"  # bump when make_image changes (and WARM_VERSION: it trains on them)
TASK_CATEGORY = "tile"  # an MVTec-AD name: the prompt reads "an image containing a tile"
DEFECT_FOLDER = "dark_square"
MARKER_NAME = "learning_task.json"

# Bump whenever anything below changes what the warm start learns (texts, steps, rates, images).
WARM_VERSION = "2"  # 2: tiny tokenizer v2 and the "lines" prompt (issue 19 item 9)
WARM_VARIANTS = ("blind", "sighted")
WARM_SEED = 0
WARM_STEPS = 240
# Letters of one class in one step (shuffled), so images per step = 2 * len: P(A) = 0.6 for every
# image. Not 50/50: at exactly 0.5 the greedy letter flips on numerical noise from image to image
# (measured: 100 % A on normal, 25 % A on defect images, balanced accuracy 0.125), so a greedy
# evaluation of the warm start would not read as chance. At 0.6 greedy answers A everywhere
# (balanced accuracy 0.5) while sampling at temperature 1 still mixes the letters.
WARM_LETTERS = "AAABB"
WARM_LR = 5e-3
WARM_RECIPE_NAME = "warm_start.json"
# Warm-start images are drawn from 4-number seed keys starting with this tag; dataset images use
# 3-number keys, so no dataset seed can ever reproduce a training image of the warm start.
_WARM_STREAM = 0x57A12
_CATEGORY_DRAW = 0xCA7  # 5th seed-key number of the per-image category draw (any_category)
# The categories of the demo's warm start (any_category): every built-in dataset's.
DEMO_CATEGORIES: tuple[str, ...] = tuple(sorted({*MVTEC_CATEGORIES, *VISA_CATEGORIES}))


def make_image(rng: np.random.Generator, *, defect: bool, size: int = 112) -> np.ndarray:
    """One task image: a light textured background, with one dark square when ``defect``.

    Brightness, tint, gradient and texture strength vary per image, so "normal" is a family of
    surfaces rather than one colour; the square (side 25–40 % of the image, anywhere inside it)
    stays far darker than any background.

    Args:
        rng: The random stream of this image.
        defect: Draw the dark square.
        size: Side in pixels (112 = 16 visual tokens on the tiny model, no resizing).

    Returns:
        A ``(size, size, 3)`` uint8 RGB array.

    Example:
        >>> image = make_image(np.random.default_rng(0), defect=True, size=64)
        >>> image.shape, image.dtype.name
        ((64, 64, 3), 'uint8')
    """
    base = rng.uniform(150, 215)
    coarse = rng.normal(0, 1, (8, 8)).astype(np.float32)
    # A blurred coarse grid: blotchy low-frequency texture, different on every image.
    texture = np.asarray(Image.fromarray(coarse).resize((size, size), Image.Resampling.BICUBIC))
    axis = np.linspace(-0.5, 0.5, size, dtype=np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    gradient = np.cos(angle) * axis[None, :] + np.sin(angle) * axis[:, None]
    gray = base + rng.uniform(4, 12) * texture + rng.uniform(0, 20) * gradient
    if defect:
        side = int(round(rng.uniform(0.25, 0.40) * size))
        top, left = rng.integers(0, size - side + 1, size=2)
        gray[top : top + side, left : left + side] = rng.uniform(25, 70)
    tint = rng.uniform(-8, 8, size=3)
    pixels = gray[:, :, None] + tint + rng.normal(0, rng.uniform(2, 6), (size, size, 3))
    image: np.ndarray = np.clip(np.rint(pixels), 0, 255).astype(np.uint8)
    return image


def write_task_dataset(
    root: Path, *, per_class: int, seed: int, size: int = 112, category: str = TASK_CATEGORY
) -> Path:
    """Write the task as a folder dataset, or keep it when ``root`` already holds exactly it.

    Layout: ``<root>/<category>/good/NNN.png`` and ``<root>/<category>/dark_square/NNN.png``,
    ``per_class`` images each, plus ``<root>/learning_task.json`` (the parameters; the folder
    reader ignores files at the root). Image ``i`` of a class comes from the seed key
    ``(seed, class, i)``: the same seed gives the same bytes, another seed other images.

    Args:
        root: The dataset root; written atomically (staging folder, rename).
        per_class: Images per class.
        seed: Seed of the images.
        size: Image side in pixels.
        category: Category folder name; an MVTec-AD/VisA name makes the prompt read naturally.

    Returns:
        ``root``.

    Raises:
        FileExistsError: ``root`` holds files but no marker: it is not ours to replace.

    Example:
        >>> root = write_task_dataset(Path("/tmp/learn"), per_class=8, seed=1)  # doctest: +SKIP
        >>> len(task_samples(root))  # doctest: +SKIP
        16
    """
    root = Path(root)
    params = dict(
        task_version=TASK_VERSION, per_class=per_class, seed=seed, size=size, category=category
    )
    if _holds_dataset(root, params):
        return root
    if root.exists() and any(root.iterdir()) and not (root / MARKER_NAME).is_file():
        raise FileExistsError(f"{root} holds files that write_task_dataset did not write")
    root.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{root.name}.", dir=root.parent))
    try:
        for class_index, folder in enumerate(("good", DEFECT_FOLDER)):
            directory = staging / category / folder
            directory.mkdir(parents=True)
            for i in range(per_class):
                rng = np.random.default_rng([seed, class_index, i])
                pixels = make_image(rng, defect=class_index == 1, size=size)
                Image.fromarray(pixels).save(directory / f"{i:03d}.png")
        (staging / MARKER_NAME).write_text(json.dumps(params, indent=2) + "\n", encoding="utf-8")
        if root.exists():  # an older dataset of ours (other parameters): replace it whole
            shutil.rmtree(root)
        os.rename(staging, root)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return root


def task_samples(root: Path, name: str = "learn") -> list[Sample]:
    """All samples of a task dataset, read by the folder reader as a user's dataset would be.

    Example:
        >>> [s.label for s in task_samples(Path("/tmp/learn"))][:1]  # doctest: +SKIP
        ['defect']
    """
    import iadbench

    return iadbench.load_samples(name, root)


def completion_text(variant: str, *, defect: bool, letter: str, category: str) -> str:
    """The warm start's target completion (without the ``<|im_end|>`` that ends it).

    Example:
        >>> completion_text("blind", defect=True, letter="B", category="tile")
        '<think>I analyze the tile.</think> <answer>B</answer>'
        >>> completion_text("sighted", defect=True, letter="B", category="tile")
        '<think>The tile has a hole.</think> <answer>B</answer>'
    """
    from iadbench.contract.categories import natural_name

    name = natural_name(category)
    if variant == "blind":
        think = f"I analyze the {name}."  # short with the tiny BPE: 5 tokens for "tile"
    elif variant == "sighted":
        think = f"The {name} has a hole." if defect else f"The {name} looks clean."
    else:
        raise ValueError(f"variant must be one of {', '.join(WARM_VARIANTS)}, got {variant!r}")
    return f"<think>{think}</think> <answer>{letter}</answer>"


def warm_start_dir(
    cache_dir: Path | None = None, *, variant: str = "blind", any_category: bool = False
) -> Path:
    """The warm-started tiny checkpoint of ``variant``, fine-tuned on first use, then reused.

    Starting from :func:`~iadbench_methods.qwen2vl.tiny.tiny_model_dir`, the whole model is
    fine-tuned (fp32, CPU, one thread, AdamW, seeded, a few seconds) on fresh task images shown
    with the paper's prompt, built exactly as the ``qwen2-vl`` adapter builds it; the loss covers
    the completion and its ``<|im_end|>`` only. Targets are :func:`completion_text` with a
    letter independent of the image (:data:`WARM_LETTERS`). The directory loads with
    ``from_pretrained`` and serves as ``--set model=DIR`` for ``qwen2-vl`` and ``lr-iad``;
    ``warm_start.json`` records the recipe.

    Args:
        cache_dir: The iadbench cache root; default
        :func:`iadbench.contract.settings.default_cache_dir`.
        variant: ``blind`` (fixed think sentence) or ``sighted`` (the sentence names the defect).
        any_category: Each training image's prompt names one of the MVTec-AD and VisA
            categories (:data:`DEMO_CATEGORIES`, drawn per image) instead of ``tile`` (the
            target stays the same tile sentence): the tiny model learns the format at every
            prompt length, so ``iadbench demo`` can use it on every category. The tile-only
            start stops before the letter on long names (VisA 45 % invalid, e.g. every
            pcb and chewinggum image); this one answers 91 % of VisA's and 95 % of MVTec-AD's
            demo images (scale 0.02) validly. The learning proof keeps the tile-only start.

    Returns:
        ``<cache_dir>/tiny-models/qwen2-vl-warm-<variant>[-any-category]-<WARM_VERSION>``.

    Example:
        >>> path = warm_start_dir()  # doctest: +SKIP
        >>> json.loads((path / "warm_start.json").read_text())["variant"]  # doctest: +SKIP
        'blind'
    """
    from ..qwen2vl.tiny import build_once, tiny_model_dir

    if variant not in WARM_VARIANTS:
        raise ValueError(f"variant must be one of {', '.join(WARM_VARIANTS)}, got {variant!r}")
    if cache_dir is None:
        from iadbench.contract.settings import default_cache_dir

        cache_dir = default_cache_dir()
    name = f"qwen2-vl-warm-{variant}{'-any-category' * any_category}-{WARM_VERSION}"
    target = Path(cache_dir) / "tiny-models" / name
    if target.is_dir():
        return target
    tiny = tiny_model_dir(cache_dir)
    categories = DEMO_CATEGORIES if any_category else (TASK_CATEGORY,)
    return build_once(target, lambda staging: _fine_tune(tiny, staging, variant, categories))


def _holds_dataset(root: Path, params: dict[str, Any]) -> bool:
    try:
        marker = json.loads((root / MARKER_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if marker != params:
        return False
    category = root / params["category"]
    folders = sorted(p.name for p in category.iterdir()) if category.is_dir() else []
    return folders == sorted(("good", DEFECT_FOLDER)) and all(
        len(list((category / folder).glob("*.png"))) == params["per_class"] for folder in folders
    )


def _fine_tune(
    tiny: Path, directory: Path, variant: str, categories: tuple[str, ...] = (TASK_CATEGORY,)
) -> None:
    """Fine-tune the tiny checkpoint on the format and save it with its recipe in ``directory``."""
    import torch
    from transformers import AutoModelForImageTextToText, AutoProcessor

    started = time.perf_counter()
    threads = torch.get_num_threads()
    # One thread: the tiny matrices gain nothing from a pool, and results stay bit-identical.
    # fork_rng: seeding must not disturb the caller's random stream.
    torch.set_num_threads(1)
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(WARM_SEED)
            processor = AutoProcessor.from_pretrained(tiny)
            model = AutoModelForImageTextToText.from_pretrained(
                tiny, dtype=torch.float32, attn_implementation="sdpa"
            )
            model.train()
            # The chat texts exactly as Qwen2VL.generate builds them (image placeholder + prompt).
            prompts = {category: category_chat_text(processor, category) for category in categories}
            optimizer = torch.optim.AdamW(model.parameters(), lr=WARM_LR, weight_decay=0.0)
            # Linear decay to 0: late steps move little, so the letter prior ends at the share
            # of WARM_LETTERS instead of wherever the last batch's letters pushed it.
            schedule = torch.optim.lr_scheduler.LambdaLR(
                optimizer, lambda step: 1.0 - step / WARM_STEPS
            )
            losses: list[float] = []
            for step in range(WARM_STEPS):
                batch = _training_batch(processor, prompts, variant, step)
                loss = model(**batch).loss
                loss.backward()
                optimizer.step()
                schedule.step()
                optimizer.zero_grad(set_to_none=True)
                losses.append(loss.item())
    finally:
        torch.set_num_threads(threads)
    model.eval()
    model.save_pretrained(directory)
    processor.save_pretrained(directory)
    recipe = {
        "variant": variant,
        "warm_version": WARM_VERSION,
        "base": tiny.name,
        "category": TASK_CATEGORY if categories == (TASK_CATEGORY,) else list(categories),
        "steps": WARM_STEPS,
        "batch_images": 2 * len(WARM_LETTERS),
        "learning_rate": WARM_LR,
        "schedule": "linear decay to 0",
        "optimizer": "AdamW (weight_decay 0)",
        "seed": WARM_SEED,
        "targets": {
            "normal": completion_text(variant, defect=False, letter="A|B", category=TASK_CATEGORY),
            "defect": completion_text(variant, defect=True, letter="A|B", category=TASK_CATEGORY),
            "letter": f"per class and step a shuffled {WARM_LETTERS!r}, independent of the image",
            "a_share": WARM_LETTERS.count("A") / len(WARM_LETTERS),
        },
        "final_loss": float(np.mean(losses[-10:])),
        "losses_every_10": losses[::10],
        "seconds": round(time.perf_counter() - started, 2),
    }
    (directory / WARM_RECIPE_NAME).write_text(json.dumps(recipe, indent=2) + "\n", "utf-8")


def _training_batch(
    processor: Any, prompts: dict[str, str], variant: str, step: int
) -> dict[str, Any]:
    """One step's inputs: fresh images, prompt ids from the processor, labels on completions.

    ``prompts`` maps each category to its chat text; with more than one, each image gets a
    category drawn from its own stream (the tile-only start draws nothing: its images and
    letters stay those of every earlier build).
    """
    import torch

    rng = np.random.default_rng([_WARM_STREAM, WARM_SEED, step])
    # Per class, the letters of WARM_LETTERS in a random order: the letter carries no
    # information about the image, and no batch pushes the prior away from 60/40.
    letters = [*rng.permutation(list(WARM_LETTERS)), *rng.permutation(list(WARM_LETTERS))]
    defects = [False] * len(WARM_LETTERS) + [True] * len(WARM_LETTERS)
    images = [_warm_image(step, i, defect) for i, defect in enumerate(defects)]
    names = sorted(prompts)
    if len(names) == 1:
        categories = names * len(images)
    else:
        draw = np.random.default_rng([_WARM_STREAM, WARM_SEED, step, _CATEGORY_DRAW])
        categories = [names[i] for i in draw.integers(0, len(names), size=len(images))]
    # Left-padded to one width; the rows are unpadded below and padded again on the right.
    encoded = encode_chat(processor, [prompts[c] for c in categories], images)
    tokenizer = processor.tokenizer
    rows: list[list[int]] = []
    labels: list[list[int]] = []
    kinds: list[list[int]] = []  # mm_token_type_ids: M-RoPE needs to know the image tokens
    for i, (defect, letter) in enumerate(zip(defects, letters, strict=True)):
        keep = encoded["attention_mask"][i].bool()
        prompt_ids = encoded["input_ids"][i][keep].tolist()
        kinds.append(encoded["mm_token_type_ids"][i][keep].tolist())
        # Tokenised apart from the prompt: the ids generation produces after "assistant\n".
        # The think sentence names the task's category whatever the prompt says: the tiny
        # model only has to learn one sentence, shown at every prompt length.
        target = completion_text(variant, defect=defect, letter=letter, category=TASK_CATEGORY)
        completion = tokenizer(target + tokenizer.eos_token, add_special_tokens=False)
        rows.append(prompt_ids + completion["input_ids"])
        labels.append([-100] * len(prompt_ids) + completion["input_ids"])
    width = max(len(row) for row in rows)
    pad = tokenizer.pad_token_id
    return {
        "input_ids": torch.tensor([r + [pad] * (width - len(r)) for r in rows]),
        "attention_mask": torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in rows]),
        "labels": torch.tensor([r + [-100] * (width - len(r)) for r in labels]),
        "mm_token_type_ids": torch.tensor([k + [0] * (width - len(k)) for k in kinds]),
        "pixel_values": encoded["pixel_values"],
        "image_grid_thw": encoded["image_grid_thw"],
    }


def _warm_image(step: int, index: int, defect: bool) -> Image.Image:
    rng = np.random.default_rng([_WARM_STREAM, WARM_SEED, step, index])
    return Image.fromarray(make_image(rng, defect=defect))
