"""Numbers as people read them: scores (23/25 for suites), dollars and tokens."""

from __future__ import annotations

from collections.abc import Sequence

from overnight.records import Usage


def number(value: float | None) -> str:
    return "-" if value is None else f"{value:.6g}"


def money(usd: float) -> str:
    """Dollars with the digits that matter: $1.23, $0.0042, $0.000021."""
    if usd >= 0.01 or usd == 0:
        return f"${usd:.2f}"
    return "$" + f"{usd:.6f}".rstrip("0")


def spending(usage: Sequence[Usage]) -> str:
    """What model calls cost: "$0.0042", "unknown" when no call was priced (a coding-agent CLI
    that reports nothing), "$0.0042 + unknown" when some were; "" for no model calls at all."""
    if not usage:
        return ""
    known = [u.cost_usd for u in usage if u.cost_usd is not None]
    if not known:
        return "unknown"
    return money(sum(known)) + ("" if len(known) == len(usage) else " + unknown")


def tokens(usage: Sequence[Usage]) -> str:
    """Tokens in and out together, "12.4k"; "unknown" (or "12.4k + unknown") as ``spending``."""
    if not usage:
        return ""
    known = [
        u.tokens_in + u.tokens_out
        for u in usage
        if u.tokens_in is not None and u.tokens_out is not None
    ]
    if not known:
        return "unknown"
    return count(sum(known)) + ("" if len(known) == len(usage) else " + unknown")


def count(number: int) -> str:
    """A token count as people read it: 812, 12.4k, 3.1M."""
    if number < 1000:
        return str(number)
    if number < 1_000_000:
        return f"{number / 1000:.1f}k"
    return f"{number / 1_000_000:.1f}M"


def score_text(value: float | None, secondary: dict[str, float]) -> str:
    """A suite's score reads as passed/total (23/25); any other metric as a number."""
    total = secondary.get("total")
    if value is not None and total is not None and float(value).is_integer():
        return f"{int(value)}/{int(total)}"
    return number(value)
