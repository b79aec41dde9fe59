"""Numbers as people read them: scores (23/25 for suites) and dollars."""

from __future__ import annotations


def number(value: float | None) -> str:
    return "-" if value is None else f"{value:.6g}"


def money(usd: float) -> str:
    """Dollars with the digits that matter: $1.23, $0.0042, $0.000021."""
    if usd >= 0.01 or usd == 0:
        return f"${usd:.2f}"
    return "$" + f"{usd:.6f}".rstrip("0")


def score_text(value: float | None, secondary: dict[str, float]) -> str:
    """A suite's score reads as passed/total (23/25); any other metric as a number."""
    total = secondary.get("total")
    if value is not None and total is not None and float(value).is_integer():
        return f"{int(value)}/{int(total)}"
    return number(value)
