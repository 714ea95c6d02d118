"""trl's ``GRPOTrainer`` plus what LR-IAD adds: the answer probability and the answer span.

:class:`LRIADGRPOTrainer` changes trl's step in two places and nowhere else:

- before the rewards are computed (``_calculate_rewards``), when the focal reward reads ``p``
  per completion (``focal_p=answer``), one no-grad forward of the policy, in eval mode (no
  dropout), over prompt + completion up to the answer letter gives the logits at the letter's
  position; divided by the sampling temperature (as trl's loss does) and turned by
  :func:`~iadbench_methods.lr_iad.answer_letter.letter_probability` into the probability of the
  correct letter, handed to the rewards as the ``answer_probability``
  column (None for a completion without a strictly parsed answer). Every process runs the
  forward on its own completions (under ZeRO-3 every process must join each forward);
- after scoring, with ``loss_span=answer`` (a non-paper stability option), the loss is masked to
  the tokens of the ``<answer>…</answer>`` block of completions that have one (trl's loss-only
  ``tool_mask``; attention still sees the whole completion, so the forward matches generation).
  Completions without an answer block keep their whole loss, so a bad format is still pushed
  away. With ``loss_type`` ``dapo``/``bnpo`` trl's token count still counts whole completions.

Importing this module imports trl (heavy): :mod:`iadbench_methods.lr_iad.training` imports it
when a trainer is built.

Paper: LR-IAD, arXiv 2504.19524, https://arxiv.org/abs/2504.19524
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, cast

import torch
from trl import GRPOTrainer
from trl.models.utils import disable_gradient_checkpointing

from ..qwen2vl.chat import chat_text, encode_chat
from .answer_letter import (
    LetterSpot,
    ProbabilitySpace,
    correct_letter,
    find_letter_spots,
    letter_probability,
)

LOSS_SPANS = ("completion", "answer")
"""``loss_span``: the whole completion (trl, the paper) or the answer block only (non-paper)."""


class LRIADGRPOTrainer(GRPOTrainer):
    """``GRPOTrainer`` that supplies ``answer_probability`` and can mask the loss to the answer.

    Args:
        *args: As ``GRPOTrainer``.
        probability_space: ``pair`` or ``vocabulary`` to compute ``answer_probability`` in that
            space (see :func:`letter_probability`); None when no reward needs it (no forward).
        loss_span: ``completion`` (trl's loss) or ``answer`` (the answer block only).
        **kwargs: As ``GRPOTrainer``.

    Attributes:
        probability_seconds: Wall time spent in the answer-probability forwards (benchmarks).
    """

    def __init__(
        self,
        *args: Any,
        probability_space: ProbabilitySpace | None = "pair",
        loss_span: str = "completion",
        **kwargs: Any,
    ) -> None:
        if loss_span not in LOSS_SPANS:
            raise ValueError(f"loss_span must be one of {', '.join(LOSS_SPANS)}, got {loss_span!r}")
        super().__init__(*args, **kwargs)
        self.probability_space = probability_space
        self.loss_span = loss_span
        self.probability_seconds = 0.0

    def _calculate_rewards(
        self,
        inputs: list[dict[str, Any]],
        prompts: list[Any],
        completions: list[Any],
        completion_ids_list: list[list[int]],
    ) -> torch.Tensor:
        if self.probability_space is not None:
            started = time.perf_counter()
            probabilities = self.answer_probabilities(inputs, prompts, completion_ids_list)
            self.probability_seconds += time.perf_counter() - started
            for row, probability in zip(inputs, probabilities, strict=True):
                row["answer_probability"] = probability
        rewards: torch.Tensor = super()._calculate_rewards(
            inputs, prompts, completions, completion_ids_list
        )
        return rewards

    def _generate_and_score_completions(self, inputs: list[dict[str, Any]]) -> dict[str, Any]:
        output = super()._generate_and_score_completions(inputs)
        if self.loss_span == "answer":
            mask = self.answer_span_mask(output["completion_ids"], output["completion_mask"])
            if "tool_mask" in output:
                mask = mask * output["tool_mask"]
            output["tool_mask"] = mask
        return output

    @torch.no_grad()
    def answer_probabilities(
        self,
        inputs: Sequence[dict[str, Any]],
        prompts: Sequence[Any],
        completion_ids: Sequence[Sequence[int]],
    ) -> list[float | None]:
        """The policy's probability of the correct letter at each completion's letter token.

        Args:
            inputs: trl's rows, one per completion (``label`` and ``image`` are read).
            prompts: The conversational prompts trl generated from (images placed).
            completion_ids: The sampled token ids of each completion.

        Returns:
            One probability per completion; None where no answer letter was parsed.
        """
        spots = find_letter_spots(self._text_tokenizer(), completion_ids)
        logits = self._logits_before(spots, inputs, prompts, completion_ids)
        space = self.probability_space or "pair"
        return [
            None
            if spot is None
            else letter_probability(logits[row], spot, correct_letter(inputs[row]["label"]), space)
            for row, spot in enumerate(spots)
        ]

    def _logits_before(
        self,
        spots: Sequence[LetterSpot | None],
        inputs: Sequence[dict[str, Any]],
        prompts: Sequence[Any],
        completion_ids: Sequence[Sequence[int]],
    ) -> torch.Tensor:
        """Next-token logits at the position before each letter token, ``(rows, vocab)``.

        Sequences are cut after the last letter needed; a row without a letter reads the last
        prompt position (ignored). The model runs in eval mode, as the policy's probabilities are
        defined without dropout.
        """
        # The prompt text trl generated from (its chat-template arguments included).
        processor: Any = self.processing_class
        kwargs = cast(dict[str, Any], self.chat_template_kwargs)  # a dict once trl parsed it
        texts = [chat_text(processor, prompt, **kwargs) for prompt in prompts]
        images = [[row["image"]] for row in inputs]
        encoded = encode_chat(processor, texts, images).to(self.accelerator.device)
        prompt_ids, prompt_mask = encoded.pop("input_ids"), encoded.pop("attention_mask")
        width = max([spot.index + 1 for spot in spots if spot is not None], default=1)
        pad_id = self._text_tokenizer().pad_token_id
        rows = len(completion_ids)
        tail = torch.full((rows, width), pad_id, dtype=prompt_ids.dtype)
        tail_mask = torch.zeros((rows, width), dtype=prompt_mask.dtype)
        for row, ids in enumerate(completion_ids):
            kept = list(ids[:width])
            tail[row, : len(kept)] = torch.tensor(kept, dtype=prompt_ids.dtype)
            tail_mask[row, : len(kept)] = 1
        device = prompt_ids.device
        for key in ("token_type_ids", "mm_token_type_ids"):
            if key in encoded:  # the completion part holds text tokens only
                extra = encoded[key].new_zeros((rows, width))
                encoded[key] = torch.cat([encoded[key], extra], dim=1)
        start = prompt_ids.shape[1]
        positions = torch.tensor(
            [[start - 1 + (spot.index if spot is not None else 0)] for spot in spots],
            device=device,
        )
        model: Any = self.model  # set by the time trl scores completions
        checkpointing = cast(dict[str, Any] | None, self.args.gradient_checkpointing_kwargs)
        was_training = model.training
        model.eval()
        try:
            with (
                disable_gradient_checkpointing(model, checkpointing),
                self.accelerator.autocast(),
            ):
                output = model(
                    input_ids=torch.cat([prompt_ids, tail.to(device)], dim=1),
                    attention_mask=torch.cat([prompt_mask, tail_mask.to(device)], dim=1),
                    logits_to_keep=positions,
                    use_cache=False,
                    **encoded,
                )
        finally:
            model.train(was_training)
        # trl's loss divides logits by the sampling temperature: so does the policy's probability.
        logits: torch.Tensor = output.logits[:, 0, :].float() / self.temperature
        return logits

    def _text_tokenizer(self) -> Any:
        """The processor's tokenizer (trl types ``processing_class`` as any processing class)."""
        processor: Any = self.processing_class
        return processor.tokenizer

    def answer_span_mask(
        self, completion_ids: torch.Tensor, completion_mask: torch.Tensor
    ) -> torch.Tensor:
        """1 on the answer block's tokens of completions that have one, 1 everywhere otherwise."""
        lists = [
            ids[mask.bool()].tolist()
            for ids, mask in zip(completion_ids, completion_mask, strict=True)
        ]
        spots = find_letter_spots(self._text_tokenizer(), lists)
        mask = torch.ones_like(completion_mask)
        for row, spot in enumerate(spots):
            if spot is not None:
                mask[row] = 0
                mask[row, spot.span[0] : spot.span[1]] = 1
        return mask
