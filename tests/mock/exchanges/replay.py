"""Replaying documented HTTP exchanges (the YAML files of this folder) against the mock.

Each file holds one documentation page: ``page`` and ``steps``; a step has a ``name``
(section and step of the page), a ``request`` (``method``, ``path`` relative to the service
root or an absolute ``url``, ``headers``, JSON ``body``), what to ``capture`` for later steps
(``header:OData-EntityId`` -> the id in it, ``header:ETag``, ``body:a.b.0``, ``body:link|param`` ->
one query parameter of a link) and the expected
``response``: ``status``, ``headers``, ``body`` (or ``text``), with

- ``unordered: [key, ...]``: those lists may come in any order;
- ``items_of: {key: n}``: that list holds ``n`` distinct items, each one of the expected list;
- ``body_subset: true``: only the expected keys are compared (error bodies the page elides).

Values are compared exactly except the masks ``<guid>``, ``<etag>``, ``<int>``, ``<any>``
(also inside a string), ``{root}``/``{origin}`` and ``{name}`` (a captured value).
``requires: [table, table.column]`` skips a step (and the steps after it) when the mock's
schema lacks what the page's request writes. ``setup: true`` steps prepare the page's sample
data and are not exchanges of their own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
import yaml

from d365lab.mock.wire import parse_prefer
from d365lab.models.schema import TABLES

HERE = Path(__file__).parent
_GUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_MASKS = {"<guid>": _GUID, "<etag>": r'W/"\d+"', "<int>": r"\d+", "<any>": r".*"}
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


@dataclass
class Page:
    """One documentation page: its name and its steps."""

    name: str
    steps: list[dict[str, Any]]


@dataclass
class Replay:
    """The state of one replay: the service root and the values captured so far."""

    root: str
    values: dict[str, str] = field(default_factory=dict)

    def fill(self, text: str) -> str:
        """``{root}``, ``{origin}`` and captured ``{name}`` placeholders replaced."""
        known = {"root": self.root.rstrip("/"), "origin": self.root.split("/api/data/")[0], **self.values}
        return _PLACEHOLDER.sub(lambda m: known.get(m.group(1), m.group(0)), text)

    def fill_json(self, value: Any) -> Any:
        """:meth:`fill` applied to every string (keys too) of a JSON value."""
        if isinstance(value, str):
            return self.fill(value)
        if isinstance(value, list):
            return [self.fill_json(v) for v in value]
        if isinstance(value, dict):
            return {self.fill(k): self.fill_json(v) for k, v in value.items()}
        return value


def load_pages() -> list[Page]:
    """Every page file of this folder."""
    pages = []
    for path in sorted(HERE.glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        pages.append(Page(str(data["page"]), list(data["steps"])))
    return pages


def missing_requirements(step: dict[str, Any]) -> list[str]:
    """The ``requires`` entries the mock's schema does not have."""
    missing = []
    for item in step.get("requires", []):
        table, _, column = str(item).partition(".")
        if table not in TABLES or (column and column not in TABLES[table].columns):
            missing.append(str(item))
    return missing


def send(api: requests.Session, replay: Replay, step: dict[str, Any]) -> requests.Response:
    """Send a step's request (placeholders filled)."""
    request = step["request"]
    target = replay.fill(request["url"]) if "url" in request else replay.fill(request["path"])
    headers = {k: replay.fill(str(v)) for k, v in (request.get("headers") or {}).items()}
    kwargs: dict[str, Any] = {"headers": headers}
    if "body" in request:
        kwargs["json"] = replay.fill_json(request["body"])
    return api.request(request["method"], target, **kwargs)


def capture(replay: Replay, step: dict[str, Any], response: requests.Response) -> None:
    """Store the values a step captures for the steps after it."""
    for name, source in (step.get("capture") or {}).items():
        kind, _, where = str(source).partition(":")
        if kind == "header":
            value = response.headers[where]
            if where.lower() == "odata-entityid":
                value = value[value.rindex("(") + 1:-1]
        else:
            path, _, parameter = where.partition("|")
            value = _at_path(response.json(), path)
            if parameter:  # "body:@odata.deltaLink|$deltatoken": one query parameter of a link
                value = parse_qs(urlsplit(str(value)).query)[parameter][0]
        replay.values[name] = str(value)


def _at_path(value: Any, path: str) -> Any:
    if path in value if isinstance(value, dict) else False:
        return value[path]
    head, _, rest = path.partition(".")
    item = value[int(head)] if isinstance(value, list) else value[head]
    return _at_path(item, rest) if rest else item


def check(replay: Replay, step: dict[str, Any], response: requests.Response) -> list[str]:
    """What differs between the response and the step's documented one (empty when it matches)."""
    expected = step["response"]
    problems: list[str] = []
    if response.status_code != expected["status"]:
        return [f"status {response.status_code} instead of {expected['status']}: {response.text[:400]}"]
    for name, value in (expected.get("headers") or {}).items():
        actual = response.headers.get(name)
        wanted = replay.fill(str(value))
        if actual is None:
            problems.append(f"header {name} missing")
        elif name.lower() == "preference-applied":
            if parse_prefer(actual) != parse_prefer(wanted):
                problems.append(f"header {name}: {actual!r} instead of {wanted!r}")
        elif not _text_matches(wanted, actual):
            problems.append(f"header {name}: {actual!r} instead of {wanted!r}")
    if expected.get("empty_body") and response.content:
        problems.append(f"a body came back: {response.text[:200]}")
    if "text" in expected and response.text != replay.fill(str(expected["text"])):
        problems.append(f"body {response.text!r} instead of {expected['text']!r}")
    if "body" in expected:
        options = _Options(set(expected.get("unordered", [])), dict(expected.get("items_of", {})),
                           bool(expected.get("body_subset")))
        problems += _compare(replay.fill_json(expected["body"]), response.json(), "body", options)
    return problems


@dataclass
class _Options:
    unordered: set[str]
    items_of: dict[str, int]
    subset: bool


def _text_matches(expected: str, actual: str) -> bool:
    pattern = re.escape(expected)
    for mask, regex in _MASKS.items():
        pattern = pattern.replace(re.escape(mask), regex)
    return re.fullmatch(pattern, actual, flags=re.DOTALL) is not None


def _compare(expected: Any, actual: Any, where: str, options: _Options, key: str = "") -> list[str]:
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{where}: {actual!r} is not an object"]
        problems = []
        if not options.subset and set(expected) != set(actual):
            problems.append(f"{where}: keys {sorted(set(actual) - set(expected))} unexpected, "
                            f"{sorted(set(expected) - set(actual))} missing")
        for name, value in expected.items():
            if name in actual:
                problems += _compare(value, actual[name], f"{where}.{name}", options, name)
        return problems
    if isinstance(expected, list):
        return _compare_list(expected, actual, where, options, key)
    if expected == "<int>":
        return [] if isinstance(actual, int) and not isinstance(actual, bool) else [f"{where}: {actual!r} is no int"]
    if isinstance(expected, str) and isinstance(actual, str):
        return [] if _text_matches(expected, actual) else [f"{where}: {actual!r} instead of {expected!r}"]
    if expected == "<any>":
        return []
    if type(expected) is not type(actual) and not (isinstance(expected, float) and isinstance(actual, int)):
        return [f"{where}: {actual!r} instead of {expected!r}"]
    return [] if expected == actual else [f"{where}: {actual!r} instead of {expected!r}"]


def _compare_list(expected: list[Any], actual: Any, where: str, options: _Options, key: str) -> list[str]:
    if not isinstance(actual, list):
        return [f"{where}: {actual!r} is not an array"]
    if key in options.items_of:
        wanted = options.items_of[key]
        if len(actual) != wanted:
            return [f"{where}: {len(actual)} items instead of {wanted}"]
        return _match_each(expected, actual, where, options, reuse=False)
    if len(actual) != len(expected):
        return [f"{where}: {len(actual)} items instead of {len(expected)}"]
    if key in options.unordered:
        return _match_each(expected, actual, where, options, reuse=False)
    problems = []
    for index, (e, a) in enumerate(zip(expected, actual, strict=True)):
        problems += _compare(e, a, f"{where}[{index}]", options)
    return problems


def _match_each(expected: list[Any], actual: list[Any], where: str, options: _Options, *, reuse: bool) -> list[str]:
    """Every actual item matches a distinct expected item."""
    remaining = list(expected)
    for index, item in enumerate(actual):
        for candidate in remaining:
            if not _compare(candidate, item, where, options):
                if not reuse:
                    remaining.remove(candidate)
                break
        else:
            return [f"{where}[{index}]: {item!r} matches none of the documented items"]
    return []
