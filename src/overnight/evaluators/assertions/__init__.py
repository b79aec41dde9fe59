"""Binary assertions over one generated output: pass or fail, with a reason in numbers.

An assertion is parsed from one YAML item (``parse_assertion``) and checked against an output
(``Assertion.check(output, context) -> Verdict``). Any type can be negated with a ``not-``
prefix. String parameters marked below may use Jinja2 over the case's variables
(``value: "{{ brand }}"``); a missing variable fails the check with a reason. ``check`` never
raises: a check that cannot be made (a missing variable, a crash, a timeout, no judge) is a
failing Verdict with ``error`` set, which negation leaves failing.

text (``_text``)
    equals (value*), contains (value*), icontains (value*), contains-any (values*),
    icontains-any, contains-all (values*), icontains-all, regex (pattern*, flags),
    starts-with (value*), ends-with (value*), forbidden-phrases (phrases*)
size (``_size``)
    word-count, char-count, line-count, sentence-count: min and/or max
structure (``_structure``)
    first-line-standalone-sentence, last-line-not-question, contains-statistic (min),
    required-sections (sections*), cites-sources (min), seo-title (min, max),
    meta-description (min, max)
formats (``_formats``)
    is-json, json-schema (schema)
code (``_code``)
    compiles, max-function-length (max), naming-convention, no-magic-numbers (allowed),
    passes-tests (command, filename, timeout)
custom (``_custom``)
    python (function), command (command, timeout), llm-judge (rubric*, model)

(* a template.) Each family module documents its exact rules; the counting rules live in
``overnight.evaluators.text``.
"""

from overnight.evaluators.assertions._base import (
    Assertion,
    AssertionSpecError,
    CheckContext,
    Verdict,
)
from overnight.evaluators.assertions._parse import ASSERTIONS, Negated, parse_assertion

__all__ = [
    "ASSERTIONS",
    "Assertion",
    "AssertionSpecError",
    "CheckContext",
    "Negated",
    "Verdict",
    "parse_assertion",
]
