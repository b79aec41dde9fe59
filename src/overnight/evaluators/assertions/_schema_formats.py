"""JSON Schema's ``format`` values that the schema validator checks, and how.

date, time, date-time
    RFC 3339: ``2024-02-29`` (a real day of a real month), ``13:45:00Z`` or with an offset and
    fractional seconds, and the two joined by ``T`` (or ``t`` or a space). A time needs its
    offset, as RFC 3339 says.
email
    ``local@domain``: a local part of letters, digits and ``!#$%&'*+/=?^_`{|}~.-`` (no leading,
    trailing or doubled dot), and a hostname with at least one dot.
hostname
    Labels of letters, digits and inner hyphens, 63 characters at most, 253 in all.
ipv4, ipv6
    Dotted quads without leading zeros; IPv6 as Python's ``ipaddress`` reads it.
uri
    An absolute URI: a scheme, a colon, and no spaces or characters a URI never holds.
uuid
    8-4-4-4-12 hexadecimal digits.
regex
    A pattern JavaScript (ECMA-262) would accept, as far as ``_jsregex`` can tell.
"""

from __future__ import annotations

import datetime
import ipaddress
import re
from collections.abc import Callable

from overnight.evaluators.assertions._jsregex import translate

_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_TIME = re.compile(r"(\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(?:[zZ]|[+-](\d{2}):(\d{2}))")
_EMAIL = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?P<host>[^@\s]+\.[^@\s]+)"
)
_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
_IPV4 = re.compile(
    r"(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
)
_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:[^\s<>\"{}|\\^`]*")
_UUID = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")


def _date(value: str) -> bool:
    match = _DATE.fullmatch(value)
    if not match:
        return False
    try:
        datetime.date(*map(int, match.groups()))
    except ValueError:
        return False
    return True


def _time(value: str) -> bool:
    match = _TIME.fullmatch(value)
    if not match:
        return False
    hour, minute, second, offset_hour, offset_minute = match.groups()
    offset_ok = offset_hour is None or (int(offset_hour) <= 23 and int(offset_minute) <= 59)
    # second 60 is a leap second
    return int(hour) <= 23 and int(minute) <= 59 and int(second) <= 60 and offset_ok


def _date_time(value: str) -> bool:
    parts = re.split(r"[Tt ]", value, maxsplit=1)
    return len(parts) == 2 and _date(parts[0]) and _time(parts[1])


def _hostname(value: str) -> bool:
    host = value.removesuffix(".")
    return 0 < len(host) <= 253 and all(_LABEL.fullmatch(label) for label in host.split("."))


def _email(value: str) -> bool:
    match = _EMAIL.fullmatch(value)
    return bool(match) and _hostname(match.group("host"))


def _ipv6(value: str) -> bool:
    try:
        ipaddress.IPv6Address(value)
    except ValueError:
        return False
    return True


def _regex(value: str) -> bool:
    try:
        re.compile(translate(value))
    except re.error:
        return False
    return True


FORMATS: dict[str, Callable[[str], bool]] = {
    "date": _date,
    "time": _time,
    "date-time": _date_time,
    "email": _email,
    "hostname": _hostname,
    "ipv4": lambda value: bool(_IPV4.fullmatch(value)),
    "ipv6": _ipv6,
    "uri": lambda value: bool(_URI.fullmatch(value)),
    "uuid": lambda value: bool(_UUID.fullmatch(value)),
    "regex": _regex,
}
