"""Binary assertions over one generated output: pass or fail, with a reason in numbers.

An assertion is parsed from one YAML item (``parse_assertion``) and checked against an output
(``Assertion.check(output, context) -> Verdict``). Any type can be negated with a ``not-``
prefix. String parameters marked below may use Jinja2 over the case's variables
(``value: "{{ brand }}"``); a missing variable fails the check with a reason. ``check`` never
raises: a check that cannot be made (a missing variable, a crash, a timeout, no judge) is a
failing Verdict with ``error`` set, which negation leaves failing.

text (``_text``)
    equals (value*, trim), contains (value*), icontains (value*), contains-any (values* or
    value), icontains-any, contains-all (values* or value), icontains-all, regex (pattern* or
    value, flags, syntax), starts-with (value*, trim), ends-with (value*, trim),
    forbidden-phrases (phrases*)
size (``_size``)
    word-count (min and/or max, or value; counting), char-count, line-count, sentence-count:
    min and/or max
structure (``_structure``)
    first-line-standalone-sentence, last-line-not-question, contains-statistic (min),
    required-sections (sections*), cites-sources (min), seo-title (min, max),
    meta-description (min, max)
formats (``_formats``)
    is-json (value: a schema, fences), contains-json (value), json-schema (schema, fences)
markup (``_markup``)
    is-xml (value), contains-xml (value), is-html, contains-html, is-sql (value),
    contains-sql (value)
overlap (``_overlap``)
    levenshtein (value*, threshold), rouge-n (value*, threshold, n), bleu (value*, threshold)
measured (``_measured``)
    latency (threshold), cost (threshold), finish-reason (value*)
replies (``_replies``)
    is-refusal, is-valid-openai-tools-call (tools)
sets (``_sets``)
    assert-set (assert, threshold)
code (``_code``)
    compiles, max-function-length (max), naming-convention, no-magic-numbers (allowed),
    passes-tests (command, filename, timeout)
custom (``_custom``)
    python (function), command (command, timeout), llm-judge (rubric*, model)
graded (``_graded``, ``_similar``)
    llm-rubric (value*), model-graded-closedqa (value*), factuality (value*),
    answer-relevance, each with a judge; similar (value*, threshold): embeddings, offline

Any assertion may also carry promptfoo's ``weight``, ``metric`` and ``transform`` (``_keys``).

(* a template.) Each family module documents its exact rules; the counting rules live in
``overnight.evaluators.text``.
"""

from overnight.evaluators.assertions._base import (
    Assertion,
    AssertionSpecError,
    CheckContext,
    Generation,
    Verdict,
)
from overnight.evaluators.assertions._parse import ASSERTIONS, Negated, parse_assertion

__all__ = [
    "ASSERTIONS",
    "Assertion",
    "AssertionSpecError",
    "CheckContext",
    "Generation",
    "Negated",
    "Verdict",
    "parse_assertion",
]
