"""assert-set: assertions checked together, passing as one.

``assert`` lists the assertions (any type, each with its own ``weight``). The set passes when
all of them pass, or, with ``threshold``, when the weighted share that passes is at least that
(0.5: half). Its own ``weight`` and ``metric`` count as one check in the suite. A member whose
check could not be made makes the set an error.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field, PrivateAttr, model_validator

from overnight.evaluators.assertions._base import (
    Assertion,
    AssertionSpecError,
    BuiltinAssertion,
    CheckContext,
    CheckError,
    Finite,
)


class AssertSet(BuiltinAssertion):
    name: ClassVar[str] = "assert-set"
    specs: list[Any] = Field(alias="assert", min_length=1)
    threshold: Finite | None = Field(default=None, ge=0, le=1)
    _members: tuple[Assertion, ...] = PrivateAttr(default=())

    @model_validator(mode="after")
    def _parsed(self) -> AssertSet:
        from overnight.evaluators.assertions._parse import parse_assertion

        members = []
        for index, spec in enumerate(self.specs):
            try:
                members.append(parse_assertion(spec))
            except AssertionSpecError as exc:
                field = f"assert[{index}]" + (f".{exc.field}" if exc.field else "")
                raise AssertionSpecError(field, exc.message) from None
        self._members = tuple(members)
        return self

    @property
    def deterministic(self) -> bool:  # type: ignore[override]
        return all(member.deterministic for member in self._members)

    @property
    def label(self) -> str:
        need = "all" if self.threshold is None else f">={self.threshold:g}"
        return f"assert-set ({len(self._members)}, {need})"

    def _check(self, output: str, context: CheckContext) -> tuple[bool, str]:
        verdicts = [(member, member.check(output, context)) for member in self._members]
        broken = [(m, v) for m, v in verdicts if v.error]
        if broken:
            member, verdict = broken[0]
            raise CheckError(f"{member.label} could not be checked: {verdict.reason}")
        total = sum(member.weight for member in self._members)
        passed = sum(member.weight for member, verdict in verdicts if verdict.passed)
        share = passed / total if total else 1.0
        count = sum(verdict.passed for _, verdict in verdicts)
        failing = [f"{m.label}: {v.reason}" for m, v in verdicts if not v.passed]
        first = f"; first failing {failing[0]}" if failing else ""
        if self.threshold is None:
            return not failing, f"{count} of {len(verdicts)} pass{first}"
        held = share >= self.threshold
        verdict = "at least" if held else "below"
        return (
            held,
            f"{count} of {len(verdicts)} pass, {share:.2f} {verdict} {self.threshold:g}{first}",
        )


FAMILY = (AssertSet,)
