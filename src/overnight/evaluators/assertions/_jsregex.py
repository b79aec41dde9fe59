"""JavaScript regular expressions, run on Python's engine.

promptfoo builds its regexes with JavaScript's ``new RegExp(value)``, and JSON Schema's
``pattern`` is ECMA-262 too. The two dialects read most patterns alike; where they differ, this
rewrites the pattern so Python matches what JavaScript would:

- ``$`` matches only at the very end (Python's also matches before a final newline); with the
  ``m`` flag it matches before every line break, as in both.
- ``\\d``, ``\\w`` and ``\\b`` are ASCII (Python's also match other scripts' digits and
  letters); ``\\s`` is JavaScript's set of spaces, Unicode ones included.
- ``(?<name>...)`` and ``\\k<name>`` name groups as JavaScript writes them.
- ``.`` stops at every line break JavaScript knows (``\\r``, U+2028 and U+2029 too) unless the
  ``s`` flag is set.
- ``[^]`` matches any character, and ``[]`` none.

Left as Python reads them: ``\\S`` inside a bracket class (ASCII there), Unicode property
escapes and the ``u``/``v`` flags' extra syntax, which Python refuses as an invalid pattern.
"""

from __future__ import annotations

import re

_JS_SPACE = (
    "\\t\\n\\x0b\\x0c\\r \\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff"
)
_WORD = "A-Za-z0-9_"
_OUTSIDE = {
    "d": "[0-9]",
    "D": "[^0-9]",
    "w": f"[{_WORD}]",
    "W": f"[^{_WORD}]",
    "s": f"[{_JS_SPACE}]",
    "S": f"[^{_JS_SPACE}]",
    "b": f"(?:(?<=[{_WORD}])(?![{_WORD}])|(?<![{_WORD}])(?=[{_WORD}]))",
    "B": f"(?:(?<=[{_WORD}])(?=[{_WORD}])|(?<![{_WORD}])(?![{_WORD}]))",
}
_INSIDE = {"d": "0-9", "w": _WORD, "s": _JS_SPACE}
_GROUP_NAME = re.compile(r"\(\?<([A-Za-z_$][\w$]*)>")
_BACKREFERENCE = re.compile(r"k<([A-Za-z_$][\w$]*)>")


def translate(pattern: str, multiline: bool = False, dotall: bool = False) -> str:
    """``pattern`` rewritten for Python's ``re`` (see the module's rules)."""
    out: list[str] = []
    i, in_class = 0, False
    while i < len(pattern):
        char = pattern[i]
        if char == "\\" and i + 1 < len(pattern):
            letter = pattern[i + 1]
            backreference = _BACKREFERENCE.match(pattern, i + 1)
            if backreference and not in_class:
                out.append(f"(?P={backreference.group(1)})")
                i = backreference.end()
                continue
            table = _INSIDE if in_class else _OUTSIDE
            out.append(table.get(letter, char + letter))
            i += 2
            continue
        if in_class:
            if char == "]":
                in_class = False
            out.append(char)
        elif pattern.startswith("[^]", i):
            out.append("[\\s\\S]")
            i += 3
            continue
        elif pattern.startswith("[]", i):
            out.append("(?!)")
            i += 2
            continue
        elif char == "[":
            in_class = True
            out.append(char)
        elif char == "." and not dotall:
            out.append(r"[^\n\r\u2028\u2029]")
        elif char == "$":
            out.append("$" if multiline else r"\Z")
        elif (named := _GROUP_NAME.match(pattern, i)) is not None:
            out.append(f"(?P<{named.group(1)}>")
            i = named.end()
            continue
        else:
            out.append(char)
        i += 1
    return "".join(out)
