"""Requests on rows of any table: create, read, update, upsert, delete, query, count, aggregate.

Each function resolves the table, checks the payload against d365lab's schema, and returns a
:class:`~d365lab.webapi.request.Request`; nothing is sent here.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from d365lab.errors import ClientValidationError, DataverseError, DuplicateRecordError, NotFoundError, TransportError
from d365lab.odata import Expand, Filter, Query, entity_id_from_url, guid, key_segment
from d365lab.tables import resolve, validate_payload
from d365lab.transport import RedactingFilter
from d365lab.webapi.request import Answer, Request, ignore_answer

log = logging.getLogger("d365lab.records")
log.addFilter(RedactingFilter())
MAX_PAGE_SIZE = 5000
ANNOTATIONS_ALL = 'odata.include-annotations="*"'

#: A row's id, its alternate key (``{"accountnumber": "A1"}``), or inside a change set ``"$1"``.
Key = str | Mapping[str, Any]


def row_path(entity_set: str, key: Key) -> str:
    """``leads(<id>)``, ``accounts(accountnumber='A1')``, or a change set's Content-ID reference (``$1``) as is."""
    if isinstance(key, str) and key.startswith("$") and key[1:].isdigit():
        return key
    return key_segment(entity_set, key)


def prefer(*values: str | None) -> dict[str, str]:
    """A ``Prefer`` header combining the given preferences (empty dict when none)."""
    joined = ",".join(v for v in values if v)
    return {"Prefer": joined} if joined else {}


def _annotations(annotations: bool) -> dict[str, str]:
    return prefer(ANNOTATIONS_ALL if annotations else None)


def create_row(table: str, data: Mapping[str, Any]) -> Request[str]:
    """POST a new row; decodes to its id.

    The primary key is generated here when the caller did not give one, so a retry after an
    ambiguous failure (the first POST may have landed) is recognised by the service's
    duplicate-key answer instead of creating a second row.
    """
    info = resolve(table)
    body = dict(data)
    validate_payload(info, body, creating=True)
    record_id: str | None = None
    if info.primary_id:
        record_id = guid(body[info.primary_id]) if body.get(info.primary_id) else str(uuid.uuid4())
        body[info.primary_id] = record_id

    def decode(answer: Answer) -> str:
        entity_url = answer.headers.get("OData-EntityId")
        if entity_url:
            return entity_id_from_url(entity_url)
        payload = answer.json()
        if isinstance(payload, dict) and info.primary_id and payload.get(info.primary_id):
            return str(payload[info.primary_id])
        if record_id is None:
            raise TransportError("the service did not say which id it created (no OData-EntityId)")
        return record_id

    def recover(exc: DataverseError) -> str:
        if isinstance(exc, DuplicateRecordError) and exc.ambiguous_retry and record_id is not None:
            log.info("create %s %s: the first attempt had landed; not creating it twice", info.name, record_id)
            return record_id
        raise exc

    return Request("POST", info.entity_set, decode, body=body, idempotent=record_id is not None,
                   recover=recover, key=record_id)


def get_row(table: str, key: Key, *, select: Sequence[str] | None = None,
            expand: Sequence[str | Expand] | str | None = None, annotations: bool = False) -> Request[dict[str, Any]]:
    """GET one row by id or alternate key; decodes to the row (with ``@odata.etag``)."""
    info = resolve(table)

    def decode(answer: Answer) -> dict[str, Any]:
        row = answer.json()
        if not isinstance(row, dict):
            raise TransportError(f"expected a {info.name} row, got {type(row).__name__}")
        return row

    query = Query(select=select or (), expand=expand).encode()
    return Request("GET", row_path(info.entity_set, key), decode, query=query or None,
                   headers=_annotations(annotations))


def update_row(table: str, key: Key, data: Mapping[str, Any], *, etag: str | None = None) -> Request[None]:
    """PATCH an existing row. ``If-Match: *`` (or the given ETag) prevents an accidental create."""
    info = resolve(table)
    validate_payload(info, data, creating=False)
    return Request("PATCH", row_path(info.entity_set, key), ignore_answer, body=dict(data),
                   headers={"If-Match": etag or "*"})


def upsert_row(table: str, key: Key, data: Mapping[str, Any]) -> Request[str | None]:
    """PATCH without ``If-Match``: create or update by id or alternate key; decodes to the id when known."""
    info = resolve(table)
    validate_payload(info, data, creating=True)

    def decode(answer: Answer) -> str | None:
        entity_url = answer.headers.get("OData-EntityId")
        if entity_url:
            return entity_id_from_url(entity_url)
        return guid(key) if isinstance(key, str) and not key.startswith("$") else None

    return Request("PATCH", row_path(info.entity_set, key), decode, body=dict(data))


def delete_row(table: str, key: Key, *, etag: str | None = None) -> Request[None]:
    """DELETE a row. A 404 on a retry after an ambiguous failure means the first attempt worked."""
    info = resolve(table)

    def recover(exc: DataverseError) -> None:
        if not (isinstance(exc, NotFoundError) and exc.ambiguous_retry):
            raise exc

    return Request("DELETE", row_path(info.entity_set, key), ignore_answer,
                   headers={"If-Match": etag} if etag else {}, recover=recover)


def _collection_page(table: str) -> Any:
    def decode(answer: Answer) -> dict[str, Any]:
        page = answer.json()
        if not isinstance(page, dict):
            raise TransportError(f"expected a collection of {table}, got {type(page).__name__}")
        return page

    return decode


def query_page(table: str, *, filter: str | Filter | None = None, select: Sequence[str] | None = None,
               orderby: str | Sequence[str] | None = None, top: int | None = None,
               expand: Sequence[str | Expand] | str | None = None, page_size: int = MAX_PAGE_SIZE,
               annotations: bool = False, count: bool = False) -> Request[dict[str, Any]]:
    """GET the first page of a query; decodes to the page object (``value``, ``@odata.nextLink``...)."""
    info = resolve(table)
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ClientValidationError(f"page_size must be between 1 and {MAX_PAGE_SIZE}")
    query = Query(select=select or (), filter=filter, orderby=orderby, top=top, expand=expand,
                  count=count).encode()
    # $top and odata.maxpagesize do not mix on Dataverse ($top would be ignored)
    headers = prefer(None if top is not None else f"odata.maxpagesize={page_size}",
                     ANNOTATIONS_ALL if annotations else None)
    return Request("GET", info.entity_set, _collection_page(info.name), query=query or None, headers=headers)


def next_page(first: Request[dict[str, Any]], next_link: str) -> Request[dict[str, Any]]:
    """The request for the page at ``@odata.nextLink``, with the first page's headers and decoder."""
    return Request("GET", next_link, first.decode, headers=first.headers)


def count_rows(table: str, filter: str | Filter | None = None) -> Request[int]:
    """How many rows match (Dataverse caps ``$count`` at 5000)."""
    info = resolve(table)
    select = [info.primary_id] if info.primary_id else []

    def decode(answer: Answer) -> int:
        page = answer.json()
        if not isinstance(page, dict) or "@odata.count" not in page:
            raise TransportError(f"the service returned no @odata.count for {info.name}")
        return int(page["@odata.count"])

    return Request("GET", info.entity_set, decode, query=Query(select=select, filter=filter, count=True).encode(),
                   headers=prefer("odata.maxpagesize=1"))


def collection(table: str, query: Query, *, annotations: bool = False) -> Request[list[dict[str, Any]]]:
    """One GET of a collection (``$apply``, ``fetchXml``...); decodes to its rows."""
    info = resolve(table)

    def decode(answer: Answer) -> list[dict[str, Any]]:
        page = answer.json()
        if not isinstance(page, dict) or not isinstance(page.get("value"), list):
            raise TransportError(f"expected a collection of {info.name}, got {type(page).__name__}")
        return [row for row in page["value"] if isinstance(row, dict)]

    return Request("GET", info.entity_set, decode, query=query.encode(), headers=_annotations(annotations))
