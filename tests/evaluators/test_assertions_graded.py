"""promptfoo's model-graded assertions, judged for real through the provider layer on the
loopback model server, and ``similar`` with the real offline embedding model."""

from pathlib import Path

import pytest

from overnight import llm
from overnight.config import ModelConfig
from overnight.evaluators.assertions import CheckContext, Verdict, _similar, parse_assertion

GRADED = ["llm-rubric", "model-graded-closedqa", "factuality", "answer-relevance"]


def spec_of(kind, **extra):
    values = {"answer-relevance": {}, "factuality": {"value": "Paris is the capital of France."}}
    return {"type": kind, **values.get(kind.removeprefix("not-"), {"value": "is polite"}), **extra}


@pytest.fixture
def judge(llm_server):
    """The suite's judge in miniature: llm.judge against the loopback server."""
    models = []

    def ask(rubric, output, model):
        models.append(model)
        config = ModelConfig(model=model or "openai/judge", api_base=llm_server.base_url, retries=0)
        yes, reason, _ = llm.judge(rubric, output, config)
        return yes, reason

    ask.models = models
    return ask


def check(spec, output, judge=None, variables=None):
    context = CheckContext(vars=variables or {}, root=Path.cwd(), judge=judge)
    return parse_assertion(spec).check(output, context)


def asked(server):
    """The criterion and output the judge model was shown, as one text."""
    return server.requests[-1].prompt


@pytest.mark.parametrize("kind", GRADED)
def test_a_yes_passes_with_the_judges_reason(kind, judge, llm_server):
    llm_server.script("YES\nIt does what the criterion asks.")

    verdict = check(spec_of(kind), "Paris.", judge, {"query": "What is the capital of France?"})

    assert verdict == Verdict(True, "It does what the criterion asks.", deterministic=False)
    assert "Paris." in asked(llm_server)


@pytest.mark.parametrize("kind", GRADED)
def test_a_no_fails_and_its_negation_passes(kind, judge, llm_server):
    llm_server.script("NO\nIt misses the point.", "NO\nIt misses the point.")

    assert check(spec_of(kind), "Lyon.", judge) == Verdict(
        False, "It misses the point.", deterministic=False
    )
    assert check(spec_of(f"not-{kind}"), "Lyon.", judge) == Verdict(
        True, "It misses the point.", deterministic=False
    )


@pytest.mark.parametrize("kind", GRADED)
def test_a_judge_that_cannot_answer_is_an_error_even_negated(kind, judge, llm_server):
    llm_server.fail(401, times=2)

    for negated in ("", "not-"):
        verdict = check(spec_of(negated + kind), "Paris.", judge)
        assert verdict.error and not verdict.passed
        assert "401 unauthorized" in verdict.reason


@pytest.mark.parametrize("kind", GRADED)
def test_without_a_judge_it_says_how_to_configure_one(kind):
    verdict = check(spec_of(kind), "Paris.")

    assert verdict.error
    assert verdict.reason == "no judge model configured (set evaluate.judge)"


def test_llm_rubric_asks_the_rubric_rendered_over_the_vars(judge, llm_server):
    llm_server.script("YES\nfine")
    spec = {"type": "llm-rubric", "value": "Mentions {{ brand }} by name"}

    check(spec, "Acme is great", judge, {"brand": "Acme"})

    assert "Mentions Acme by name" in asked(llm_server)


def test_factuality_shows_the_reference_and_the_question(judge, llm_server):
    llm_server.script("NO\nThe output says Lyon; the reference says Paris.")
    spec = {
        "type": "factuality",
        "value": "The capital of France is {{ city }}.",
        "question": "What is the capital of {{ country }}?",
    }

    verdict = check(spec, "Lyon", judge, {"city": "Paris", "country": "France"})

    assert not verdict.passed and verdict.reason.startswith("The output says Lyon")
    shown = asked(llm_server)
    assert "The capital of France is Paris." in shown
    assert "What is the capital of France?" in shown
    assert "contradicts the reference" in shown


def test_closedqa_shows_the_query_var_as_the_request(judge, llm_server):
    llm_server.script("YES\nno apology")
    spec = {"type": "model-graded-closedqa", "value": "does not apologize"}

    check(spec, "Here it is.", judge, {"query": "Send me the report"})

    shown = asked(llm_server)
    assert "meets this criterion: does not apologize" in shown
    assert "Send me the report" in shown


def test_answer_relevance_without_a_question_shows_the_cases_inputs(judge, llm_server):
    llm_server.script("YES\nOn topic.")

    check({"type": "answer-relevance"}, "Bananas are yellow.", judge, {"fruit": "banana"})

    shown = asked(llm_server)
    assert "fruit: banana" in shown and "relevant answer" in shown


def test_a_provider_id_chooses_another_judge_model(judge, llm_server):
    llm_server.script("YES\nok", "YES\nok")

    check({"type": "llm-rubric", "value": "x", "provider": "openai:gpt-4o-mini"}, "o", judge)
    check({"type": "factuality", "value": "x", "model": "openai/other"}, "o", judge)

    assert judge.models == ["openai/gpt-4o-mini", "openai/other"]
    assert llm_server.requests[0].body["model"] == "gpt-4o-mini"


def test_threshold_zero_passes_whatever_the_judge_says(judge, llm_server):
    llm_server.script("NO\nnot polite")

    verdict = check({"type": "llm-rubric", "value": "polite", "threshold": 0}, "go away", judge)

    assert verdict.passed and "the judge said no: not polite" in verdict.reason


@pytest.mark.parametrize(
    ("spec", "field", "message"),
    [
        ({"type": "llm-rubric"}, "value", "missing"),
        (
            {"type": "llm-rubric", "value": "x", "provider": "exec:./grade.sh"},
            "provider",
            "unknown",
        ),
        ({"type": "factuality", "value": "x", "rubricPrompt": "?"}, "rubricPrompt", "unknown"),
        ({"type": "similar", "value": []}, "value", "must not be empty"),
        ({"type": "similar", "value": "x", "threshold": 2}, "threshold", "1"),
    ],
)
def test_bad_specs_name_the_field(spec, field, message):
    from overnight.evaluators.assertions import AssertionSpecError

    with pytest.raises(AssertionSpecError) as caught:
        parse_assertion(spec)
    assert caught.value.field == field and message in caught.value.message


# --- similar (the real offline model) -----------------------------------------------------------


def test_similar_passes_a_paraphrase_and_fails_an_unrelated_text():
    spec = {"type": "similar", "value": "The cat is sleeping on the sofa."}

    near = check(spec, "A cat sleeps on the couch.")
    far = check(spec, "Quarterly revenue rose by eight percent.")

    assert near.passed and near.reason.startswith("similarity 0.")
    assert "(threshold 0.75)" in near.reason
    assert not far.passed and not far.error
    assert check({**spec, "type": "not-similar"}, "Quarterly revenue rose.").passed


def test_similar_threshold_moves_the_cut():
    spec = {"type": "similar", "value": "The weather is lovely today."}
    output = "It is sunny and warm this afternoon."
    similarity = float(check(spec, output).reason.split()[1])

    assert check({**spec, "threshold": similarity - 0.01}, output).passed
    assert not check({**spec, "threshold": similarity + 0.01}, output).passed


def test_similar_takes_the_nearest_of_several_texts_rendered_over_the_vars():
    spec = {"type": "similar", "value": ["Stock prices fell.", "{{ animal }} sleeps."]}

    verdict = check(spec, "The dog is asleep.", variables={"animal": "The dog"})

    assert verdict.passed and "'The dog sleeps.'" in verdict.reason


def test_similar_without_the_embed_extra_says_how_to_install_it(monkeypatch):
    real = _similar.importlib.util.find_spec
    monkeypatch.setattr(
        _similar.importlib.util,
        "find_spec",
        lambda name, *args: None if name == "sentence_transformers" else real(name, *args),
    )

    for kind in ("similar", "not-similar"):
        verdict = check({"type": kind, "value": "x"}, "x")
        assert verdict.error and not verdict.passed
        assert verdict.reason == (
            'similar needs sentence_transformers: pip install "overnight[embed]"'
        )
