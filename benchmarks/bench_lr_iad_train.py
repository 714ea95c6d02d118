"""Seconds per GRPO step: iadbench's LR-IAD training path versus a bare trl script (not a test).

The harness comparison (target ≤ 1.05×) runs iadbench with the work the bare script does too:
the same model, images, settings and rewards, with the focal ``p`` that needs no extra forward
(``focal_p=group``) and no held-out monitor; the difference is what iadbench adds around trl
(dataset transform, checks, TensorBoard, console lines, the stored adapter). Two more iadbench
rows price LR-IAD's own additions separately: the default ``focal_p=answer`` (one no-grad
forward per step for the policy's probability of the correct letter) and the held-out monitor
(seconds per evaluation of ``--monitor-images`` images; it runs every ``monitor_every`` steps).

    python benchmarks/bench_lr_iad_train.py                    # tiny Qwen2-VL on the CPU
    python benchmarks/bench_lr_iad_train.py --real-arch --device cuda --steps 6

``--real-arch`` builds the real Qwen2-VL-7B architecture from a config written here, with
random weights (GPU only; ~16 GB written to a temp dir once), with the tiny tokenizer.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

# Qwen2-VL-7B-Instruct's architecture (config.json of the hub release), random weights here.
REAL_TEXT = {
    "hidden_size": 3584, "intermediate_size": 18944, "num_hidden_layers": 28,
    "num_attention_heads": 28, "num_key_value_heads": 4, "vocab_size": 152064,
    "max_position_embeddings": 32768, "rms_norm_eps": 1e-6, "tie_word_embeddings": False,
    "rope_parameters": {"rope_type": "default", "rope_theta": 1e6, "mrope_section": [16, 24, 24]},
}  # fmt: skip
REAL_VISION = {
    "depth": 32, "embed_dim": 1280, "num_heads": 16, "mlp_ratio": 4, "hidden_size": 3584,
    "patch_size": 14, "spatial_merge_size": 2, "temporal_patch_size": 2,
}  # fmt: skip


class StepTimer:
    """A transformers callback recording the wall time at the end of every optimiser step."""

    def __init__(self) -> None:
        from transformers import TrainerCallback

        timer = self

        class _Callback(TrainerCallback):
            def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
                timer.stamps.append(time.perf_counter())

        self.stamps: list[float] = []
        self.callback = _Callback()


def build_real_arch(directory: Path) -> str:
    """Write the Qwen2-VL-7B architecture with random bf16 weights + the tiny processor."""
    import torch
    from transformers import AutoProcessor, GenerationConfig, Qwen2VLConfig
    from transformers import Qwen2VLForConditionalGeneration as Model

    from iadbench_methods.qwen2vl.tiny import tiny_model_dir

    if (directory / "config.json").is_file():
        return str(directory)
    processor = AutoProcessor.from_pretrained(tiny_model_dir())
    ids = {t: processor.tokenizer.convert_tokens_to_ids(t) for t in (
        "<|endoftext|>", "<|im_end|>", "<|image_pad|>", "<|video_pad|>", "<|vision_start|>",
        "<|vision_end|>")}  # fmt: skip
    config = Qwen2VLConfig(
        text_config={**REAL_TEXT, "bos_token_id": ids["<|endoftext|>"],
                     "eos_token_id": ids["<|im_end|>"], "pad_token_id": ids["<|endoftext|>"]},
        vision_config=REAL_VISION, image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"], vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"], tie_word_embeddings=False,
    )  # fmt: skip
    torch.manual_seed(0)
    torch.set_default_dtype(torch.bfloat16)  # build in bf16 directly: 16 GB, not 33
    with torch.device("cuda"):
        model = Model(config)
    torch.set_default_dtype(torch.float32)
    model.generation_config = GenerationConfig(
        eos_token_id=[ids["<|im_end|>"]], pad_token_id=ids["<|endoftext|>"]
    )
    model.save_pretrained(directory)
    processor.save_pretrained(directory)
    del model
    torch.cuda.empty_cache()
    return str(directory)


def enlarge(root: Path, size: tuple[int, int]) -> None:
    """Resize every synthetic image to ``size`` (the synthetic trees hold 64-pixel images)."""
    from PIL import Image

    for path in root.rglob("*.JPG"):
        with Image.open(path) as image:
            resized = image.convert("RGB").resize(size)
        resized.save(path, format="JPEG")


def iadbench_steps(
    plan: Any, samples: list, workdir: Path, device: str, changes: dict[str, Any]
) -> tuple[list[float], list[float]]:
    """The adapter's ``fit`` as ``iadbench train`` calls it: step stamps, monitor seconds."""
    from iadbench.contract.method import RunContext

    timer = StepTimer()
    options = dataclasses.replace(plan.options, **changes)
    context = RunContext(tiny=plan.spec.tiny, device=device, seed=plan.spec.seed, workdir=workdir)
    adapter = plan.adapter_cls(options, context=context)
    adapter.callbacks = [timer.callback]
    adapter.fit(samples)
    summary = json.loads((workdir / "training_summary.json").read_text(encoding="utf-8"))
    # A monitor evaluation inside a step would count as harness time: report it on its own.
    monitor = [entry["seconds"] for entry in summary.get("monitor", [])]
    return timer.stamps, monitor


def bare_trl_steps(model_source: str, options: Any, samples: list, out: Path, device: str,
                   precision: str, attention: str, seed: int) -> list[float]:  # fmt: skip
    """The same training written directly against trl, peft and transformers."""
    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from PIL import Image
    from transformers import AutoModelForImageTextToText, AutoProcessor
    from trl import GRPOConfig, GRPOTrainer

    from iadbench_methods.lr_iad.data import trained_subset
    from iadbench_methods.lr_iad.rewards import FocalReward, class_weights, format_reward
    from iadbench_methods.qwen2vl.prompt import build_messages

    samples, _ = trained_subset(  # the same images as LR-IAD's fit (stratified, held-out slice)
        samples, max_samples=options.max_train_samples, heldout=options.monitor_samples, seed=seed
    )
    weights = class_weights([s.label for s in samples])
    rows = {
        "sample_id": [s.id for s in samples],
        "category": [s.category for s in samples],
        "label": [s.label for s in samples],
        "class_weight": [weights[s.label] for s in samples],
        "path": [s.image_path for s in samples],
    }

    def transform(batch: dict) -> dict:
        images = [Image.open(p).convert("RGB") for p in batch["path"]]
        return {**batch, "prompt": [build_messages(c) for c in batch["category"]], "image": images}

    processor = AutoProcessor.from_pretrained(model_source, padding_side="left")
    size = dict(processor.image_processor.size)
    size.update(longest_edge=options.max_pixels)
    processor.image_processor.size = type(processor.image_processor.size)(**size)
    dtype = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]
    model = AutoModelForImageTextToText.from_pretrained(
        model_source, dtype=dtype, attn_implementation=attention,
        device_map=device if device.startswith("cuda") else None,
    )  # fmt: skip
    # transformers ≥ 5.2x calls it activation_checkpointing (the old name warns); older: gradient_.
    checkpointing = (
        {"activation_checkpointing": options.gradient_checkpointing, "gradient_checkpointing": None}
        if "activation_checkpointing" in {f.name for f in dataclasses.fields(GRPOConfig)}
        else {"gradient_checkpointing": options.gradient_checkpointing}
    )
    args = GRPOConfig(
        output_dir=str(out), use_cpu=device == "cpu", bf16=precision == "bf16",
        fp16=precision == "fp16", seed=seed,
        per_device_train_batch_size=options.per_device_train_batch_size,
        gradient_accumulation_steps=options.gradient_accumulation_steps,
        num_generations=options.num_generations, max_steps=options.max_steps,
        learning_rate=options.learning_rate, beta=options.beta, loss_type=options.loss_type,
        scale_rewards=options.scale_rewards, max_completion_length=options.max_completion_length,
        temperature=options.temperature, top_k=0, save_steps=options.save_steps,
        logging_steps=options.logging_steps, report_to="none", remove_unused_columns=False,
        **checkpointing,
    )  # fmt: skip
    timer = StepTimer()
    # The group hit rate: the focal p that needs no forward pass of its own.
    rewards = [format_reward, FocalReward(options.focal_alpha, options.focal_gamma, "group")]
    trainer = GRPOTrainer(
        model=model, reward_funcs=rewards, args=args,
        train_dataset=Dataset.from_dict(rows).with_transform(transform),
        processing_class=processor, callbacks=[timer.callback],
        peft_config=LoraConfig(r=options.lora_r, lora_alpha=options.lora_alpha,
                               lora_dropout=options.lora_dropout,
                               target_modules=options.target_modules(), task_type="CAUSAL_LM"),
    )  # fmt: skip
    trainer.train()
    trainer.save_model(str(out / "adapter"))
    return timer.stamps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", default=True, help="tiny model (default)")
    parser.add_argument("--real-arch", action="store_true", help="Qwen2-VL-7B shapes, GPU only")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--steps", type=int, default=12, help="GRPO steps per run")
    parser.add_argument("--warmup", type=int, default=2, help="steps not timed")
    parser.add_argument("--repeats", type=int, default=2, help="runs per side, interleaved")
    parser.add_argument("--completion", type=int, default=16, help="max_completion_length")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--monitor-images", type=int, default=64, help="held-out images")
    args = parser.parse_args()

    import torch

    from iadbench.contract.method import RunContext
    from iadbench.data import open_dataset
    from iadbench.data.synth import synthesize
    from iadbench.execution.planning import RunRequest, plan_run
    from iadbench.execution.registry import METHODS

    if args.real_arch and not args.device.startswith("cuda"):
        sys.exit("--real-arch needs --device cuda")
    if args.threads:
        torch.set_num_threads(args.threads)
    scratch = Path(tempfile.mkdtemp(prefix="bench-lr-iad-"))
    root = scratch / "visa"
    synthesize("visa", root, scale=0.02, seed=0)
    sets = {
        "max_steps": str(args.steps), "max_completion_length": str(args.completion),
        "max_train_samples": str(4 * args.steps), "num_generations": "4",
        "per_device_train_batch_size": "4", "gradient_accumulation_steps": "1",
    }  # fmt: skip
    if args.real_arch:
        sets["model"] = build_real_arch(scratch / "qwen2-vl-7b-random")
        enlarge(root, (896, 448))  # 401,408 pixels: the paper's budget, 512 visual tokens
    METHODS.get("lr-iad")  # fail early when the method is not installed
    samples = open_dataset("visa", root).samples("all")
    # What each iadbench row changes; "bare trl" is the script above.
    sides: dict[str, dict[str, Any] | None] = {
        "bare trl": None,
        "iadbench": {"focal_p": "group", "monitor_samples": 0},
        "+ answer p": {"focal_p": "answer", "monitor_samples": 0},
        "+ monitor": {
            "focal_p": "answer", "monitor_samples": args.monitor_images,
            "monitor_every": 10**6,  # at the start and the end only, outside timed steps
        },
    }  # fmt: skip
    timings: dict[str, list[float]] = {name: [] for name in sides}
    monitor_seconds: list[float] = []
    peaks: dict[str, float] = {}
    cuda = torch.cuda.is_available() and args.device.startswith("cuda")
    for repeat in range(args.repeats):
        request = RunRequest(
            method="lr-iad", train="visa", test="visa", tiny=not args.real_arch, options=sets,
            data_roots={"visa": str(root)}, device=args.device, cache_dir=scratch / f"c{repeat}",
            seed=repeat,
        )  # fmt: skip
        plan = plan_run(request)
        context = RunContext(tiny=plan.spec.tiny, device=args.device)
        adapter = plan.adapter_cls(plan.options, context=context)
        for name, changes in sides.items():
            gc.collect()  # the previous side's model and trainer
            if cuda:
                torch.cuda.empty_cache()
                torch.cuda.reset_peak_memory_stats()
            if changes is not None:
                workdir = scratch / f"w{repeat}-{len(timings[name])}-{name.strip('+ ')}"
                stamps, monitor = iadbench_steps(plan, samples, workdir, args.device, changes)
                monitor_seconds += monitor
            else:
                stamps = bare_trl_steps(
                    adapter.model_source, plan.options, samples, scratch / f"b{repeat}",
                    adapter.context.device, adapter.precision, adapter.attention, seed=repeat,
                )  # fmt: skip
            timed = stamps[args.warmup :]
            timings[name] += [b - a for a, b in zip(timed, timed[1:], strict=False)]
            if cuda:
                peaks[name] = max(peaks.get(name, 0.0), torch.cuda.max_memory_allocated() / 2**30)
    what = "Qwen2-VL-7B architecture, random weights" if args.real_arch else "tiny Qwen2-VL"
    print(f"GRPO seconds per step, {what}, device {args.device}, torch threads "
          f"{torch.get_num_threads()}, {args.steps} steps × {args.repeats} runs per side "
          f"(first {args.warmup} untimed), 4 completions of ≤ {args.completion} tokens "
          "per step")  # fmt: skip
    bare = statistics.median(timings["bare trl"])
    for name, values in timings.items():
        print(f"  {name:<11} median {statistics.median(values):.3f} s  "
              f"mean {statistics.mean(values):.3f} s  (n={len(values)})  "
              f"{statistics.median(values) / bare:.3f}× bare")  # fmt: skip
    ratio = statistics.median(timings["iadbench"]) / bare
    print(f"  harness ratio iadbench / bare trl: {ratio:.3f} (target ≤ 1.05)")
    if monitor_seconds:
        print(f"  monitor: {statistics.median(monitor_seconds):.2f} s per evaluation of "
              f"{args.monitor_images} held-out images (n={len(monitor_seconds)}); every "
              "monitor_every steps (default 50)")  # fmt: skip
    for name, peak in peaks.items():
        print(f"  peak GPU memory, {name}: {peak:.2f} GiB")


if __name__ == "__main__":
    main()
