"""AnomalyGPT's image decoder, prompt learner and losses: shapes, official keys, learning."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from sklearn.metrics import roc_auc_score  # noqa: E402

from iadbench_methods.anomalygpt.decoder import (  # noqa: E402
    AnomalyGPTHeads,
    LinearLayer,
    Widths,
    anomaly_map,
    dice_loss,
    focal_loss,
    image_score,
    layer_maps,
    pixel_loss,
    prompt_sentences,
    text_features,
)

TINY = Widths(vision=32, embed=16, llm=24, prompt_channels=(2, 2, 4, 4, 8))
SIDE = 16  # ImageBind-H on 224 px: 16 × 16 patches of 14 px
PATCH = 14

# Names and shapes read in CASIA-IVA-Lab/AnomalyGPT code/model/openllama.py (LinearLayer(1280,
# 1024, 4), PromptLearner(1, 4096), llama_proj Linear(1024, 4096) for Vicuna-7B) and
# code/model/AnomalyGPT_models.py (meta_net's Sequential indices, base_prompts (9, 4096)).
OFFICIAL_SHAPES: dict[str, tuple[int, ...]] = {
    **{f"image_decoder.fc.{i}.weight": (1024, 1280) for i in range(4)},
    **{f"image_decoder.fc.{i}.bias": (1024,) for i in range(4)},
    "prompt_learner.base_prompts": (9, 4096),
    "prompt_learner.meta_net.0.weight": (4, 1, 3, 3),
    "prompt_learner.meta_net.0.bias": (4,),
    "prompt_learner.meta_net.3.weight": (16, 4, 3, 3),
    "prompt_learner.meta_net.3.bias": (16,),
    "prompt_learner.meta_net.6.weight": (64, 16, 3, 3),
    "prompt_learner.meta_net.6.bias": (64,),
    "prompt_learner.meta_net.9.weight": (256, 64, 3, 3),
    "prompt_learner.meta_net.9.bias": (256,),
    "prompt_learner.meta_net.12.weight": (1024, 256, 3, 3),
    "prompt_learner.meta_net.12.bias": (1024,),
    "prompt_learner.meta_net.15.weight": (4096, 1024, 5, 5),
    "prompt_learner.meta_net.15.bias": (4096,),
    "llama_proj.weight": (4096, 1024),
    "llama_proj.bias": (4096,),
}


@pytest.fixture
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _text(widths: Widths, batch: int, generator: torch.Generator) -> torch.Tensor:
    # Like ImageBind's, the two ensembles' embeddings are close to each other.
    centre = torch.randn(widths.embed, generator=generator)
    normal = centre + 0.5 * torch.randn(batch, 14, widths.embed, generator=generator)
    abnormal = centre + 0.5 * torch.randn(batch, 10, widths.embed, generator=generator)
    return text_features(normal, abnormal)


def test_official_widths_give_the_official_state_dict_keys_and_shapes():
    with torch.device("meta"):
        heads = AnomalyGPTHeads()
    assert {k: tuple(v.shape) for k, v in heads.state_dict().items()} == OFFICIAL_SHAPES


def test_decoder_maps_are_probabilities_at_224():
    generator = torch.Generator().manual_seed(0)
    heads = AnomalyGPTHeads(TINY)
    tokens = [torch.randn(2, 1 + SIDE * SIDE, TINY.vision, generator=generator)] * TINY.layers
    with torch.no_grad():
        maps = heads.layer_maps(tokens, _text(TINY, 2, generator))
    assert len(maps) == 4
    assert all(m.shape == (2, 2, 224, 224) for m in maps)
    torch.testing.assert_close(maps[0].sum(1), torch.ones(2, 224, 224))
    amap = anomaly_map(maps)
    assert amap.shape == (2, 1, 224, 224)
    assert float(amap.min()) >= 0 and float(amap.max()) <= 1
    assert image_score(amap).shape == (2,)


def test_prompt_learner_turns_the_map_into_18_llm_embeddings():
    heads = AnomalyGPTHeads(TINY)
    prompts = heads.prompt_learner(torch.rand(3, 1, 224, 224))
    assert prompts.shape == (3, 18, TINY.llm)
    # The first nine are the learned base prompts, the same for every image.
    torch.testing.assert_close(prompts[:, :9], heads.prompt_learner.base_prompts.expand(3, -1, -1))


def test_llama_proj_maps_the_image_embedding_to_one_llm_token():
    heads = AnomalyGPTHeads(TINY)
    assert heads.llama_proj(torch.randn(2, TINY.embed)).shape == (2, TINY.llm)


def test_layer_maps_refuse_a_non_square_grid():
    with pytest.raises(ValueError, match="square"):
        layer_maps([torch.randn(1, 10, 16)], torch.randn(1, 2, 16))


def test_text_features_are_unit_vectors_normal_first():
    normal = torch.tensor([[1.0, 0.0]]).expand(1, 14, 2)
    abnormal = torch.tensor([[0.0, 3.0]]).expand(1, 10, 2)
    torch.testing.assert_close(text_features(normal, abnormal), torch.eye(2).unsqueeze(0))


def test_prompt_sentences_follow_the_official_order():
    normal, abnormal = prompt_sentences("pipe_fryum")
    assert normal[:3] == [
        "a photo of a pipe fryum.",
        "a photo of the pipe fryum.",
        "a photo of a flawless pipe fryum.",
    ]
    assert abnormal[-1] == "a photo of the pipe fryum with damage."


def test_focal_loss_matches_the_smoothed_formula():
    p = torch.tensor([0.9, 0.2])
    probs = torch.stack([1 - p, p]).view(1, 2, 1, 2)
    target = torch.tensor([[[1.0, 0.0]]])
    # p_t = (1 − s)·p_true + s·p_other + s, then −(1 − p_t)² log p_t, averaged.
    s = 1e-5
    pt = torch.tensor([(1 - s) * 0.9 + s * 0.1 + s, (1 - s) * 0.8 + s * 0.2 + s])
    expected = (-((1 - pt) ** 2) * pt.log()).mean()
    torch.testing.assert_close(focal_loss(probs, target), expected)


def test_dice_loss_is_zero_for_a_perfect_map_and_smoothed_for_empty_masks():
    mask = torch.zeros(2, 4, 4)
    mask[0, :2, :2] = 1
    assert float(dice_loss(mask, mask)) == pytest.approx(0.0)
    # An empty mask and an all-zero map: (0 + 1) / (0 + 0 + 1) → no loss.
    assert float(dice_loss(torch.zeros(1, 4, 4), torch.zeros(1, 4, 4))) == 0.0


def _squares(
    generator: torch.Generator, n: int, widths: Widths, direction: torch.Tensor
) -> tuple[list[torch.Tensor], torch.Tensor]:
    """Random tokens per block; the patches of one random square per image carry a shift."""
    tokens = torch.randn(widths.layers, n, 1 + SIDE * SIDE, widths.vision, generator=generator)
    grid = torch.zeros(n, SIDE, SIDE)
    for i in range(n):
        side = int(torch.randint(3, 7, (1,), generator=generator))
        row, col = (int(v) for v in torch.randint(0, SIDE - side + 1, (2,), generator=generator))
        grid[i, row : row + side, col : col + side] = 1
    tokens[:, :, 1:] += 1.5 * grid.flatten(1).unsqueeze(-1) * direction
    mask = grid.repeat_interleave(PATCH, 1).repeat_interleave(PATCH, 2)
    return list(tokens), mask


def test_focal_plus_dice_teach_the_linear_layers_to_find_the_square(one_thread):
    # A wide trunk, so that a random projection barely sees the shift (chance before training).
    widths = Widths(vision=256, embed=16, llm=24)
    generator = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    direction = torch.nn.functional.normalize(
        torch.randn(widths.vision, generator=generator), dim=0
    )
    text = _text(widths, 1, generator)
    decoder = LinearLayer(widths)
    held_out, held_out_mask = _squares(generator, 16, widths, direction)

    def pixel_auroc() -> float:
        with torch.no_grad():
            amap = anomaly_map(layer_maps(decoder(held_out), text.expand(16, -1, -1)))
        return roc_auc_score(held_out_mask.flatten().numpy(), amap.flatten().numpy())

    before = pixel_auroc()
    optimiser = torch.optim.Adam(decoder.parameters(), lr=1e-2)
    for _ in range(30):
        tokens, mask = _squares(generator, 8, widths, direction)
        loss = pixel_loss(layer_maps(decoder(tokens), text.expand(8, -1, -1)), mask)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    after = pixel_auroc()
    assert abs(before - 0.5) < 0.1, before
    assert after > 0.8, after
