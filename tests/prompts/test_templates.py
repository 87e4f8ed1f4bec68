"""Every synthesis template for every category, version and polarity; debias templates."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from synthpack.common.errors import SynthpackError
from synthpack.common.labels import POLARITIES
from synthpack.common.paths import pack_dir
from synthpack.prompts.categories import list_categories, load_category
from synthpack.prompts.templates import (
    list_debias_systems,
    list_versions,
    render_debias_instruction,
    render_debias_system,
    render_llama2_chat,
    render_synthesis,
    render_template,
)

GOLDEN = Path(__file__).parent / "golden"
EXAMPLES = ["the ferry leaves at noon on sundays", "my cousin repairs old radios for fun"]
CASES = [(c, v, p) for c in list_categories() for v in list_versions() for p in POLARITIES]


def test_the_pack_ships_five_categories_and_three_versions():
    assert list_categories() == ["hate", "political", "self_harm", "sexual", "violence"]
    assert list_versions() == ["v1", "v2", "v3"]


@pytest.mark.parametrize(("name", "version", "polarity"), CASES)
def test_every_template_has_the_required_structure(name, version, polarity):
    category = load_category(name)
    prompt = render_synthesis(category, version, polarity, EXAMPLES, n_entries=7)
    # Requirements, numbered 1..k, and N numbered slots asked for.
    requirements = prompt.split("Requirements:\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert [line.split(".", 1)[0] for line in requirements] == [
        str(i) for i in range(1, len(requirements) + 1)
    ]
    assert len(requirements) == (5 if version == "v1" else 4)
    assert "counting from 1 to 7 in order" in prompt
    assert "produce 7 high-quality" in prompt.lower()
    assert prompt.endswith(
        "Write the 7 numbered entries now, with no introduction and no comments."
    )
    # The few-shot examples appear, one per line, under their heading.
    block = prompt.split("Reference examples:\n", 1)[1]
    assert block.splitlines()[: len(EXAMPLES)] == [f"- {e}" for e in EXAMPLES]
    assert "unique" in prompt and "sentence structure" in prompt
    if polarity == "pos":
        assert re.search(
            rf"must (belong to the category \"|fit the definition of ){category.title}", prompt
        )
        assert (category.definition in prompt) == (version != "v1")
        assert ("without deviating" in prompt) == (version == "v1")
        assert ("stay related to the reference examples" in prompt) == (version == "v2")
    else:
        # Negatives never ask for the category: no definition, no persona, no "belong"/"fit".
        assert f"nothing to do with {category.title}" in prompt
        assert category.definition not in prompt
        assert "Definition" not in prompt and "without deviating" not in prompt
        assert "belong to" not in prompt and "fit the definition" not in prompt
        assert "many different fields and topics" in prompt


@pytest.mark.parametrize("stem", ["hate_pos_v1", "hate_neg_v3"])
def test_rendered_prompt_matches_the_golden_file(stem):
    name, polarity, version = stem.split("_")
    prompt = render_synthesis(load_category(name), version, polarity, EXAMPLES, n_entries=30)
    assert prompt + "\n" == (GOLDEN / f"{stem}.txt").read_text(encoding="utf-8")


def test_an_undefined_variable_fails_and_names_the_template():
    with pytest.raises(SynthpackError, match=r"synthesis/v2\.jinja2: 'n_entries' is undefined"):
        render_template(
            "synthesis/v2.jinja2", category=load_category("hate"), polarity="pos", examples=EXAMPLES
        )


def test_unknown_names_list_what_exists():
    with pytest.raises(
        SynthpackError,
        match=r"Unknown category 'hat'\. Did you mean: hate\? "
        r"Available: hate, political, self_harm, sexual, violence",
    ):
        load_category("hat")
    category = load_category("hate")
    with pytest.raises(SynthpackError, match=r"Unknown version 'v9'.*Available: v1, v2, v3"):
        render_synthesis(category, "v9", "pos", EXAMPLES, 5)
    with pytest.raises(SynthpackError, match=r"Unknown polarity 'maybe'"):
        render_synthesis(category, "v1", "maybe", EXAMPLES, 5)


def test_a_broken_category_file_names_the_file_and_every_bad_field(tmp_path):
    templates = tmp_path / "templates"
    shutil.copytree(pack_dir("templates"), templates)
    path = templates / "categories" / "hate.yaml"
    path.write_text("name: hate\ntitle: ''\ncolour: red\ndefinition: x\n")
    with pytest.raises(SynthpackError) as err:
        load_category("hate", templates)
    message = err.value.message
    assert str(path) in message
    for fragment in (
        f"{path}:3: colour: unknown field",
        f"{path}:2: title: missing or empty",
        f"{path}: negative_description: missing or empty",
    ):
        assert fragment in message
    path.write_text("name: hate\ntitle: [unclosed\n")
    with pytest.raises(SynthpackError, match=rf"{re.escape(str(path))}:\d+: not valid YAML"):
        load_category("hate", templates)


def test_debias_templates_render_both_system_prompts_and_the_instruction():
    assert list_debias_systems() == ["general", "job_postings"]
    job = render_debias_system("job_postings")
    assert "gender, age or culture" in job and "responsibilities and the requirements" in job
    assert "intent" in render_debias_system("general") or "meant" in render_debias_system("general")
    plain = render_debias_instruction()
    hinted = render_debias_instruction(["too sensitive", "don't understand real work"])
    for piece in ("intent", "benign, unbiased and positive", "toxic", "constructive"):
        assert piece in plain
    assert "flagged" not in plain
    assert (
        'flagged as biased in the post: "too sensitive", "don\'t understand real work".' in hinted
    )
    with pytest.raises(SynthpackError, match="Unknown system prompt 'legal'"):
        render_debias_system("legal")


def test_llama2_layout_matches_llamafactory_stock_template(tiny_model):
    """Our written-out layout equals what LLaMA-Factory's `llama2` template encodes."""
    from llamafactory.data import get_template_and_fix_tokenizer
    from llamafactory.hparams import DataArguments
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    template = get_template_and_fix_tokenizer(tokenizer, DataArguments(template="llama2"))
    system = render_debias_system("general")
    user = render_debias_instruction() + "\n" + "this update is trash"
    messages = [{"role": "user", "content": user}, {"role": "assistant", "content": "Not a fan."}]
    prompt_ids, response_ids = template.encode_oneturn(tokenizer, messages, system=system)
    ours = render_llama2_chat(system, user, "Not a fan.")
    ours = ours.replace("<s>", tokenizer.bos_token).replace("</s>", tokenizer.eos_token)
    prompt_part, response_part = ours.split("[/INST]", 1)
    assert tokenizer.decode(prompt_ids) == prompt_part + "[/INST]"
    # The layout spaces the answer (" Not a fan. </s>"); token-wise it is the answer, then EOS.
    assert response_part == f" Not a fan. {tokenizer.eos_token}"
    assert tokenizer.decode(response_ids) == f"Not a fan.{tokenizer.eos_token}"


def test_templates_readme_lists_every_template_and_category():
    readme = (pack_dir("templates") / "README.md").read_text(encoding="utf-8")
    for path in sorted(pack_dir("templates").rglob("*")):
        if path.is_file() and path.name != "README.md":
            assert path.name in readme, f"templates/README.md does not mention {path.name}"
