"""Markup assertions: the output is (or holds) XML, HTML or SQL.

is-xml, contains-xml
    Well-formed XML (Python's expat parser; surrounding whitespace aside), or an element of it
    somewhere in the text. ``value`` (promptfoo's) names elements that must be there, as dotted
    paths from the root (``analysis.sentiment``): a list, a comma-separated string, or
    ``{requiredElements: [...]}``.
is-html, contains-html
    HTML: the trimmed output starts with ``<`` and ends with ``>``, is not an XML document
    (``<?xml``), and holds at least one element HTML defines. contains-html: at least one tag
    of an element HTML defines appears anywhere. Neither checks that tags are balanced, as
    browsers do not.
is-sql, contains-sql
    One or more SQL statements that sqlglot parses in the dialect ``value.databaseType`` names
    (promptfoo's names: MySQL, the default, PostgreSQL, SQLite, BigQuery, Snowflake,
    TransactSQL, ...); a bare expression or a statement sqlglot cannot read fails.
    ``value.allowedTables`` lists ``table`` or ``operation::database::table`` (``null`` for
    any database) that the statements may touch. contains-sql reads the first ```sql fence
    when there is one. Needs the ``[sql]`` extra.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ElementTree
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from overnight.evaluators import text
from overnight.evaluators.assertions._base import (
    BuiltinAssertion,
    CheckContext,
    CheckError,
    plural,
    quote,
)
from overnight.evaluators.assertions._text import split_items

_MOST_CANDIDATES = 64


def _parsed_xml(source: str) -> ElementTree.Element | str:
    """The root element, or why ``source`` is not XML."""
    try:
        return ElementTree.fromstring(source.strip())
    except ElementTree.ParseError as exc:
        return f"not well-formed XML: {exc}"


def _missing(root: ElementTree.Element, paths: list[str]) -> list[str]:
    missing = []
    for path in paths:
        head, *rest = path.split(".")
        if root.tag != head or (rest and root.find("/".join(rest)) is None):
            missing.append(path)
    return missing


class IsXml(BuiltinAssertion):
    name: ClassVar[str] = "is-xml"
    required: list[str] = Field(default_factory=list, alias="value")

    @model_validator(mode="before")
    @classmethod
    def _promptfoo_value(cls, data: Any) -> Any:
        if not isinstance(data, dict) or "value" not in data:
            return data
        value = data["value"]
        if isinstance(value, dict) and set(value) == {"requiredElements"}:
            value = value["requiredElements"]
        if isinstance(value, str):
            value = split_items(value)
        return {**data, "value": value}

    def _verdict(self, root: ElementTree.Element | str) -> tuple[bool, str]:
        if isinstance(root, str):
            return False, root
        missing = _missing(root, self.required)
        if missing:
            return False, f"XML with root <{root.tag}>, missing {', '.join(missing)}"
        return (
            True,
            f"well-formed XML, root <{root.tag}> with {plural(len(root), 'child', 'children')}",
        )

    def _check(self, output: str, context: CheckContext) -> tuple[bool, str]:
        return self._verdict(_parsed_xml(output))


_OPENING = re.compile(r"<([A-Za-z_][\w.:-]*)(?=[\s/>])")


def xml_elements(output: str) -> list[ElementTree.Element]:
    """Well-formed elements found in ``output``, the widest first at each start."""
    found: list[ElementTree.Element] = []
    tried = 0
    position = 0
    while tried < _MOST_CANDIDATES and (opening := _OPENING.search(output, position)):
        name, start = opening.group(1), opening.start()
        ends = [m.end() for m in re.finditer(rf"</{re.escape(name)}\s*>", output[start:])]
        self_closing = output.find("/>", start)
        if self_closing >= 0:
            ends.append(self_closing - start + 2)
        element = None
        for end in sorted(ends, reverse=True)[:8]:
            tried += 1
            parsed = _parsed_xml(output[start : start + end])
            if not isinstance(parsed, str):
                element = parsed
                position = start + end
                break
        if element is None:
            position = opening.end()
        else:
            found.append(element)
    return found


class ContainsXml(IsXml):
    name: ClassVar[str] = "contains-xml"

    def _check(self, output: str, context: CheckContext) -> tuple[bool, str]:
        elements = xml_elements(output)
        if not elements:
            return False, f"no well-formed XML element in {plural(len(output), 'char')}"
        verdicts = [self._verdict(element) for element in elements]
        return next((v for v in verdicts if v[0]), verdicts[0])


HTML_ELEMENTS = frozenset(
    [
        "a",
        "abbr",
        "address",
        "area",
        "article",
        "aside",
        "audio",
        "b",
        "base",
        "bdi",
        "bdo",
        "blockquote",
        "body",
        "br",
        "button",
        "canvas",
        "caption",
        "cite",
        "code",
        "col",
        "colgroup",
        "data",
        "datalist",
        "dd",
        "del",
        "details",
        "dfn",
        "dialog",
        "div",
        "dl",
        "dt",
        "em",
        "embed",
        "fieldset",
        "figcaption",
        "figure",
        "footer",
        "form",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "head",
        "header",
        "hgroup",
        "hr",
        "html",
        "i",
        "iframe",
        "img",
        "input",
        "ins",
        "kbd",
        "label",
        "legend",
        "li",
        "link",
        "main",
        "map",
        "mark",
        "menu",
        "meta",
        "meter",
        "nav",
        "noscript",
        "object",
        "ol",
        "optgroup",
        "option",
        "output",
        "p",
        "picture",
        "pre",
        "progress",
        "q",
        "rp",
        "rt",
        "ruby",
        "s",
        "samp",
        "script",
        "search",
        "section",
        "select",
        "slot",
        "small",
        "source",
        "span",
        "strong",
        "style",
        "sub",
        "summary",
        "sup",
        "table",
        "tbody",
        "td",
        "template",
        "textarea",
        "tfoot",
        "th",
        "thead",
        "time",
        "title",
        "tr",
        "track",
        "u",
        "ul",
        "var",
        "video",
        "wbr",
        "svg",
        "math",
    ]
)


# A tag's attributes stop at the next angle bracket, so a page of unclosed tags stays linear.
_TAG = re.compile(r"<(?P<name>[A-Za-z][A-Za-z0-9]*+)(?:\s[^<>]*+)?+/?>")


def html_tags(source: str) -> list[str]:
    """The names of the tags of elements HTML defines, in order (closing tags aside)."""
    names = (match.group("name").lower() for match in _TAG.finditer(source))
    return [name for name in names if name in HTML_ELEMENTS]


def _tag_summary(tags: list[str]) -> str:
    return f"{plural(len(tags), 'HTML tag')}, first <{tags[0]}>"


class IsHtml(BuiltinAssertion):
    name: ClassVar[str] = "is-html"

    def _check(self, output: str, context: CheckContext) -> tuple[bool, str]:
        body = output.strip()
        if not (body.startswith("<") and body.endswith(">")):
            return False, f"not HTML: it must start with '<' and end with '>': {quote(body)}"
        if body[:5].lower() == "<?xml":
            return False, "not HTML: an XML document (<?xml ...?>)"
        tags = html_tags(body)
        if not tags:
            return False, "not HTML: no element HTML defines"
        return True, f"HTML: {_tag_summary(tags)}"


class ContainsHtml(BuiltinAssertion):
    name: ClassVar[str] = "contains-html"

    def _check(self, output: str, context: CheckContext) -> tuple[bool, str]:
        tags = html_tags(output)
        if not tags:
            return False, f"no HTML element in {plural(len(output), 'char')}"
        return True, f"holds {_tag_summary(tags)}"


DIALECTS = {
    "mysql": "mysql",
    "mariadb": "mysql",
    "postgresql": "postgres",
    "postgres": "postgres",
    "sqlite": "sqlite",
    "bigquery": "bigquery",
    "snowflake": "snowflake",
    "transactsql": "tsql",
    "tsql": "tsql",
    "redshift": "redshift",
    "hive": "hive",
    "db2": None,
    "flinksql": None,
}


class SqlOptions(BaseModel):
    """promptfoo's ``value`` for is-sql, in promptfoo's keys."""

    model_config = ConfigDict(extra="forbid", strict=True)
    databaseType: str = "MySQL"
    allowedTables: list[str] | None = None

    @field_validator("databaseType")
    @classmethod
    def _known(cls, name: str) -> str:
        if name.lower() not in DIALECTS:
            raise ValueError(f"unknown databaseType {name!r} (known: {', '.join(DIALECTS)})")
        return name


def _statements(source: str, dialect: str | None) -> list[Any] | str:
    try:
        import sqlglot
        from sqlglot import exp
    except ImportError:
        raise CheckError("is-sql needs sqlglot: pip install 'overnight[sql]'") from None
    kinds = (exp.Query, exp.DML, exp.DDL, exp.Drop, exp.Alter, exp.TruncateTable)
    kinds += (exp.Describe, exp.Use, exp.Transaction, exp.Commit, exp.Rollback, exp.Set)
    try:
        parsed = [s for s in sqlglot.parse(source, read=dialect) if s is not None]
    except sqlglot.errors.SqlglotError as exc:
        return f"not SQL: {str(exc).splitlines()[0][:160]}"
    if not parsed:
        return "not SQL: no statement"
    for statement in parsed:
        if not isinstance(statement, kinds):
            return f"not SQL: {quote(statement.sql(), 40)} is not a statement sqlglot can read"
    return parsed


def _table_access(statement: Any) -> set[tuple[str, str, str]]:
    """``(operation, database, table)`` for every table ``statement`` names."""
    from sqlglot import exp

    operation = type(statement).__name__.lower()
    return {(operation, table.db or "null", table.name) for table in statement.find_all(exp.Table)}


def _allowed(access: tuple[str, str, str], allowed: list[str]) -> bool:
    operation, database, table = access
    for entry in allowed:
        parts = entry.split("::")
        if len(parts) == 1 and parts[0] == table:
            return True
        if (
            len(parts) == 3
            and parts[2] == table
            and parts[0].lower() in (operation, "(.*)")
            and parts[1] in ("null", "(.*)", database)
        ):
            return True
    return False


class IsSql(BuiltinAssertion):
    name: ClassVar[str] = "is-sql"
    options: SqlOptions = Field(default_factory=SqlOptions, alias="value")

    def _source(self, output: str) -> str:
        return output

    def _check(self, output: str, context: CheckContext) -> tuple[bool, str]:
        dialect = DIALECTS[self.options.databaseType.lower()]
        parsed = _statements(self._source(output), dialect)
        if isinstance(parsed, str):
            return False, parsed
        if self.options.allowedTables is not None:
            touched = set().union(*(_table_access(s) for s in parsed))
            refused = sorted(
                f"{op}::{db}::{t}"
                for op, db, t in touched
                if not _allowed((op, db, t), self.options.allowedTables)
            )
            if refused:
                return False, f"touches tables not allowed: {', '.join(refused)}"
        kinds = ", ".join(dict.fromkeys(type(s).__name__.upper() for s in parsed))
        return (
            True,
            f"{plural(len(parsed), 'SQL statement')} ({kinds}) in {self.options.databaseType}",
        )


class ContainsSql(IsSql):
    name: ClassVar[str] = "contains-sql"

    def _source(self, output: str) -> str:
        return text.strip_code_fence(output, "sql")


FAMILY = (IsXml, ContainsXml, IsHtml, ContainsHtml, IsSql, ContainsSql)
