"""Finding the answer letter among a completion's tokens, and its probability from logits."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from iadbench_methods.lr_iad.answer_letter import (  # noqa: E402
    correct_letter,
    find_letter_spots,
    letter_log_odds,
    letter_probability,
)

# Qwen2's pre-tokenizer: one non-letter may lead a run of letters, so ">A" can be one token.
QWEN_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)


@pytest.fixture(scope="module")
def merging_tokenizer():
    """A byte-level BPE with Qwen2's split whose merges fuse '>A' and '>B' (as Qwen2's may)."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(QWEN_SPLIT), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])  # fmt: skip
    tokenizer.decoder = decoders.ByteLevel()
    corpus = ["<think>ok</think> <answer>A</answer> <answer>B</answer> <answer> A </answer>"]
    trainer = trainers.BpeTrainer(
        vocab_size=400, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False
    )
    tokenizer.train_from_iterator(corpus * 50, trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer)


@pytest.fixture(scope="module")
def tiny_tokenizer():
    from transformers import AutoProcessor

    from iadbench_methods.qwen2vl.tiny import tiny_model_dir

    return AutoProcessor.from_pretrained(tiny_model_dir()).tokenizer


def _spot(tokenizer, text):
    ids = tokenizer.encode(text, add_special_tokens=False)
    (spot,) = find_letter_spots(tokenizer, [ids])
    return ids, spot


def test_a_letter_merged_into_its_token_gets_the_twin_with_the_other_letter(merging_tokenizer):
    tok = merging_tokenizer
    ids, spot = _spot(tok, "<think>ok</think> <answer>A</answer>")
    assert tok.convert_ids_to_tokens(ids[spot.index]) == ">A" and spot.letter == "A"
    assert tok.convert_ids_to_tokens(spot.token_ids["B"]) == ">B"
    assert spot.token_ids["A"] == ids[spot.index]
    start, end = spot.span
    assert tok.decode(ids[start:end]).strip() == "<answer>A</answer>"


@pytest.mark.parametrize(
    ("text", "letter"),
    [
        ("<think>clean</think> <answer>B</answer>", "B"),
        ("<think>x</think> <answer> (A) </answer>", "A"),
        ("<think>it says A</think>\n<answer>\nB\n</answer>", "B"),  # the answer's letter, not A
    ],
)
def test_the_spot_is_the_letter_the_strict_parser_reads(tiny_tokenizer, text, letter):
    ids, spot = _spot(tiny_tokenizer, text)
    assert spot.letter == letter
    assert tiny_tokenizer.decode([ids[spot.index]]).strip(" (") == letter
    assert {tiny_tokenizer.decode([spot.token_ids[x]]).strip(" (") for x in "AB"} == {"A", "B"}


@pytest.mark.parametrize(
    "text", ["<think>x</think> <answer>A or B</answer>", "no answer", "<answer>C</answer>", ""]
)
def test_no_spot_where_the_parser_reads_no_answer(tiny_tokenizer, text):
    assert _spot(tiny_tokenizer, text)[1] is None


def test_probability_in_the_pair_and_in_the_vocabulary(tiny_tokenizer):
    _, spot = _spot(tiny_tokenizer, "<think>x</think> <answer>A</answer>")
    a, b = spot.token_ids["A"], spot.token_ids["B"]
    logits = torch.zeros(len(tiny_tokenizer) + 8)
    logits[a], logits[b] = math.log(3.0), 0.0  # A three times as likely as B
    assert letter_probability(logits, spot, "A", "pair") == pytest.approx(0.75)
    assert letter_probability(logits, spot, "B", "pair") == pytest.approx(0.25)
    vocabulary = 3.0 / (3.0 + len(logits) - 1)
    assert letter_probability(logits, spot, "A", "vocabulary") == pytest.approx(vocabulary)
    assert letter_log_odds(logits, spot) == pytest.approx(math.log(3.0))


def test_correct_letter_of_a_label():
    assert (correct_letter("defect"), correct_letter("normal")) == ("A", "B")
