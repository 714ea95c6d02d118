r"""AnomalyGPT assembled: ImageBind towers → decoder and prompt learner → a LLaMA-architecture LM.

What the official model does (``code/model/openllama.py``: ``encode_image``, ``prompt_wrap``,
``build_one_instance``; ``code/model/agent.py``), re-expressed on current transformers / peft:

* the image tower gives an L2-normalised embedding (→ ``llama_proj`` → one LLM token) and the
  patch tokens of four blocks (→ ``image_decoder`` → 100·cos against the category's
  normal / abnormal text features → anomaly map → ``prompt_learner`` → 18 LLM embeddings);
* LLM input: ``[BOS] "### Human: <Img>" [image token] "</Img> " [18 prompts]
  "{question}\\n### Assistant:"``, the answer followed by ``"\\n###"``; the loss counts the
  answer tokens only (labels -100 elsewhere);
* training loss: the LM loss plus Σ over blocks of focal + dice of the maps against the NSA mask;
  only ``image_decoder`` and ``prompt_learner`` train (``agent.py`` freezes the rest).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from .decoder import (
    AnomalyGPTHeads,
    anomaly_map,
    few_shot_map,
    pixel_loss,
    prompt_sentences,
    text_features,
)
from .text import ImageBindText, tokenize
from .vision import ImageBindVision

PROMPT_START = "### Human: <Img>"
PROMPT_MIDDLE = "</Img> "
ASSISTANT = "\n### Assistant:"
ANSWER_END = "\n###"
IGNORE = -100


@dataclass
class Encoded:
    """What the image side gives the LLM, per image."""

    image_token: torch.Tensor  # (B, 1, llm)
    maps: list[torch.Tensor]  # per tapped block, (B, 2, 224, 224) probabilities
    anomaly_map: torch.Tensor  # (B, 1, 224, 224), abnormal probability averaged over blocks
    prompts: torch.Tensor  # (B, 18, llm)


class AnomalyGPTModel(nn.Module):
    """The whole model; ``trainable_parameters`` are the ones the official training updates."""

    def __init__(
        self,
        vision: ImageBindVision,
        text: ImageBindText,
        heads: AnomalyGPTHeads,
        llm: Any,  # a (peft-wrapped) LlamaForCausalLM
        tokenizer: Any,
    ) -> None:
        super().__init__()
        self.vision, self.text, self.heads, self.llm = vision, text, heads, llm
        self.tokenizer = tokenizer
        self._text_cache: dict[str, torch.Tensor] = {}
        for module in (self.vision, self.text, self.llm, self.heads.llama_proj):
            module.requires_grad_(False)

    def trainable_parameters(self) -> list[nn.Parameter]:
        """``image_decoder`` and ``prompt_learner``: what ``agent.py`` leaves trainable."""
        return [
            *self.heads.image_decoder.parameters(),
            *self.heads.prompt_learner.parameters(),
        ]

    # -- image side ---------------------------------------------------------------------------

    @torch.no_grad()
    def class_text_features(self, class_names: Sequence[str]) -> torch.Tensor:
        """``(B, 2, embed)`` normal/abnormal text features, computed once per class name."""
        rows = []
        for name in class_names:
            if name not in self._text_cache:
                normal, abnormal = prompt_sentences(name)
                device = next(self.text.parameters()).device
                embedded = self.text(tokenize([*normal, *abnormal]).to(device))
                self._text_cache[name] = text_features(
                    embedded[None, : len(normal)], embedded[None, len(normal) :]
                )[0]
            rows.append(self._text_cache[name])
        return torch.stack(rows)

    def clear_caches(self) -> None:
        """Forget the cached text features (after the model changed device or precision)."""
        self._text_cache.clear()

    @torch.no_grad()
    def patch_tokens(self, images: torch.Tensor) -> list[torch.Tensor]:
        """The tapped blocks' raw patch tokens, CLS dropped: per block ``(B, patches, width)``.

        What the official few-shot path compares (``encode_image_for_one_shot``).
        """
        _, kept = self.vision(images)
        return [t.transpose(0, 1)[:, 1:] for t in kept]

    def encode(
        self,
        images: torch.Tensor,
        class_names: Sequence[str],
        references: Sequence[Sequence[torch.Tensor] | None] | None = None,
    ) -> Encoded:
        """Images (normalised as ImageBind's transform) → LLM image token, maps, prompts.

        ``references[i]``, when given, holds image i's category's normal patch tokens (per block,
        from :meth:`patch_tokens`): its anomaly map is then the few-shot map
        (:func:`~iadbench_methods.anomalygpt.decoder.few_shot_map`) instead of the text map.
        """
        with torch.no_grad():
            embedding, kept = self.vision(images)
        tokens = [t.transpose(0, 1) for t in kept]  # the tower is sequence-first
        maps = self.heads.layer_maps(tokens, self.class_text_features(class_names))
        amap = anomaly_map(maps)
        if references is not None:
            rows = []
            for i, normal in enumerate(references):
                if normal is None:
                    rows.append(amap[i : i + 1])
                    continue
                query = [t[i : i + 1, 1:] for t in tokens]
                rows.append(few_shot_map(query, normal, size=amap.shape[-1]))
            amap = torch.cat(rows)
        return Encoded(
            image_token=self.heads.llama_proj(embedding).unsqueeze(1),
            maps=maps,
            anomaly_map=amap,
            prompts=self.heads.prompt_learner(amap),
        )

    # -- LLM side -----------------------------------------------------------------------------

    def _ids(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=False).input_ids)

    def _embed(self, ids: Sequence[int], device: torch.device) -> torch.Tensor:
        table = self.llm.get_input_embeddings()
        return table(torch.tensor(list(ids), dtype=torch.long, device=device))

    def sequence(
        self, encoded: Encoded, index: int, question: str, answer: str | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One image's input embeddings and labels (``prompt_wrap`` + ``build_one_instance``)."""
        device = encoded.prompts.device
        bos = [self.tokenizer.bos_token_id]
        before, middle = self._ids(PROMPT_START), self._ids(PROMPT_MIDDLE)
        asked = self._ids(question + ASSISTANT)
        answered = self._ids(answer + ANSWER_END) if answer is not None else []
        parts = [
            self._embed(bos + before, device),
            encoded.image_token[index],
            self._embed(middle, device),
            encoded.prompts[index],
            self._embed(asked + answered, device),
        ]
        embeds = torch.cat(parts, dim=0)
        labels = torch.full((embeds.shape[0],), IGNORE, dtype=torch.long, device=device)
        if answered:
            labels[-len(answered) :] = torch.tensor(answered, device=device)
        return embeds, labels

    def loss(
        self,
        images: torch.Tensor,
        class_names: Sequence[str],
        questions: Sequence[str],
        answers: Sequence[str],
        masks: torch.Tensor,
        references: Sequence[Sequence[torch.Tensor] | None] | None = None,
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """LM loss on the answers plus the maps' focal + dice loss against ``masks`` (B, H, W).

        ``references`` (per image, normal patch tokens as in :meth:`encode`): the prompt learner
        then reads the few-shot map, as the official ``forward`` does for half of the batches,
        while the pixel loss stays on the text maps (``openllama.py`` lines 461-500).
        """
        encoded = self.encode(images, class_names, references)
        rows = [
            self.sequence(encoded, i, q, a)
            for i, (q, a) in enumerate(zip(questions, answers, strict=True))
        ]
        embeds, labels, attention = _right_pad(rows, self._pad_embedding(encoded))
        lm = self.llm(inputs_embeds=embeds, attention_mask=attention, labels=labels).loss
        pixels = pixel_loss(encoded.maps, masks)
        return lm + pixels, {"lm": float(lm.detach()), "pixel": float(pixels.detach())}

    @torch.no_grad()
    def answer(
        self,
        images: torch.Tensor,
        class_names: Sequence[str],
        questions: Sequence[str],
        max_new_tokens: int = 64,
        references: Sequence[Sequence[torch.Tensor] | None] | None = None,
    ) -> tuple[list[str], torch.Tensor]:
        """Greedy answers (cut at ``###``) and the anomaly maps, one batch, left-padded.

        ``references``: few-shot normal patch tokens per image (see :meth:`encode`).
        """
        replies, maps, _ = self.answer_scored(
            images, class_names, questions, max_new_tokens, references
        )
        return replies, maps

    @torch.no_grad()
    def answer_scored(
        self,
        images: torch.Tensor,
        class_names: Sequence[str],
        questions: Sequence[str],
        max_new_tokens: int = 64,
        references: Sequence[Sequence[torch.Tensor] | None] | None = None,
        generate_kwargs: Mapping[str, Any] | None = None,
    ) -> tuple[list[str], torch.Tensor, list[float | None]]:
        """:meth:`answer`, plus P(Yes) against P(No) at each reply's verdict token.

        Read from ``generate``'s own raw logits (``output_logits=True``), no second forward
        (:func:`iadbench_methods.anomalygpt.answers.yes_probabilities`); None where the reply
        gives no verdict. ``generate_kwargs``: more ``generate`` arguments (tests force a reply
        out of the random tiny model with a ``prefix_allowed_tokens_fn``).
        """
        from .answers import yes_probabilities

        encoded = self.encode(images, class_names, references)
        rows = [self.sequence(encoded, i, q, None) for i, q in enumerate(questions)]
        embeds, _, attention = _left_pad(rows, self._pad_embedding(encoded))
        output = self.llm.generate(
            inputs_embeds=embeds,
            attention_mask=attention,
            max_new_tokens=max_new_tokens,
            do_sample=False,
            pad_token_id=self.tokenizer.pad_token_id,
            return_dict_in_generate=True,
            output_logits=True,
            **(generate_kwargs or {}),
        )
        # From inputs_embeds alone, generate returns the new tokens only.
        new_ids = output.sequences.tolist()
        texts = self.tokenizer.batch_decode(new_ids, skip_special_tokens=True)
        scores = yes_probabilities(self.tokenizer, new_ids, output.logits)
        replies = [text.split("###")[0].strip() for text in texts]
        return replies, encoded.anomaly_map, scores

    def _pad_embedding(self, encoded: Encoded) -> torch.Tensor:
        return self._embed([self.tokenizer.pad_token_id], encoded.prompts.device)[0]


def _right_pad(
    rows: Sequence[tuple[torch.Tensor, torch.Tensor]], pad: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Right padding for training, as ``process_batch_instance`` (padding ignored by the loss)."""
    return _pad(rows, pad, left=False)


def _left_pad(
    rows: Sequence[tuple[torch.Tensor, torch.Tensor]], pad: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Left padding for batched generation (new tokens follow every row's last real token)."""
    return _pad(rows, pad, left=True)


def _pad(
    rows: Sequence[tuple[torch.Tensor, torch.Tensor]], pad: torch.Tensor, *, left: bool
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    length = max(e.shape[0] for e, _ in rows)
    embeds, labels, attention = [], [], []
    for e, lab in rows:
        extra = length - e.shape[0]
        parts = [
            (e, pad.expand(extra, -1)),
            (lab, lab.new_full((extra,), IGNORE)),
            (lab.new_ones(e.shape[0]), lab.new_zeros(extra)),
        ]
        padded = [torch.cat([fill, real] if left else [real, fill]) for real, fill in parts]
        embeds.append(padded[0])
        labels.append(padded[1])
        attention.append(padded[2])
    return torch.stack(embeds), torch.stack(labels), torch.stack(attention)
