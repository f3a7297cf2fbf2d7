"""The mock tenant's WSGI application.

``create_app(db_path, settings)`` returns a :class:`MockApp`: a WSGI callable that checks
the bearer token, passes through the service-protection and fault-injection middleware
(when those modules exist) and dispatches to :meth:`MockApp.handle`, the internal
dispatcher the ``$batch`` handler also calls for each part.
"""

from __future__ import annotations

import hmac
import importlib
import importlib.util
import json
import logging
import pkgutil
import re
import sqlite3
import threading
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl

from d365lab.mock import limits
from d365lab.mock import service_errors as errors
from d365lab.mock.codec import annotation_wanted
from d365lab.mock.handlers.registry import DEFAULT as DEFAULT_HANDLERS
from d365lab.mock.handlers.registry import HANDLER_MODULES, HandlerRegistry
from d365lab.mock.rules.base import DEFAULT as DEFAULT_RULES
from d365lab.mock.rules.base import RULE_MODULES, RuleRegistry
from d365lab.mock.seed import CALLER, seed
from d365lab.mock.service_errors import MockError
from d365lab.mock.settings import MockSettings
from d365lab.mock.store import Store
from d365lab.mock.tenant import SqliteTenant
from d365lab.mock.wire import (
    SERVICE_PATH,
    Headers,
    MockRequest,
    MockResponse,
    annotation_patterns,
    error_response,
    new_request_id,
)
from d365lab.mock.wsgi import WsgiApp, run_wsgi

_log = logging.getLogger(__name__)
_EXTENSIONS_LOADED = False
_EXTENSIONS_LOCK = threading.Lock()
AUTHORIZE_URI = "https://login.microsoftonline.com/common/oauth2/authorize"
_VERSIONED_ROOT = re.compile(r"(/api/data/v9\.[0-2])(?=/|$)")


class ExtensionError(RuntimeError):
    """A handler, rule or middleware module of the mock failed to import: the tenant cannot start.

    A tenant without one of its handlers would answer its messages 404 and look healthy;
    refusing to start names the module and the cause instead.
    """


def _same_token(sent: str, expected: str) -> bool:
    """Compare bearer tokens in constant time (no timing hint of how much of a guess was right)."""
    return hmac.compare_digest(sent.encode("utf-8", "surrogateescape"), expected.encode("utf-8", "surrogateescape"))


def extension_modules() -> list[str]:
    """The handler and rule modules in import order: the explicit lists, then any module not listed.

    :data:`~d365lab.mock.handlers.registry.HANDLER_MODULES` and
    :data:`~d365lab.mock.rules.base.RULE_MODULES` give the order; a module of either package
    missing from them is still imported (after them, alphabetically) so that it registers,
    and a test fails until it is listed.
    """
    listed = [*HANDLER_MODULES, *RULE_MODULES]
    found = [f"{package}.{info.name}" for package in ("d365lab.mock.handlers", "d365lab.mock.rules")
             for info in pkgutil.iter_modules(importlib.import_module(package).__path__)]
    return [*listed, *sorted(name for name in found if name not in listed)]


def load_extensions() -> None:
    """Import every handler and rule module once, in :func:`extension_modules` order.

    Modules register their handlers and rules at import (in the default registries each
    app layers its own over). A module that fails to import raises :class:`ExtensionError`
    naming it (the tenant does not start without it).
    """
    global _EXTENSIONS_LOADED
    with _EXTENSIONS_LOCK:
        if _EXTENSIONS_LOADED:
            return
        for name in extension_modules():
            _import_extension(name)
        _import_extension("d365lab.mock.dispatch")
        _EXTENSIONS_LOADED = True


def _import_extension(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except Exception as exc:
        raise ExtensionError(f"the mock tenant cannot start: module {name} failed to import: "
                             f"{type(exc).__name__}: {exc}") from exc


def _optional_middleware(module: str, cls: str) -> Any | None:
    """A middleware class, or None when its module is not part of this installation.

    A module that exists but fails to import, or lacks the class, raises :class:`ExtensionError`.
    """
    name = f"d365lab.mock.{module}"
    if importlib.util.find_spec(name) is None:
        return None
    found = getattr(_import_extension(name), cls, None)
    if found is None:
        raise ExtensionError(f"the mock tenant cannot start: module {name} has no {cls}")
    return found


class MockApp:
    """A mock tenant as a WSGI application.

    Attributes: ``tenant`` (the :class:`SqliteTenant`), ``store``, ``settings`` (read at
    request time, so a test may change it after creation), ``handlers`` and ``rules`` (this
    app's registries, layered over the defaults: what a test adds or overrides there concerns
    this app only).
    """

    def __init__(self, db_path: str = ":memory:", settings: MockSettings | None = None) -> None:
        self.settings = settings if settings is not None else MockSettings.model_validate({})
        load_extensions()
        self.handlers: HandlerRegistry = DEFAULT_HANDLERS.for_app()
        self.rules: RuleRegistry = DEFAULT_RULES.for_app()
        self.store = Store(db_path)
        self.tenant = SqliteTenant(self.store, CALLER, self.settings, self.rules)
        seed(self.tenant, self.settings.organization_name)
        # Imported here: it uses the rule modules, which load_extensions imports (and reports).
        from d365lab.mock.computed_backfill import backfill_computed_columns

        backfill_computed_columns(self.tenant)
        self._pipeline: WsgiApp = self._core
        for module, cls in (("cost_model", "ServerTime"), ("protection", "ServiceProtection"),
                            ("faults", "FaultInjection"), ("cost_model", "NetworkLatency")):
            middleware = _optional_middleware(module, cls)
            if middleware is not None:
                self._pipeline = middleware(self._pipeline, self.settings)

    # ------------------------------------------------------------------ WSGI

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        """WSGI entry: authenticate, then the middleware chain, then :meth:`handle`.

        ``HEAD`` is answered as ``GET`` without the body (its headers, ``Content-Length``
        included): a body after a HEAD answer would be read as the start of the next answer
        on a keep-alive connection.
        """
        if str(environ.get("REQUEST_METHOD", "")).upper() == "HEAD":
            answer = run_wsgi(self._respond, {**environ, "REQUEST_METHOD": "GET"})
            start_response(answer.status, answer.headers)
            return [b""]
        return self._respond(environ, start_response)

    def _respond(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        denied = self._authenticate(environ)
        if denied is not None:
            return _send(denied, start_response)
        return self._pipeline(environ, start_response)

    def _authenticate(self, environ: dict[str, Any]) -> MockResponse | None:
        header = str(environ.get("HTTP_AUTHORIZATION", ""))
        scheme, _, token = header.partition(" ")
        expected = self.settings.token
        sent = token.strip()
        if scheme.lower() == "bearer" and sent and (expected is None or _same_token(sent, expected)):
            return None
        root = _origin(environ)
        response = error_response(MockError(401, errors.UNAUTHORIZED,
                                            "The user is not authenticated: a valid bearer token is required."))
        response.headers["WWW-Authenticate"] = (
            f"Bearer authorization_uri={AUTHORIZE_URI}, resource_id={root}/")
        self._decorate(response)
        return response

    def _core(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        return _send(self.handle(request_from_environ(environ)), start_response)

    # ------------------------------------------------------------ dispatcher

    def handle(self, request: MockRequest) -> MockResponse:
        """Answer one request (path relative to the service root) inside a tenant transaction.

        Never raises: failures become the error envelope, and an unexpected exception a
        500 with a short message, with everything the request wrote rolled back.
        """
        from d365lab.mock import dispatch  # late: dispatch imports the handlers

        try:
            with self.tenant.transaction():
                response = dispatch.dispatch(self, request)
        except MockError as exc:
            response = error_response(exc)
        except Exception as exc:
            response = error_response(_unexpected(request, exc))
        if response.status >= 400:
            _annotate_error(request, response)
        self._decorate(response)
        return response

    def _decorate(self, response: MockResponse) -> None:
        request_id = new_request_id()
        response.headers["OData-Version"] = "4.0"
        response.headers["x-ms-service-request-id"] = request_id
        response.headers["REQ_ID"] = request_id
        response.headers["x-ms-dop-hint"] = str(self.settings.dop_hint)

    def close(self) -> None:
        """Close the database."""
        self.store.close()


_HELP_LINK = "http://go.microsoft.com/fwlink/?LinkID=398563&error=Microsoft.Crm.CrmException%3a{code}&client=platform"


def _signed_code(code: str) -> int:
    """A hex error code as the signed 32-bit integer the SDK reports (0x80040217 -> -2147220969)."""
    value = int(code, 16)
    return value - (1 << 32) if value >= 1 << 31 else value


def _annotate_error(request: MockRequest, response: MockResponse) -> None:
    """Add the ``@Microsoft.PowerApps.CDS.*`` error annotations a client asked for."""
    patterns = annotation_patterns(request.prefer())
    if not patterns or not response.headers.get("Content-Type", "").startswith("application/json"):
        return
    try:
        body = json.loads(response.body)
    except ValueError:
        return
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict) or not str(error.get("code", "")).startswith("0x"):
        return
    extra = {
        "@Microsoft.PowerApps.CDS.ErrorDetails.OperationStatus": "0",
        "@Microsoft.PowerApps.CDS.ErrorDetails.SubErrorCode": str(_signed_code(error["code"])),
        "@Microsoft.PowerApps.CDS.HelpLink": _HELP_LINK.format(code=error["code"]),
        "@Microsoft.PowerApps.CDS.InnerError.Message": error.get("message", ""),
    }
    error.update({k: v for k, v in extra.items() if annotation_wanted(patterns, k[1:])})
    response.body = json.dumps(body, separators=(",", ":")).encode()


#: SQLite's words for a statement past its own limits (expression depth, parser stack, variables).
_SQLITE_LIMITS = ("too large", "too complex", "parser stack overflow", "too many")


def _unexpected(request: MockRequest, exc: Exception) -> MockError:
    """The error of an exception no handler turned into a :class:`MockError`.

    A query SQLite or Python cannot nest that deep is a 400: the last guard behind the
    stated limits of :mod:`d365lab.mock.limits`, which refuse such requests first. Anything
    else (a bug, a broken database file) is a 500, logged with its traceback.
    """
    if isinstance(exc, RecursionError) or (
            isinstance(exc, sqlite3.OperationalError) and any(w in str(exc) for w in _SQLITE_LIMITS)):
        _log.warning("mock tenant: %s %s is too complex (%s)", request.method, request.path[:200], exc)
        return MockError(400, limits.LIMIT_CODE, "The request is too complex for the mock tenant: "
                         "simplify the query (fewer nested or combined conditions).")
    _log.error("mock tenant: unexpected error on %s %s", request.method, request.path[:200], exc_info=exc)
    return MockError(500, "0x80040216", "An unexpected error occurred.")


def create_app(db_path: str = ":memory:", settings: MockSettings | None = None) -> MockApp:
    """A mock tenant WSGI app over ``db_path`` (a file, or ``":memory:"``), seeded when empty."""
    return MockApp(db_path, settings)


# ---------------------------------------------------------------------- WSGI glue

def _origin(environ: dict[str, Any]) -> str:
    scheme = environ.get("wsgi.url_scheme", "http")
    host = environ.get("HTTP_HOST") or f"{environ.get('SERVER_NAME', 'localhost')}:{environ.get('SERVER_PORT', '80')}"
    return f"{scheme}://{host}"


def request_from_environ(environ: dict[str, Any]) -> MockRequest:
    """A :class:`MockRequest` from a WSGI environ (paths outside the service root are 404)."""
    headers = Headers()
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            headers[key[5:].replace("_", "-").title()] = str(value)
    if environ.get("CONTENT_TYPE"):
        headers["Content-Type"] = str(environ["CONTENT_TYPE"])
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length > 0 else b""
    path = str(environ.get("PATH_INFO", ""))
    # WSGI hands PATH_INFO over as latin-1-decoded bytes; re-decode as UTF-8 for quoted keys.
    path = path.encode("latin-1", errors="replace").decode("utf-8", errors="replace")
    query = dict(parse_qsl(str(environ.get("QUERY_STRING", "")), keep_blank_values=True))
    version = _VERSIONED_ROOT.match(path)
    if version is not None:  # v9.0 and v9.1 behave as v9.2, like the service
        base_url = _origin(environ) + version.group(1)
        relative = path[version.end():]
    else:
        base_url = _origin(environ) + SERVICE_PATH
        relative = "\x00" + path  # routes to a 404 naming the path
    return MockRequest(str(environ.get("REQUEST_METHOD", "GET")).upper(), relative.lstrip("/"),
                       query, headers, body, base_url)


def _send(response: MockResponse, start_response: Callable[..., Any]) -> Iterable[bytes]:
    try:
        reason = HTTPStatus(response.status).phrase
    except ValueError:
        reason = "Unknown"
    headers = list(response.headers.items())
    if not any(k.lower() == "content-length" for k, _ in headers):
        headers.append(("Content-Length", str(len(response.body))))
    start_response(f"{response.status} {reason}", headers)
    return [response.body]
