"""AnomalyGPT's ImageBind text tower: the published key names and shapes, and what it returns."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("open_clip")

from iadbench_methods.anomalygpt.text import (  # noqa: E402
    TINY_TEXT,
    ImageBindText,
    causal_mask,
    tokenize,
)
from iadbench_methods.anomalygpt.vision import tower_state_dict  # noqa: E402

HUGE_KEYS = {
    "modality_preprocessors.text.token_embedding.weight": (49408, 1024),
    "modality_preprocessors.text.pos_embed": (1, 77, 1024),
    "modality_preprocessors.text.mask": (77, 77),
    "modality_trunks.text.blocks.23.attn.in_proj_weight": (3072, 1024),
    "modality_trunks.text.blocks.0.mlp.fc1.weight": (4096, 1024),
    "modality_heads.text.proj.0.weight": (1024,),
    "modality_heads.text.proj.1.weight": (1024, 1024),
    "modality_postprocessors.text.1.log_logit_scale": (),
}


def test_huge_has_the_published_text_keys_and_shapes():
    with torch.device("meta"):
        model = ImageBindText()
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert {k: shapes.get(k) for k in HUGE_KEYS} == HUGE_KEYS
    # 3 preprocessor (with the mask buffer) + 24 blocks × 12 + 3 head + 1 scale; no pre-LN.
    assert len(shapes) == 3 + 24 * 12 + 3 + 1
    assert not any("pre_transformer_layer" in k for k in shapes)


def test_tokens_follow_clip_and_the_embedding_is_scaled_and_causal():
    tokens = tokenize(["a photo of a flawless bottle.", "damaged bottle"])
    assert tokens.shape == (2, 77) and int(tokens[0, 0]) == 49406
    assert int(tokens[0].argmax()) == int((tokens[0] != 0).sum()) - 1  # end token last
    torch.manual_seed(0)
    model = ImageBindText(TINY_TEXT).eval()
    small = tokens.clamp(max=TINY_TEXT.vocab_size - 1)
    with torch.inference_mode():
        embedding = model(small)
    scale = min(math.exp(model.modality_postprocessors["text"][1].log_logit_scale.item()), 100.0)
    torch.testing.assert_close(embedding.norm(dim=-1), torch.full((2,), scale))
    # Causal: a token after the end position cannot change the embedding read at the end.
    assert int(small[0].argmax()) < 20
    changed = small.clone()
    changed[0, 20] = 5  # inside the zero padding after the end token
    with torch.inference_mode():
        torch.testing.assert_close(model(changed)[0], embedding[0])
    assert bool(torch.isinf(causal_mask(4)[0, 1])) and causal_mask(4)[1, 0] == 0


def test_text_keys_are_picked_from_a_whole_checkpoint():
    torch.manual_seed(1)
    model = ImageBindText(TINY_TEXT).eval()
    checkpoint = {
        **model.state_dict(),
        "modality_trunks.vision.blocks.0.norm_1.weight": torch.ones(3),
    }
    fresh = ImageBindText(TINY_TEXT).eval()
    fresh.load_state_dict(tower_state_dict(checkpoint, fresh), strict=True)
    tokens = tokenize(["a bottle"]).clamp(max=TINY_TEXT.vocab_size - 1)
    with torch.inference_mode():
        torch.testing.assert_close(fresh(tokens), model(tokens))
