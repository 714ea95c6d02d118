"""Cost of the text methods' scores (issue 20 item 2): generate's own logits vs a second forward.

The ``qwen2-vl`` / ``lr-iad`` score is P(defect) at the answer letter, read from the logits
``generate`` returns (``output_logits=True``). This script measures, per image, on the tiny
Qwen2-VL (``methods/qwen2vl/tiny.py``) and the chosen device, three ways of answering a batch:

  * ``plain``: greedy generation alone (no score; what version 1 of the adapters did);
  * ``logits``: the same generation keeping the raw logits of every step, plus the letter lookup
    (:func:`iadbench_methods.qwen2vl.scores.defect_probabilities`) — what the adapters do now;
  * ``second forward``: plain generation, then one more forward pass over prompt + generated
    tokens to read the logits at the letter — the alternative the adapters do not take.

The generated tokens are forced to a fixed answer (``<think>…</think> <answer>A</answer>``,
``prefix_allowed_tokens_fn``) so that every row has a letter and all three do the same decoding
steps. Medians of ``--repeats`` runs, printed side by side with the overhead over ``plain``.
The tiny model's figures say what the bookkeeping costs; a real checkpoint's forward is far
larger, so the second forward's relative cost grows there while the logits' stays one
``(rows, vocabulary)`` tensor per step (152k floats per row per step for Qwen2-VL: about 0.6 MB
per step per image in fp32 on the device, for up to ``max_new_tokens`` steps).

Usage: python benchmarks/bench_text_scores.py [--images 16] [--batch 8] [--repeats 5]
       [--device cpu]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from PIL import Image

from iadbench_methods.qwen2vl.chat import category_chat_text, encode_chat, greedy_generate
from iadbench_methods.qwen2vl.loading import load_model_and_processor
from iadbench_methods.qwen2vl.scores import defect_probabilities
from iadbench_methods.qwen2vl.tiny import tiny_model_dir

ANSWER = "<think>the surface looks clean and even</think> <answer>A</answer>"


#: Keeping the logits may cost at most this multiple of plain generation (measured 0.95x).
MAX_LOGITS_OVERHEAD = 1.15


def forcing(forced: list[int]) -> Callable[[int, Any], list[int]]:
    """A ``prefix_allowed_tokens_fn`` that allows only the next token of ``forced``."""
    state: dict[str, int] = {}

    def allowed(_row: int, ids: Any) -> list[int]:
        n, start = ids.shape[-1], state.get("prompt", -1)
        if not 0 <= n - start < len(forced) or ids[start:].tolist() != forced[: n - start]:
            state["prompt"] = start = n
        return [forced[n - start]]

    return allowed


def second_forward(model: Any, encoded: Any, new_ids: Any) -> Any:
    """Logits of one forward pass over prompt + generated tokens (the alternative)."""
    ones = torch.ones_like(new_ids)
    full = {
        key: torch.cat([value, new_ids if key == "input_ids" else
                        ones if key == "attention_mask" else torch.zeros_like(new_ids)], dim=1)
        if torch.is_tensor(value) and value.shape[:2] == encoded["input_ids"].shape
        else value
        for key, value in encoded.items()
    }  # fmt: skip
    width = encoded["input_ids"].shape[1]
    logits = model(**full).logits
    # Step k's next-token logits sit at position width + k - 1.
    return [logits[:, width + k - 1] for k in range(new_ids.shape[1])]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=16)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    if args.device == "cpu":
        torch.set_num_threads(1)  # the tiny model's matrices are too small to split
    model, processor = load_model_and_processor(
        str(tiny_model_dir()), device=args.device, precision="fp32"
    )
    tokenizer = processor.tokenizer
    forced = tokenizer.encode(ANSWER, add_special_tokens=False)
    rng = np.random.default_rng(0)
    images = [
        Image.fromarray(rng.integers(0, 255, (112, 112, 3), dtype=np.uint8))
        for _ in range(args.images)
    ]
    text = category_chat_text(processor, "bottle")
    batches = [
        encode_chat(processor, [text] * len(chunk), chunk).to(model.device)
        for chunk in (images[i : i + args.batch] for i in range(0, len(images), args.batch))
    ]

    def generate(encoded: Any, logits: bool) -> tuple[Any, Any]:
        return greedy_generate(
            model, encoded, max_new_tokens=len(forced), output_logits=logits,
            prefix_allowed_tokens_fn=forcing(forced),
        )  # fmt: skip

    def plain() -> list[float | None]:
        for encoded in batches:
            generate(encoded, logits=False)
        return []

    def with_logits() -> list[float | None]:
        scores: list[float | None] = []
        for encoded in batches:
            new_ids, output = generate(encoded, logits=True)
            scores += defect_probabilities(tokenizer, new_ids.tolist(), output.logits)
        return scores

    def with_second_forward() -> list[float | None]:
        scores: list[float | None] = []
        for encoded in batches:
            new_ids, _ = generate(encoded, logits=False)
            steps = second_forward(model, encoded, new_ids)
            scores += defect_probabilities(tokenizer, new_ids.tolist(), steps)
        return scores

    ways = {"plain": plain, "logits": with_logits, "second forward": with_second_forward}
    seconds: dict[str, float] = {}
    results: dict[str, list[float | None]] = {}
    with torch.inference_mode():
        for name, way in ways.items():
            results[name] = way()  # warm-up (and the scores compared below)
            times = []
            for _ in range(args.repeats):
                start = time.perf_counter()
                way()
                times.append(time.perf_counter() - start)
            seconds[name] = statistics.median(times)
    agree = max(
        abs((a or 0.0) - (b or 0.0))
        for a, b in zip(results["logits"], results["second forward"], strict=True)
    )
    print(f"tiny Qwen2-VL on {args.device}: {args.images} images, batches of {args.batch}, "
          f"{len(forced)} generated tokens, medians of {args.repeats}")  # fmt: skip
    print(f"{'way':<16}{'ms / image':>12}{'overhead':>12}")
    base = seconds["plain"] / args.images
    for name, total in seconds.items():
        per_image = total / args.images
        overhead = "" if name == "plain" else f"{100 * (per_image / base - 1):+.1f} %"
        print(f"{name:<16}{1000 * per_image:>12.2f}{overhead:>12}")
    print(f"largest |score(logits) - score(second forward)|: {agree:.2e}")
    # The figures behind the adapters' choice (docs/metrics.md): keeping the logits costs
    # about nothing over plain generation (measured -4.6 %, noise), a second forward +37 %;
    # the two reading agree to 1e-5. A regression of either fails here, not silently.
    missed = []
    if seconds["logits"] > MAX_LOGITS_OVERHEAD * seconds["plain"]:
        missed.append(f"logits {seconds['logits'] / seconds['plain']:.2f}x plain generation "
                      f"> {MAX_LOGITS_OVERHEAD}x")  # fmt: skip
    if agree > 1e-5:
        missed.append(f"logits and second-forward scores differ by {agree:.2e} > 1e-5")
    if missed:
        raise SystemExit("target missed: " + "; ".join(missed))


if __name__ == "__main__":
    main()
