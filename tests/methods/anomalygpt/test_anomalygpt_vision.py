"""AnomalyGPT's ImageBind image tower: the published key names and shapes, and what it returns."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from iadbench.contract.errors import IADBenchError  # noqa: E402
from iadbench_methods.anomalygpt.vision import (  # noqa: E402
    TINY_VISION,
    ImageBindVision,
    VisionConfig,
    tower_state_dict,
)

# Facts of imagebind_huge (vendored ImageBind in CASIA-IVA-Lab/AnomalyGPT): key → shape.
HUGE_KEYS = {
    "modality_preprocessors.vision.cls_token": (1, 1, 1280),
    "modality_preprocessors.vision.rgbt_stem.proj.1.weight": (1280, 3, 2, 14, 14),
    "modality_preprocessors.vision.pos_embedding_helper.pos_embed": (1, 257, 1280),
    "modality_trunks.vision.pre_transformer_layer.0.weight": (1280,),
    "modality_trunks.vision.pre_transformer_layer.0.bias": (1280,),
    "modality_trunks.vision.blocks.31.attn.in_proj_weight": (3840, 1280),
    "modality_trunks.vision.blocks.31.attn.in_proj_bias": (3840,),
    "modality_trunks.vision.blocks.31.attn.out_proj.weight": (1280, 1280),
    "modality_trunks.vision.blocks.31.attn.out_proj.bias": (1280,),
    "modality_trunks.vision.blocks.0.norm_1.weight": (1280,),
    "modality_trunks.vision.blocks.0.norm_2.bias": (1280,),
    "modality_trunks.vision.blocks.0.mlp.fc1.weight": (5120, 1280),
    "modality_trunks.vision.blocks.0.mlp.fc2.weight": (1280, 5120),
    "modality_heads.vision.0.weight": (1280,),
    "modality_heads.vision.0.bias": (1280,),
    "modality_heads.vision.2.weight": (1024, 1280),
}


def test_huge_has_the_published_vision_keys_and_shapes():
    with torch.device("meta"):
        model = ImageBindVision()
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert {k: shapes.get(k) for k in HUGE_KEYS} == HUGE_KEYS
    # 3 preprocessor + 2 pre-LN + 32 blocks × 12 + 3 head tensors, nothing else.
    assert len(shapes) == 3 + 2 + 32 * 12 + 3
    assert "modality_heads.vision.2.bias" not in shapes  # the projection has no bias
    params = sum(v.numel() for v in model.state_dict().values())
    assert 620e6 < params < 640e6  # ViT-H/14: about 632 M


@pytest.fixture(scope="module")
def tiny() -> ImageBindVision:
    torch.manual_seed(0)
    return ImageBindVision(TINY_VISION).eval()


def test_tiny_tower_returns_a_unit_embedding_and_the_chosen_blocks_tokens(tiny):
    images = torch.randn(2, 3, 56, 56)
    outputs: list[torch.Tensor] = []
    hooks = [block.register_forward_hook(lambda _m, _i, out: outputs.append(out))
             for block in tiny.modality_trunks["vision"].blocks]  # fmt: skip
    with torch.inference_mode():
        embedding, kept = tiny(images)
    for hook in hooks:
        hook.remove()
    assert embedding.shape == (2, 16)
    torch.testing.assert_close(embedding.norm(dim=-1), torch.ones(2))
    assert len(kept) == 4 and all(k.shape == (17, 2, 32) for k in kept)  # L B D, CLS first
    for index, tokens in zip(TINY_VISION.out_layers, kept, strict=True):
        torch.testing.assert_close(tokens, outputs[index])
    images_alone = [tiny(images[i : i + 1])[0] for i in range(2)]
    torch.testing.assert_close(torch.cat(images_alone), embedding, rtol=1e-4, atol=1e-5)


def test_the_two_frame_stem_equals_a_2d_patch_conv_with_the_summed_kernel(tiny):
    """The repeated frame makes Conv3d a Conv2d whose kernel is the sum over time (what a
    conversion to a 2D ViT, e.g. open_clip's ViT-H-14, would use)."""
    conv3d = tiny.modality_preprocessors["vision"].rgbt_stem.proj[1]
    images = torch.randn(1, 3, 56, 56)
    with torch.inference_mode():
        tokens = tiny.modality_preprocessors["vision"].rgbt_stem(images)
        flat = torch.nn.functional.conv2d(images, conv3d.weight.sum(dim=2), stride=14)
    torch.testing.assert_close(tokens, flat.flatten(2).transpose(1, 2), rtol=1e-4, atol=1e-5)


def test_vision_keys_are_picked_from_a_whole_checkpoint_and_checked(tiny):
    checkpoint = {
        **{k: v.clone() for k, v in tiny.state_dict().items()},
        "modality_trunks.text.blocks.0.attn.in_proj_weight": torch.zeros(3, 3),
        "modality_postprocessors.text.1.log_logit_scale": torch.zeros(()),
    }
    fresh = ImageBindVision(TINY_VISION).eval()
    fresh.load_state_dict(tower_state_dict(checkpoint, fresh), strict=True)
    images = torch.randn(1, 3, 56, 56)
    with torch.inference_mode():
        torch.testing.assert_close(fresh(images)[0], tiny(images)[0])
    del checkpoint["modality_heads.vision.2.weight"]
    with pytest.raises(
        IADBenchError, match="lacks 1 of the ImageBindVision keys.*modality_heads.vision.2.weight"
    ):
        tower_state_dict(checkpoint, fresh)


def test_a_checkpoint_of_another_size_is_refused(tiny):
    other = ImageBindVision(VisionConfig(width=48, blocks=4, heads=2, out_dim=16, image_size=56,
                                         out_layers=(0, 1, 2, 3)))  # fmt: skip
    with pytest.raises(IADBenchError, match="has shape .* the model expects"):
        tower_state_dict(other.state_dict(), tiny)
