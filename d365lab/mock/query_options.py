"""Parsing the system query options of a request: ``$select``, ``$filter``, ``$expand``, ...

:func:`parse_options` turns a query dict into :class:`QueryOptions`; ``$expand`` items
keep their nested options as text, parsed again when they are expanded.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from d365lab.mock import service_errors as errors
from d365lab.mock.limits import INT32_RANGE
from d365lab.mock.query_lexer import SYNTAX_ERROR
from d365lab.mock.wire import split_outside_quotes, split_top_level

_KNOWN_OPTIONS = frozenset({"$select", "$filter", "$orderby", "$top", "$count", "$expand", "$skiptoken",
                            "$format"})


@dataclass
class Expansion:
    """One ``$expand`` item: the navigation property and its nested options."""

    name: str
    options: dict[str, str] = field(default_factory=dict)


@dataclass
class QueryOptions:
    """The parsed system query options of one request (or one nested ``$expand``)."""

    select: list[str] | None = None
    filter: str | None = None
    orderby: list[tuple[str, bool]] = field(default_factory=list)
    top: int | None = None
    count: bool = False
    expand: list[Expansion] = field(default_factory=list)
    skiptoken: str | None = None
    aliases: dict[str, str] = field(default_factory=dict)


def parse_options(query: dict[str, str]) -> QueryOptions:
    """Parse ``$select``/``$filter``/... from a query dict (``$skip`` is refused)."""
    if "$skip" in query:
        raise errors.bad_request("The query parameter $skip is not supported.", code=SYNTAX_ERROR)
    for name in query:
        if name.startswith("$") and name not in _KNOWN_OPTIONS:
            raise errors.bad_request(f"The query parameter {name} is not supported.", code=SYNTAX_ERROR)
        if name in ("savedQuery", "userQuery"):
            raise errors.bad_request(f"The query parameter {name} is not supported by the mock tenant.",
                                     code=SYNTAX_ERROR)
    options = QueryOptions(aliases={k: v for k, v in query.items() if k.startswith("@")})
    if query.get("$select"):
        options.select = [s.strip() for s in query["$select"].split(",") if s.strip()]
    if query.get("$filter"):
        options.filter = query["$filter"]
    for item in split_outside_quotes(query.get("$orderby", "")):
        name, _, direction = item.partition(" ")
        name = _resolve_alias(name.strip(), options.aliases)
        direction = direction.strip().lower()
        if direction not in ("", "asc", "desc"):
            raise errors.bad_request(f"Invalid $orderby direction '{direction}'.", code=SYNTAX_ERROR)
        options.orderby.append((name.strip(), direction == "desc"))
    if query.get("$top"):
        try:
            options.top = int(query["$top"])
        except ValueError:
            raise errors.bad_request(f"Invalid $top value '{query['$top']}'.", code=SYNTAX_ERROR) from None
        if not 0 <= options.top <= INT32_RANGE[1]:
            raise errors.bad_request(f"$top must be a whole number from 0 to {INT32_RANGE[1]}.", code=SYNTAX_ERROR)
    options.count = query.get("$count", "").lower() == "true"
    options.expand = parse_expand(query.get("$expand", ""))
    options.skiptoken = query.get("$skiptoken")
    return options


def _resolve_alias(name: str, aliases: dict[str, str]) -> str:
    """A ``$orderby`` key written as a parameter alias (``$orderby=@p4 asc&@p4=jobtitle``) -> the property."""
    if not name.startswith("@"):
        return name
    if name not in aliases:
        raise errors.bad_request(f"The parameter alias '{name}' has no value in the query string.", code=SYNTAX_ERROR)
    return aliases[name].strip()


def parse_expand(text: str) -> list[Expansion]:
    """``a($select=x;$top=2),b($expand=c($select=y))`` -> expansions with their nested options.

    Commas and semicolons split only outside parentheses and quoted strings, so nested
    ``$expand`` options and ``$filter`` texts keep their own.
    """
    out: list[Expansion] = []
    for item in _split_top_level(text, ","):
        name, paren, rest = item.partition("(")
        nested: dict[str, str] = {}
        if paren:
            rest = rest.rstrip()
            if not rest.endswith(")"):
                raise errors.bad_request(f"Syntax error in $expand: ')' expected after '{item}'.",
                                         code=SYNTAX_ERROR)
            for option in _split_top_level(rest[:-1], ";"):
                key, _, value = option.partition("=")
                nested[key.strip()] = value.strip()
        out.append(Expansion(name.strip(), nested))
    return out


def _split_top_level(text: str, separator: str) -> list[str]:
    """The non-blank parts, stripped, of :func:`~d365lab.mock.wire.split_top_level`."""
    return [part.strip() for part in split_top_level(text, separator) if part.strip()]
