"""One chat encoder and one greedy generate (``qwen2vl/chat.py``) for every Qwen2-VL caller.

The adapter, LR-IAD's monitor, its trainer and the learning task's warm start used to build the
chat text, encode and generate each in their own words; the shared functions must give exactly
what those calls gave (token for token, logit for logit).
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
trl_data_utils = pytest.importorskip("trl.data_utils")

from iadbench_methods.qwen2vl.chat import (  # noqa: E402
    category_chat_text,
    chat_text,
    encode_chat,
    greedy_generate,
)
from iadbench_methods.qwen2vl.loading import load_model_and_processor  # noqa: E402
from iadbench_methods.qwen2vl.prompt import build_messages  # noqa: E402
from iadbench_methods.qwen2vl.tiny import tiny_model_dir  # noqa: E402

CATEGORIES = ["bottle", "metal_nut", "pcb1"]


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory):
    tiny = tiny_model_dir(tmp_path_factory.mktemp("iadbench-cache"))
    return load_model_and_processor(str(tiny), device="cpu", precision="auto")


@pytest.fixture(scope="module")
def images() -> list[Image.Image]:
    rng = np.random.default_rng(0)
    shapes = [(56, 84), (84, 84), (112, 56)]  # different sizes: the prompts need padding
    return [Image.fromarray(rng.integers(0, 255, (*s, 3), dtype=np.uint8)) for s in shapes]


def _same(a, b) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_chat_text_is_the_processors_and_trls(loaded):
    _, processor = loaded
    for category in CATEGORIES:
        messages = build_messages(category)
        direct = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        by_trl = trl_data_utils.apply_chat_template({"prompt": messages}, processor)["prompt"]
        assert category_chat_text(processor, category) == chat_text(processor, messages)
        assert chat_text(processor, messages) == direct == by_trl


def test_encoding_and_greedy_generation_match_the_direct_calls(loaded, images):
    model, processor = loaded
    texts = [category_chat_text(processor, c) for c in CATEGORIES]
    direct = processor(text=texts, images=images, padding=True, return_tensors="pt")
    encoded = encode_chat(processor, texts, images)
    assert _same(direct, encoded)
    nested = processor(images=[[i] for i in images], text=texts, padding=True, return_tensors="pt")
    assert _same(nested, encode_chat(processor, texts, [[i] for i in images]))  # the trainer's
    with torch.no_grad():
        plain = model.generate(
            **direct, do_sample=False, max_new_tokens=8, temperature=None, top_p=None, top_k=None,
            use_cache=True, output_logits=True, return_dict_in_generate=True,
        )  # fmt: skip
        new_ids, output = greedy_generate(
            model, encoded, max_new_tokens=8, use_cache=True, output_logits=True
        )
    assert torch.equal(new_ids, plain.sequences[:, direct["input_ids"].shape[1] :])
    assert all(torch.equal(a, b) for a, b in zip(plain.logits, output.logits, strict=True))


def test_prompts_of_one_width_encode_as_without_padding(loaded, images):
    _, processor = loaded  # the learning task's warm start encodes one prompt, one image size
    texts, same = [category_chat_text(processor, "tile")] * 2, [images[0], images[0].copy()]
    assert _same(
        processor(text=texts, images=same, return_tensors="pt"), encode_chat(processor, texts, same)
    )
