"""The mock tenant's stated limits on the size and shape of a request, and the checks that enforce them.

A request past one of these limits is a 400 naming the limit, never a crash deep in the
JSON parser, the query compiler or SQLite (whose expression depth and parser stack are
finite). The values are documented in ``docs/mock-tenant.md`` ("Limits"); the service's own
limits are not published for all of them, so the mock states its own (UNVERIFIED).

Numbers: every integer the mock stores or compares is a 64-bit SQLite integer, so a value
outside the range of its column type is refused here before any SQL sees it; floats must
be finite.
"""

from __future__ import annotations

import math
import re
from typing import Any

from d365lab.mock import service_errors as errors
from d365lab.mock.service_errors import MockError

#: Nesting of arrays/objects in a JSON body (the OData reader's default quota).
MAX_JSON_DEPTH = 100
#: Nesting of parentheses, ``not`` and query functions in one ``$filter``.
MAX_FILTER_DEPTH = 20
#: Comparisons and query functions in one ``$filter`` (or in one translated ``?sql=`` WHERE).
MAX_FILTER_TERMS = 500
#: Values bound by one ``$filter``/FetchXML query (``In`` lists included).
MAX_QUERY_VALUES = 5000
#: Nesting of ``<filter>`` elements in one FetchXML document.
MAX_FETCH_DEPTH = 20
#: ``<condition>`` elements in one FetchXML document.
MAX_FETCH_CONDITIONS = 500
#: Length of a ``$skiptoken`` (the mock's own tokens are far shorter).
MAX_SKIPTOKEN_LENGTH = 4096

INT32_RANGE = (-(2**31), 2**31 - 1)
INT64_RANGE = (-(2**63), 2**63 - 1)

LIMIT_CODE = "0x80040203"
_SURROGATE = re.compile("[\ud800-\udfff]")
_ESCAPED_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]")


def limit_exceeded(what: str, limit: int) -> MockError:
    """400 for a request past one of the stated limits."""
    return errors.bad_request(f"The request exceeds a limit of the mock tenant: {what} (at most {limit}).",
                              code=LIMIT_CODE)


def has_surrogate(text: str) -> bool:
    """True when ``text`` holds a lone UTF-16 surrogate (not encodable as UTF-8)."""
    return _SURROGATE.search(text) is not None


def finite_float(text: str) -> float:
    """A JSON number with a fraction or exponent as a float; out-of-range (``1e400``) is a ValueError."""
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text[:40]} is out of range")
    return value


def in_int64(value: int) -> bool:
    """True when ``value`` fits a signed 64-bit integer (what SQLite stores)."""
    return INT64_RANGE[0] <= value <= INT64_RANGE[1]


def check_json_value(value: Any, body: bytes) -> None:
    """Refuse a parsed JSON body nested deeper than :data:`MAX_JSON_DEPTH` or holding a lone surrogate.

    ``body`` (the raw bytes) decides cheaply whether a walk is needed at all: a body with few
    brackets cannot be deep, and a body without a ``\\uD8xx``-style escape cannot hold a lone
    surrogate (raw surrogate bytes are refused by the strict UTF-8 decode before parsing).
    """
    deep = body.count(b"[") + body.count(b"{") > MAX_JSON_DEPTH
    escaped = _ESCAPED_SURROGATE.search(body) is not None
    if not deep and not escaped:
        return
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            if depth > MAX_JSON_DEPTH:
                raise limit_exceeded("JSON nesting depth", MAX_JSON_DEPTH)
            for key, child in item.items():
                if escaped and has_surrogate(key):
                    raise lone_surrogate()
                stack.append((child, depth + 1))
        elif isinstance(item, list):
            if depth > MAX_JSON_DEPTH:
                raise limit_exceeded("JSON nesting depth", MAX_JSON_DEPTH)
            stack.extend((child, depth + 1) for child in item)
        elif escaped and isinstance(item, str) and has_surrogate(item):
            raise lone_surrogate()


def lone_surrogate() -> MockError:
    """400 for text holding a lone UTF-16 surrogate (``"\\ud800"``)."""
    return errors.bad_request("The request holds a lone UTF-16 surrogate (such as \\ud800), which is not valid "
                              "Unicode text.", code="0x0")
