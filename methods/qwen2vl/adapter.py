"""The ``qwen2-vl`` method adapter: base Qwen2-VL answering the LR-IAD prompt, greedily.

Importing this module is cheap (``iadbench list`` does it): torch and transformers are imported
when the model is first needed.

See Also:
    ``methods/qwen2vl/README.md`` for weights, options and the mapping to the paper.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from importlib import metadata
from pathlib import Path
from typing import Any, ClassVar, Literal

from iadbench.contract.demos import DemoSetup
from iadbench.contract.devices import resolve_device, resolve_precision
from iadbench.contract.errors import IADBenchError
from iadbench.contract.images import load_rgb
from iadbench.contract.method import Capabilities, MethodAdapter, require_inputs
from iadbench.contract.options import option
from iadbench.contract.records import Prediction, Sample

from .answers import AB_ANSWER_RULES, parse_answer
from .chat import category_chat_text, encode_chat, greedy_generate
from .loading import (
    DEFAULT_MAX_PIXELS,
    DEFAULT_MODEL,
    check_adapter_dir,
    check_model_source,
    load_model_and_processor,
    resolve_attention,
)
from .prompt import DEFAULT_PROMPT
from .scores import defect_probabilities
from .tiny import TINY_MAX_PIXELS, TINY_VERSION, tiny_model_dir

# A random-weight model writes noise until the cap, never a think block: under --tiny a longer
# cap only costs time (the same code runs; only the number of decoding steps shrinks). Applied
# as the default of max_new_tokens under --tiny; an explicit --set still wins.
TINY_MAX_NEW_TOKENS = 16
# The demo's warm start writes 19 tokens; the cap leaves room (the learning proof's length).
WARM_START_TOKENS = 32


@dataclass(frozen=True)
class Qwen2VLOptions:
    """Options of ``qwen2-vl`` (``--set KEY=VALUE``); every one enters the run's content hash.

    Attributes:
        model: Hugging Face hub id or local checkpoint directory (Qwen2-VL or Qwen2.5-VL).
            ``--tiny`` replaces the default with the tiny local checkpoint; a checkpoint set
            explicitly is kept (``iadbench demo`` sets the format-only warm start,
            :func:`~iadbench_methods.lr_iad.learning_task.warm_start_dir`).
        adapter: A peft LoRA adapter directory applied on top of ``model`` (merged for speed);
            for a method that trains (``lr-iad``) it replaces the training.
        max_pixels: Largest image area given to the vision tower (the paper's 401,408 = 512·28²,
            at most 512 visual tokens); larger images are scaled down, aspect kept.
        min_pixels: Smallest image area; unset keeps the checkpoint's own (3,136 for Qwen2-VL).
        max_new_tokens: Generation cap. 512 leaves room for a think block of a few paragraphs
            plus the answer; greedy decoding stops earlier at ``<|im_end|>``, so the cap only
            costs time when a model rambles, and a cut-off answer is counted as invalid.
            ``--tiny`` defaults it to 16 (a random model only writes noise).
        precision: ``auto`` (bf16 on a GPU that has it, fp32 on the CPU), ``fp32``, ``fp16``,
            ``bf16``.
        attn_implementation: ``auto`` (flash-attention 2 when installed on a GPU, else sdpa),
            ``flash_attention_2``, ``sdpa``, ``eager``.
        prompt: Which transcription of the paper's prompt: ``lines`` (one line per sentence,
            ``<think></think>``) or ``typeset`` (``<think> ... </think>``); the two disagree and
            neither could be checked against the paper (:mod:`iadbench_methods.qwen2vl.prompt`).
    """

    model: str = DEFAULT_MODEL
    adapter: str | None = option(None, replaces_training=True)
    max_pixels: int = DEFAULT_MAX_PIXELS
    min_pixels: int | None = None
    max_new_tokens: int = option(512, inference_only=True, tiny=str(TINY_MAX_NEW_TOKENS))
    precision: str = "auto"
    attn_implementation: str = "auto"
    prompt: Literal["lines", "typeset"] = DEFAULT_PROMPT


class Qwen2VL(MethodAdapter[Qwen2VLOptions]):
    """Qwen2-VL base (zero-shot): greedy answer to the LR-IAD prompt, parsed strictly.

    Each image is shown with the paper's prompt ("This is an image containing a {object}. ...
    Options: (A) defect (B) normal. ..."), ``{object}`` being the category's natural name; the
    model answers greedily, and the answer counts only when it holds exactly one
    ``<answer>A</answer>`` or ``<answer>B</answer>`` block (anything else is ``invalid``, scored
    as wrong). Batches are generated together with left padding; a batch may mix categories.
    The full output (reasoning included) is stored with every prediction. Nothing is trained.
    Each parsed answer also carries a score, P(defect): the softmax over the A and B tokens'
    logits at the step where the answer wrote its letter, from ``generate``'s own logits
    (:mod:`iadbench_methods.qwen2vl.scores`); the label stays the parsed answer, the score
    gives AUROC/AP. An invalid answer has no score.

    Paper: P. Wang et al., "Qwen2-VL: Enhancing Vision-Language Model's Perception of the World at
    Any Resolution", arXiv 2409.12191, https://arxiv.org/abs/2409.12191; its row in LR-IAD
    (arXiv 2504.19524, Table IV), https://arxiv.org/abs/2504.19524

    Example:
        >>> from iadbench import RunContext
        >>> context = RunContext(tiny=True, device="cpu")
        >>> adapter = Qwen2VL(Qwen2VLOptions(max_new_tokens=8), context=context)
        >>> adapter.describe()["decoding"], adapter.describe()["attn_implementation"]
        ('greedy', 'sdpa')

        From the command line::

            iadbench run --method qwen2-vl --train visa --test mvtec
            iadbench run --method qwen2-vl --train visa --test mvtec --set model=/models/qwen2-vl-7b

    See Also:
        - :func:`iadbench_methods.qwen2vl.loading.load_model_and_processor`: model loading.
        - :mod:`iadbench_methods.qwen2vl.answers`: the strict parser.
        - :mod:`iadbench_methods.qwen2vl.prompt`: the prompt and chat turn.
    """

    capabilities = Capabilities(
        needs_pixels=True, gives_text=True, prefers_gpu=True, builds_models=True
    )
    Options: ClassVar[type] = Qwen2VLOptions
    # 2: predictions carry P(defect) at the answer letter (version 1 records have no score).
    version = "2"
    default_batch_size = 16
    answer_rules = AB_ANSWER_RULES  # strict headline, lenient figures beside it (LR-IAD too)

    @classmethod
    def demo_setup(cls, cache_dir: Path) -> DemoSetup:
        """The demo runs the format-only warm start, so its answers are valid and scored.

        A random tiny model never writes an answer letter: every answer is invalid, so the row
        has no score and no AUROC. The warm start
        (:func:`~iadbench_methods.lr_iad.learning_task.warm_start_dir`, built once under
        ``cache_dir``, prompts of every category) was fine-tuned on 112 x 112 images to write
        ``<think>...</think> <answer>L</answer>`` (19 tokens) with a letter independent of the
        image; it is shown
        images of that size (``min_pixels`` = ``max_pixels``: other sizes shift the positions
        it learned and it stops before the letter) and given room for its answer.
        """
        from ..lr_iad.learning_task import warm_start_dir

        return DemoSetup(
            options={
                "model": str(warm_start_dir(cache_dir, any_category=True)),
                "max_pixels": str(TINY_MAX_PIXELS),
                "min_pixels": str(TINY_MAX_PIXELS),
                "max_new_tokens": str(WARM_START_TOKENS),
            },
            note="their rows run from a tiny checkpoint taught the answer format only (the "
            "letter it learned is independent of the image), so the answers are mostly valid "
            "and scored, and AUROC stays near 0.5: the format was taught, not the task.",
        )

    def setup(self) -> None:
        """Resolve device, precision and attention; check the checkpoint and adapter paths."""
        opts: Qwen2VLOptions = self.options
        if opts.max_new_tokens < 1:
            raise IADBenchError(f"max_new_tokens must be at least 1, got {opts.max_new_tokens}")
        # Direct construction may say "auto"; the run (and what describe() records) needs the
        # device it ends up on.
        self.context = replace(self.context, device=resolve_device(self.context.device))
        device = self.context.device
        self.precision = resolve_precision(opts.precision, device)
        self.attention = resolve_attention(opts.attn_implementation, device, self.precision)
        self.max_new_tokens = opts.max_new_tokens
        # Fail before any image is read: a missing checkpoint or adapter is an argument error.
        # --tiny replaces the default hub model; a checkpoint given with --set model=DIR is
        # kept (e.g. the demo's format-only warm start, a fine-tuned tiny model).
        self.tiny_replaces_model = self.context.tiny and opts.model == DEFAULT_MODEL
        self.model_source = (
            str(tiny_model_dir()) if self.tiny_replaces_model else check_model_source(opts.model)
        )
        self.adapter_dir = check_adapter_dir(opts.adapter) if opts.adapter else None
        self._loaded: tuple[Any, Any] | None = None
        self._chat_texts: dict[str, str] = {}
        # Test hook (never an option: it does not enter the hash): more generate() arguments,
        # e.g. a prefix_allowed_tokens_fn that forces an answer out of a random tiny model.
        self.generate_kwargs: dict[str, Any] = {}

    def preprocessor(self) -> Any:
        """Decode the image as RGB in a DataLoader worker; the processor runs on the batch."""
        return load_image

    def model_and_processor(self) -> tuple[Any, Any]:
        """The model (eval mode, on ``self.context.device``) and its processor, loaded on first use.

        Raises:
            IADBenchError: The weights or the adapter cannot be loaded.
        """
        if self._loaded is None:
            opts: Qwen2VLOptions = self.options
            self._loaded = load_model_and_processor(
                self.model_source,
                device=self.context.device,
                precision=self.precision,
                attn_implementation=self.attention,
                max_pixels=opts.max_pixels,
                min_pixels=opts.min_pixels,
                adapter=self.adapter_dir,
            )
        return self._loaded

    def predict(
        self, batch: Sequence[Sample], inputs: Sequence[Any] | None = None
    ) -> list[Prediction]:
        """One greedy answer per sample, generated as one left-padded batch.

        Args:
            batch: The samples; their categories may differ (one prompt per sample).
            inputs: RGB images from :meth:`preprocessor`, one per sample (the runner decodes;
                call :func:`iadbench.predict_samples` outside a run).
        """
        images = require_inputs(self, inputs)
        scored = self.generate_scored([sample.category for sample in batch], list(images))
        return [
            Prediction(label=parse_answer(text), score=score, text=text) for text, score in scored
        ]

    def generate(self, categories: Sequence[str], images: Sequence[Any]) -> list[str]:
        """Greedy completions (special tokens removed) for images of the given categories.

        Args:
            categories: Category folder name of each image (sets ``{object}`` in the prompt).
            images: RGB ``PIL.Image`` images, as many as ``categories``.

        Returns:
            The generated text of each image, in order: new tokens only, no prompt.
        """
        return [text for text, _ in self.generate_scored(categories, images)]

    def generate_scored(
        self, categories: Sequence[str], images: Sequence[Any]
    ) -> list[tuple[str, float | None]]:
        """Greedy completions and their P(defect) (None: no answer letter), one per image.

        The score is read from the logits ``generate`` returns (``output_logits=True``) at the
        answer letter's step (:func:`~iadbench_methods.qwen2vl.scores.defect_probabilities`).
        """
        import torch

        model, processor = self.model_and_processor()
        prompts = [self._chat_text(processor, category) for category in categories]
        encoded = encode_chat(processor, prompts, images).to(model.device)
        with torch.inference_mode(), _intra_op_threads(1 if self._tiny_on_cpu() else None):
            new_tokens, output = greedy_generate(
                model, encoded, max_new_tokens=self.max_new_tokens, output_logits=True,
                **self.generate_kwargs,
            )  # fmt: skip
        new_ids = new_tokens.tolist()
        texts: list[str] = processor.batch_decode(new_ids, skip_special_tokens=True)
        scores = defect_probabilities(processor.tokenizer, new_ids, output.logits)
        return list(zip(texts, scores, strict=True))

    def describe(self) -> dict[str, Any]:
        """What is (or will be) loaded and how it generates; no weights are loaded here."""
        opts: Qwen2VLOptions = self.options
        return {
            "model": self.model_source,
            "model_option": opts.model,
            "tiny": (
                f"tiny random-weight Qwen2-VL (recipe {TINY_VERSION}) replaces {opts.model}"
                if self.tiny_replaces_model
                else f"tiny settings on the given checkpoint {opts.model}"
                if self.context.tiny
                else None
            ),
            "adapter": self.adapter_dir,
            "device": self.context.device,
            "precision": self.precision,
            "attn_implementation": self.attention,
            "max_pixels": opts.max_pixels,
            "min_pixels": opts.min_pixels,
            "max_new_tokens": self.max_new_tokens,
            "decoding": "greedy",
            "score": "P(defect): softmax over the A/B tokens' raw logits at the answer letter",
            "padding_side": "left",
            "prompt": f"LR-IAD prompt (arXiv 2504.19524), {opts.prompt} transcription, "
            "natural category names",
            "transformers": _version("transformers"),
            "peft": _version("peft") if self.adapter_dir else None,
        }

    def _tiny_on_cpu(self) -> bool:
        # The tiny model's matrices are too small to split across threads: on a busy CPU the
        # threads only wait for each other (measured: 4× slower generation with 2 threads).
        return self.context.tiny and self.context.device == "cpu"

    def _chat_text(self, processor: Any, category: str) -> str:
        if category not in self._chat_texts:  # the chat template is rendered once per category
            self._chat_texts[category] = category_chat_text(
                processor, category, self.options.prompt
            )
        return self._chat_texts[category]


def load_image(sample: Sample) -> Any:
    """A sample's image as RGB (module-level, so DataLoader workers can unpickle it)."""
    return load_rgb(sample.image_path)


@contextmanager
def _intra_op_threads(count: int | None) -> Iterator[None]:
    """Run the block with ``count`` torch intra-op threads (None: unchanged), then restore."""
    import torch

    before = torch.get_num_threads()
    if count is not None:
        torch.set_num_threads(count)
    try:
        yield
    finally:
        if count is not None:
            torch.set_num_threads(before)


def _version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None
