"""Strict answer parsing, the format check and the prompt of the Qwen2-VL / LR-IAD methods."""

from __future__ import annotations

import pytest

from iadbench_methods.qwen2vl.answers import LETTERS, follows_format, parse_answer
from iadbench_methods.qwen2vl.prompt import PROMPT_TEMPLATES, build_messages, build_prompt

# The paper's prompt, verbatim, for a metal_nut image (typed out here, not derived from the code).
# The two transcriptions of the paper's prompt, verbatim from the design card (shared/DESIGN.md).
METAL_NUT_PROMPT = """This is an image containing a metal nut. Analyze the given image and determine if there is any defect in the object.
Output the thinking process in <think> </think> and final answer in <answer> </answer> tags.
Options: (A) defect (B) normal.
The output answer format should be as follows:
<think></think> <answer>A or B</answer>
Please strictly follow the format."""  # noqa: E501
METAL_NUT_PROMPT_TYPESET = """This is an image containing a metal nut. Analyze the given image and determine if there is any defect in the object. Output the thinking process in <think> </think> and final answer in <answer> </answer> tags.
Options: (A) defect (B) normal.
The output answer format should be as follows:
<think> ... </think> <answer>A or B</answer>
Please strictly follow the format."""  # noqa: E501


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("<think>a dent on the rim</think> <answer>A</answer>", "defect"),
        ("<think>clean</think><answer>B</answer>", "normal"),
        ("<answer>(A)</answer>", "defect"),
        ("<answer> B </answer>", "normal"),
        ("<answer>( B )</answer>", "normal"),
        ("<answer>\n(A)\n</answer>", "defect"),
        ("<think>line one\nline two\n</think>\n<answer>B</answer>\n", "normal"),
        ("Some preamble. <answer>A</answer> trailing words", "defect"),
    ],
)
def test_a_single_letter_in_one_answer_block_is_an_answer(text, label):
    assert parse_answer(text) == label


@pytest.mark.parametrize(
    "text",
    [
        "<answer>A or B</answer>",  # the format line of the prompt, copied back
        "<answer></answer>",
        "<answer>   </answer>",
        "<answer>(B) normal</answer>",
        "<answer>B normal</answer>",
        "<answer>defect</answer>",
        "<answer>a</answer>",  # upper case only
        "<answer>(b)</answer>",
        "<answer>AB</answer>",
        "<answer>(A</answer>",
        "<answer>A)</answer>",
        "<answer>[A]</answer>",
        "<answer>A.</answer>",
        "<answer>A</answer><answer>B</answer>",  # two blocks hedge
        "<answer>A</answer> <answer>A</answer>",
        "<think>maybe <answer>B</answer></think><answer>A</answer>",
        "<answer><answer>A</answer>",
        "</answer>A<answer>",
        "A",
        "(B) normal",
        "The answer is A.",
        "<answer>A",
        "A</answer>",
        "<Answer>A</Answer>",
        "",
    ],
)
def test_anything_else_is_invalid(text):
    assert parse_answer(text) == "invalid"


def test_letters_map_a_to_defect_and_b_to_normal():
    assert LETTERS == {"A": "defect", "B": "normal"}


@pytest.mark.parametrize(
    "text",
    [
        "<think>clean surface</think> <answer>B</answer>",
        "<think>clean</think><answer>B</answer>",
        "  <think>\nscratch at top left\nso a defect\n</think>\n\n<answer>A</answer>\n",
        "<think></think><answer></answer>",  # structure only: the content is parse_answer's job
    ],
)
def test_think_then_answer_follows_the_format(text):
    assert follows_format(text)


@pytest.mark.parametrize(
    "text",
    [
        "<answer>A</answer>",
        "<think>clean</think>",
        "<answer>A</answer><think>clean</think>",
        "Sure! <think>clean</think><answer>B</answer>",
        "<think>clean</think><answer>B</answer> Hope this helps.",
        "<think>clean</think> text <answer>B</answer>",
        "<think>a</think><think>b</think><answer>B</answer>",
        "<think>clean</think><answer>A</answer><answer>B</answer>",
        "<think>clean<answer>B</answer></think>",
        "<think>clean</think><answer>B",
        "",
    ],
)
def test_other_shapes_do_not_follow_the_format(text):
    assert not follows_format(text)


def test_prompt_is_the_papers_text_with_the_natural_name():
    assert build_prompt("metal_nut") == METAL_NUT_PROMPT  # the default: one line per sentence
    assert build_prompt("metal_nut", "typeset") == METAL_NUT_PROMPT_TYPESET
    assert PROMPT_TEMPLATES["lines"].format(object="metal nut") == METAL_NUT_PROMPT


def test_the_prompt_option_reaches_the_model_and_the_configuration():
    from iadbench.contract.options import build_options
    from iadbench_methods.lr_iad.config import LRIADOptions
    from iadbench_methods.lr_iad.data import PromptAndImage
    from iadbench_methods.qwen2vl.adapter import Qwen2VLOptions

    assert Qwen2VLOptions().prompt == "lines" and LRIADOptions().prompt == "lines"
    typeset = build_options(LRIADOptions, {"prompt": "typeset"})
    assert typeset.prompt == "typeset"
    rows = PromptAndImage(typeset.prompt)({"category": ["metal_nut"], "image_path": []})
    assert rows["prompt"][0][0]["content"][1]["text"] == METAL_NUT_PROMPT_TYPESET
    assert PromptAndImage()({"category": ["metal_nut"], "image_path": []})["prompt"] == [
        build_messages("metal_nut")
    ]


@pytest.mark.parametrize(
    ("category", "name"),
    [("pcb3", "printed circuit board"), ("pipe_fryum", "pipe fryum"), ("bottle", "bottle")],
)
def test_prompt_names_the_object_naturally(category, name):
    assert build_prompt(category).startswith(f"This is an image containing a {name}. Analyze")


def test_messages_are_one_user_turn_with_the_image_before_the_text():
    assert build_messages("pill") == [
        {
            "role": "user",
            "content": [{"type": "image"}, {"type": "text", "text": build_prompt("pill")}],
        }
    ]
