"""Harness overhead of ``qwen2-vl`` inference: the full ``iadbench run`` path vs a bare loop.

Both paths run the same model object, the same images, batch size and generation settings:
  * harness: in-process ``plan_run`` / ``execute_run`` (DataLoader decoding, adapter, parsing,
    predictions.jsonl, summary.json), as ``iadbench run`` does it;
  * bare: a plain loop over the same batches: decode the images, processor, ``model.generate``,
    token decode; nothing else.
It prints images/s of each and their ratio  [target: harness ≥ 0.9× bare], plus the peak GPU
memory on CUDA. Model loading is excluded from both (the model is loaded once, warmed up, and
handed to the adapter).

Models: ``--tiny`` (default) is the tiny random-weight checkpoint of ``--tiny`` runs;
``--real-arch`` is Qwen2-VL-7B's architecture (config values below) with RANDOM weights in bf16 —
nothing can be downloaded, and a random model never stops early, so every image generates exactly
``--max-new-tokens`` tokens. Only sensible on a GPU. The tiny tokenizer is used with it (prompts of
~120 tokens instead of ~110 with Qwen's own), so the compute per image matches the real model's.

Usage: python benchmarks/bench_qwen2vl_eval.py [--tiny | --real-arch] [--device auto]
       [--batch-size 16] [--max-new-tokens 16] [--images 256] [--image-size 64]
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

# Qwen/Qwen2-VL-7B-Instruct's architecture (its config.json), written out: nothing is downloaded.
QWEN2_VL_7B_TEXT = {
    "hidden_size": 3584,
    "intermediate_size": 18944,
    "num_hidden_layers": 28,
    "num_attention_heads": 28,
    "num_key_value_heads": 4,
    "max_position_embeddings": 32768,
    "rms_norm_eps": 1e-6,
    "vocab_size": 152064,
    "rope_parameters": {"rope_type": "default", "rope_theta": 1e6, "mrope_section": [16, 24, 24]},
}
QWEN2_VL_7B_VISION = {
    "depth": 32,
    "embed_dim": 1280,
    "num_heads": 16,
    "mlp_ratio": 4,
    "hidden_size": 3584,
    "patch_size": 14,
    "spatial_merge_size": 2,
    "temporal_patch_size": 2,
}


def write_images(root: Path, count: int, size: int) -> None:
    """A folder dataset (``<root>/<cat>/good|bad/*.png``) of noise images, two categories."""
    rng = np.random.default_rng(0)
    for index in range(count):
        category = ("bottle", "metal_nut")[index % 2]
        folder = root / category / ("good" if index % 3 else "bad")
        folder.mkdir(parents=True, exist_ok=True)
        pixels = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / f"{index:05d}.png")


def build_model(args: argparse.Namespace, workdir: Path) -> tuple[Any, Any, Path]:
    """(model, processor, checkpoint dir holding config.json) for the chosen architecture."""
    import torch
    from transformers import AutoProcessor, Qwen2VLConfig, Qwen2VLForConditionalGeneration

    from iadbench.contract.devices import resolve_device, resolve_precision, torch_dtype
    from iadbench_methods.qwen2vl.loading import load_model_and_processor, resolve_attention
    from iadbench_methods.qwen2vl.tiny import tiny_model_dir

    device = resolve_device(args.device)
    precision = resolve_precision("auto", device)
    attention = resolve_attention("auto", device, precision)
    tiny_dir = tiny_model_dir(workdir / "cache")
    if args.tiny:
        model, processor = load_model_and_processor(str(tiny_dir), device=device, precision="auto")
        return model, processor, tiny_dir
    processor = AutoProcessor.from_pretrained(tiny_dir)
    tokenizer = processor.tokenizer
    config = Qwen2VLConfig(
        text_config={
            **QWEN2_VL_7B_TEXT,
            "bos_token_id": tokenizer.convert_tokens_to_ids("<|endoftext|>"),
            "eos_token_id": tokenizer.convert_tokens_to_ids("<|im_end|>"),
            "pad_token_id": tokenizer.convert_tokens_to_ids("<|endoftext|>"),
        },
        vision_config=QWEN2_VL_7B_VISION,
        image_token_id=tokenizer.convert_tokens_to_ids("<|image_pad|>"),
        video_token_id=tokenizer.convert_tokens_to_ids("<|video_pad|>"),
        vision_start_token_id=tokenizer.convert_tokens_to_ids("<|vision_start|>"),
        vision_end_token_id=tokenizer.convert_tokens_to_ids("<|vision_end|>"),
    )
    torch.manual_seed(0)
    with torch.device(device):  # random init straight on the GPU: no 16 GB host copy
        model = Qwen2VLForConditionalGeneration._from_config(
            config, dtype=torch_dtype(precision), attn_implementation=attention
        )
    model.generation_config.pad_token_id = config.text_config.pad_token_id
    model.generation_config.eos_token_id = config.text_config.eos_token_id
    model.eval()
    checkpoint = workdir / "real-arch"  # config + processor only: the weights stay in memory
    config.save_pretrained(checkpoint)
    processor.save_pretrained(checkpoint)
    processor.tokenizer.padding_side = "left"
    processor.image_processor.size = type(processor.image_processor.size)(
        **{**dict(processor.image_processor.size), "longest_edge": 401_408}
    )
    return model, processor, checkpoint


def bare_loop(model: Any, processor: Any, samples: list, args: argparse.Namespace) -> float:
    """Seconds for decode → processor → generate → token decode over the same batches."""
    import torch

    from iadbench.contract.images import load_rgb
    from iadbench_methods.qwen2vl.prompt import build_messages

    start = time.perf_counter()
    for first in range(0, len(samples), args.batch_size):
        batch = samples[first : first + args.batch_size]
        images = [load_rgb(s.image_path) for s in batch]
        texts = [
            processor.apply_chat_template(
                build_messages(s.category), add_generation_prompt=True, tokenize=False
            )
            for s in batch
        ]
        encoded = processor(text=texts, images=images, padding=True, return_tensors="pt")
        encoded = encoded.to(model.device)
        with torch.inference_mode():
            output = model.generate(**encoded, do_sample=False, max_new_tokens=args.max_new_tokens)
        processor.batch_decode(output[:, encoded["input_ids"].shape[1] :], skip_special_tokens=True)
    _synchronize(model)
    return time.perf_counter() - start


def harness_run(root: Path, out: Path, args: argparse.Namespace, checkpoint: Path) -> float:
    """Seconds of an in-process ``iadbench run`` over the same images (a fresh run dir)."""
    from iadbench.execution.planning import RunRequest, plan_run
    from iadbench.execution.runner import execute_run

    shutil.rmtree(out, ignore_errors=True)
    request = RunRequest(
        method="qwen2-vl", train="parts", test="parts", tiny=args.tiny,
        options={"max_new_tokens": str(args.max_new_tokens), "model": str(checkpoint)},
        data_roots={"parts": str(root)}, out=out, device=args.device,
        batch_size=args.batch_size,
    )  # fmt: skip
    start = time.perf_counter()
    outcome = execute_run(plan_run(request))
    elapsed = time.perf_counter() - start
    assert outcome.computed == outcome.summary["overall"]["n"]
    return elapsed


def _synchronize(model: Any) -> None:
    import torch

    if model.device.type == "cuda":
        torch.cuda.synchronize()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--tiny", action="store_true", default=True, help="tiny model (default)")
    which.add_argument("--real-arch", action="store_true", help="Qwen2-VL-7B shape, random")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-new-tokens", type=int, default=16)
    parser.add_argument("--images", type=int, default=256)
    parser.add_argument("--image-size", type=int, default=None, help="64 tiny, 640 real-arch")
    parser.add_argument("--repeats", type=int, default=2, help="best of N for each path")
    args = parser.parse_args()
    args.tiny = not args.real_arch
    if args.tiny and args.max_new_tokens > 16:
        print("--tiny caps max_new_tokens at 16 (the adapter does); using 16 for both paths")
        args.max_new_tokens = 16
    image_size = args.image_size or (64 if args.tiny else 640)

    import torch

    from iadbench.data import open_dataset
    from iadbench.execution.registry import METHODS
    from iadbench_methods.qwen2vl import Qwen2VL
    from iadbench_methods.qwen2vl import adapter as adapter_module

    workdir = Path(tempfile.mkdtemp(prefix="iadbench-bench-qwen2vl-"))
    os.environ["IADBENCH_CACHE_DIR"] = str(workdir / "cache")  # the tiny model lands here
    if args.tiny and not torch.cuda.is_available() and args.device in ("auto", "cpu"):
        # The adapter runs the tiny model single-threaded on the CPU; the bare loop must too.
        torch.set_num_threads(1)
    try:
        root = workdir / "parts"
        write_images(root, args.images, image_size)
        samples = open_dataset("parts", root).samples("all")
        model, processor, checkpoint = build_model(args, workdir)
        # The harness gets the very model the bare loop uses: loading is not measured.
        adapter_module.load_model_and_processor = lambda *a, **k: (model, processor)
        if "qwen2-vl" not in METHODS.names():  # before the entry point is installed
            METHODS.add("qwen2-vl", Qwen2VL, "benchmarks/bench_qwen2vl_eval.py")
        bare_loop(model, processor, samples[: args.batch_size], args)  # warm-up
        if model.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats()
        bare = min(bare_loop(model, processor, samples, args) for _ in range(args.repeats))
        harness = min(
            harness_run(root, workdir / f"run{i}", args, checkpoint) for i in range(args.repeats)
        )
        n = len(samples)
        kind = "tiny" if args.tiny else f"Qwen2-VL-7B architecture, random {model.dtype} weights"
        print(
            f"{kind} on {model.device}, {n} images of {image_size}² px, batch {args.batch_size}, "
            f"{args.max_new_tokens} new tokens max, attention {model.config._attn_implementation}"
        )
        print(f"bare generate loop: {n / bare:8.2f} images/s  ({bare:6.2f} s)")
        print(f"iadbench run:       {n / harness:8.2f} images/s  ({harness:6.2f} s)")
        print(f"harness / bare:     {bare / harness:8.3f}×  [target ≥ 0.9×]")
        if model.device.type == "cuda":
            peak = torch.cuda.max_memory_allocated() / 2**30
            print(f"peak GPU memory:    {peak:8.2f} GiB")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
