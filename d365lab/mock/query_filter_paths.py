"""``$filter`` across relationships: a lookup's columns and ``any``/``all`` on collections.

- ``parentaccountid/name eq 'x'``: a column of the row a single-valued navigation points
  to, compared like any column (a missing related row reads as null). One level deep.
- ``contact_customer_accounts/any(c:c/fullname eq 'x')``, ``…/all(c:…)`` and ``…/any()``:
  whether some / every related row of a collection-valued navigation matches (``all`` on
  no related rows is true, as in OData). The lambda body is an ordinary ``$filter`` on the
  related table, its properties prefixed by the range variable; lambdas nest within the
  ``$filter`` nesting limit.

The SQL is a correlated subquery per path, against the outer table by its name (every
``$filter`` runs in a ``FROM "<table>"`` without alias).
"""

from __future__ import annotations

from itertools import count
from typing import TYPE_CHECKING

from d365lab.mock import service_errors as errors
from d365lab.mock.limits import MAX_FILTER_DEPTH
from d365lab.mock.query_aggregate import Source
from d365lab.mock.query_lexer import Token, syntax_error
from d365lab.mock.relationships import one_to_many
from d365lab.mock.store import quote
from d365lab.models.schema import TABLES, Column

if TYPE_CHECKING:
    from d365lab.mock.query_filter import FilterCompiler, Operand

_ALIASES = count(1)
LAMBDAS = ("any", "all")


def _outer(compiler: FilterCompiler, column: Column) -> str:
    return f"{compiler.sql_name or quote(compiler.table.logical_name)}.{quote(column.name)}"


def related_operand(compiler: FilterCompiler, nav: str, attr: str) -> Operand | None:
    """``nav/attr`` as an operand (a scalar subquery), or None when ``nav`` is no lookup navigation."""
    from d365lab.mock.query_filter import Operand

    found = compiler.table.navigation_properties().get(nav)
    if found is None or found[1] not in TABLES or "/" in attr:
        return None
    lookup, target_name = found
    source = Source(f"rel{next(_ALIASES)}", TABLES[target_name])
    column = source.column(attr)
    if column.is_lookup and not attr.startswith("_"):
        raise errors.unknown_property(f"{nav}/{attr}", compiler.table.logical_name)
    key = source.value_sql(source.table.columns[source.table.primary_id])
    tail = f"FROM {quote(target_name)} AS {source.sql_alias} WHERE {key} = {_outer(compiler, lookup)}"
    return Operand(column=column, sql=f"(SELECT {source.compare_sql(column)} {tail})",
                   presence=f"(SELECT {source.presence_sql(column)} {tail})")


def is_lambda(compiler: FilterCompiler, token: Token) -> bool:
    """True when ``token`` starts ``<collection>/any(`` or ``<collection>/all(``."""
    following = compiler._peek_at(1)
    return (token.kind == "name" and token.text.rpartition("/")[2] in LAMBDAS and "/" in token.text
            and following is not None and following.text == "(")


def lambda_condition(compiler: FilterCompiler) -> str:
    """Compile ``<collection>/any(v:…)`` / ``…/all(v:…)`` at the compiler's position."""
    from d365lab.mock.query_filter import FilterCompiler

    token = compiler._next()
    nav, _, kind = token.text.rpartition("/")
    relation = one_to_many(compiler.table).get(nav)
    if relation is None or relation.intersect is not None or relation.target not in TABLES:
        raise errors.unknown_property(nav, compiler.table.logical_name)
    target = TABLES[relation.target]
    compiler._next("(")
    body: list[Token] = []
    following = compiler._peek()
    if following is not None and following.text == ")":
        compiler._next()
        if kind == "all":
            raise syntax_error(compiler.text, token.pos, "all() needs a lambda expression")
    else:
        variable = compiler._next(what="a range variable")
        if variable.kind != "name" or "/" in variable.text:
            raise syntax_error(compiler.text, variable.pos, "expected a range variable such as 'c'")
        compiler._next(":")
        body = _body_tokens(compiler, variable.text)
    inner = Source(f"lam{next(_ALIASES)}", target)
    link = (f"{inner.value_sql(target.columns[relation.column])} = "
            f"{_outer(compiler, compiler.table.columns[compiler.table.primary_id])}")
    if not body:
        return f"(EXISTS (SELECT 1 FROM {quote(target.logical_name)} AS {inner.sql_alias} WHERE {link}))"
    sub = FilterCompiler(target, compiler.text, compiler.aliases, compiler.user_id)
    sub.tokens, sub.depth, sub.terms, sub.sql_name = body, compiler.depth + 1, compiler.terms, inner.sql_alias
    if sub.depth > MAX_FILTER_DEPTH:
        raise syntax_error(compiler.text, token.pos, "lambdas are nested too deeply")
    condition, params = sub.compile()
    compiler.terms = sub.terms
    compiler.params.extend(params)
    matches = f"SELECT 1 FROM {quote(target.logical_name)} AS {inner.sql_alias} WHERE {link}"
    if kind == "any":
        return f"(EXISTS ({matches} AND {condition}))"
    return f"(NOT EXISTS ({matches} AND NOT COALESCE({condition}, 0)))"


def _body_tokens(compiler: FilterCompiler, variable: str) -> list[Token]:
    """The lambda body up to its closing parenthesis, ``v/x`` rewritten as ``x``."""
    body: list[Token] = []
    depth = 0
    prefix = variable + "/"
    while True:
        token = compiler._next(what="')' closing the lambda")
        if token.text == "(":
            depth += 1
        elif token.text == ")":
            if depth == 0:
                break
            depth -= 1
        if token.kind == "name" and token.text.startswith(prefix):
            token = Token("name", token.text[len(prefix):], token.pos)
        elif token.kind == "name" and token.text == variable:
            raise syntax_error(compiler.text, token.pos, f"'{variable}' alone is not a property")
        body.append(token)
    if not body:
        raise syntax_error(compiler.text, compiler.pos, "the lambda expression is empty")
    return body
