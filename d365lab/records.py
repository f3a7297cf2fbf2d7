"""Generic record operations on any table: ``client.records``.

>>> lead_id = client.records.create("lead", {"subject": "Coffee", "lastname": "Doe"})   # doctest: +SKIP
>>> client.records.update("lead", lead_id, {"jobtitle": "Buyer"})                       # doctest: +SKIP
"""

from __future__ import annotations

import builtins
import logging
import os
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import orjson

from d365lab.errors import ClientValidationError, DuplicateRecordError, NotFoundError, TransportError
from d365lab.odata import Expand, Filter, Query, dumps, entity_id_from_url, guid, json_value, key_segment
from d365lab.tables import TableInfo, resolve, validate_payload
from d365lab.transport import RedactingFilter, Transport, json_or_none

log = logging.getLogger("d365lab.records")
log.addFilter(RedactingFilter())
MAX_PAGE_SIZE = 5000
ANNOTATIONS_ALL = 'odata.include-annotations="*"'

Key = str | Mapping[str, Any]


def prefer(*values: str | None) -> dict[str, str]:
    """A ``Prefer`` header combining the given preferences (empty dict when none)."""
    joined = ",".join(v for v in values if v)
    return {"Prefer": joined} if joined else {}


class Records:
    """Create, read, update, upsert, delete, query and bulk-write rows of any table."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    # ------------------------------------------------------------------ single rows
    def create(self, table: str, data: Mapping[str, Any]) -> str:
        """Create a row and return its id.

        The primary key is generated here when the caller did not give one, so a retry after
        an ambiguous failure (the first POST may have landed) is recognised by the service's
        duplicate-key answer instead of creating a second row.
        """
        info = resolve(table)
        body = dict(data)
        validate_payload(info, body, creating=True)
        record_id: str | None = None
        if info.primary_id:
            record_id = guid(body[info.primary_id]) if body.get(info.primary_id) else str(uuid.uuid4())
            body[info.primary_id] = record_id
        try:
            response = self._transport.request("POST", info.entity_set, data=dumps(body),
                                               idempotent=record_id is not None)
        except DuplicateRecordError as exc:
            if exc.ambiguous_retry and record_id is not None:
                log.info("create %s %s: the first attempt had landed; not creating it twice", info.name, record_id)
                return record_id
            raise
        entity_url = response.headers.get("OData-EntityId")
        if entity_url:
            return entity_id_from_url(entity_url)
        payload = json_or_none(response)
        if isinstance(payload, dict) and info.primary_id and payload.get(info.primary_id):
            return str(payload[info.primary_id])
        if record_id is None:
            raise TransportError("the service did not say which id it created (no OData-EntityId)")
        return record_id

    def get(self, table: str, key: Key, *, select: Sequence[str] | None = None,
            expand: Sequence[str | Expand] | str | None = None, annotations: bool = False) -> dict[str, Any]:
        """Read one row by id or alternate key (``{"accountnumber": "A1"}``); includes ``@odata.etag``."""
        info = resolve(table)
        query = Query(select=select or (), expand=expand).encode()
        response = self._transport.request("GET", key_segment(info.entity_set, key), query=query or None,
                                           headers=prefer(ANNOTATIONS_ALL if annotations else None))
        row = json_or_none(response)
        if not isinstance(row, dict):
            raise TransportError(f"expected a {info.name} row, got {type(row).__name__}")
        return row

    def update(self, table: str, record_id: Key, data: Mapping[str, Any], *, etag: str | None = None) -> None:
        """Update an existing row. ``If-Match: *`` (or the given ETag) prevents an accidental create."""
        info = resolve(table)
        validate_payload(info, data, creating=False)
        self._transport.request("PATCH", key_segment(info.entity_set, record_id), data=dumps(dict(data)),
                                headers={"If-Match": etag or "*"})

    def upsert(self, table: str, key: Key, data: Mapping[str, Any]) -> str | None:
        """Create or update by id or alternate key (PATCH without ``If-Match``); returns the id when known."""
        info = resolve(table)
        validate_payload(info, data, creating=True)
        response = self._transport.request("PATCH", key_segment(info.entity_set, key), data=dumps(dict(data)))
        entity_url = response.headers.get("OData-EntityId")
        if entity_url:
            return entity_id_from_url(entity_url)
        return guid(key) if isinstance(key, str) else None

    def delete(self, table: str, record_id: Key, *, etag: str | None = None) -> None:
        """Delete a row. A 404 on a retry after an ambiguous failure means the first attempt worked."""
        info = resolve(table)
        headers = {"If-Match": etag} if etag else None
        try:
            self._transport.request("DELETE", key_segment(info.entity_set, record_id), headers=headers)
        except NotFoundError as exc:
            if not exc.ambiguous_retry:
                raise

    # ------------------------------------------------------------------ queries
    def pages(self, table: str, *, filter: str | Filter | None = None, select: Sequence[str] | None = None,
              orderby: str | Sequence[str] | None = None, top: int | None = None,
              expand: Sequence[str | Expand] | str | None = None, page_size: int = MAX_PAGE_SIZE,
              annotations: bool = False, count: bool = False) -> Iterator[dict[str, Any]]:
        """Yield each page (the raw JSON object) of a query, following ``@odata.nextLink``."""
        info = resolve(table)
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ClientValidationError(f"page_size must be between 1 and {MAX_PAGE_SIZE}")
        query = Query(select=select or (), filter=filter, orderby=orderby, top=top, expand=expand,
                      count=count).encode()
        # $top and odata.maxpagesize do not mix on Dataverse ($top would be ignored)
        headers = prefer(None if top is not None else f"odata.maxpagesize={page_size}",
                         ANNOTATIONS_ALL if annotations else None)
        path: str = info.entity_set
        params: str | None = query or None
        while True:
            page = json_or_none(self._transport.request("GET", path, query=params, headers=headers))
            if not isinstance(page, dict):
                raise TransportError(f"expected a collection of {info.name}, got {type(page).__name__}")
            yield page
            next_link = page.get("@odata.nextLink")
            if not next_link:
                return
            path, params = str(next_link), None

    def list(self, table: str, *, filter: str | Filter | None = None, select: Sequence[str] | None = None,
             orderby: str | Sequence[str] | None = None, top: int | None = None,
             expand: Sequence[str | Expand] | str | None = None, page_size: int = MAX_PAGE_SIZE,
             annotations: bool = False) -> Iterator[dict[str, Any]]:
        """Iterate over matching rows across pages (lazy: pages are fetched as you go)."""
        for page in self.pages(table, filter=filter, select=select, orderby=orderby, top=top, expand=expand,
                               page_size=page_size, annotations=annotations):
            yield from page.get("value", [])

    def first(self, table: str, *, filter: str | Filter | None = None, select: Sequence[str] | None = None,
              orderby: str | Sequence[str] | None = None) -> dict[str, Any] | None:
        """The first matching row, or None."""
        for row in self.list(table, filter=filter, select=select, orderby=orderby, top=1):
            return row
        return None

    def count(self, table: str, filter: str | Filter | None = None) -> int:
        """How many rows match (Dataverse caps ``$count`` at 5000)."""
        info = resolve(table)
        select = [info.primary_id] if info.primary_id else []
        query = Query(select=select, filter=filter, count=True).encode()
        response = self._transport.request("GET", info.entity_set, query=query,
                                           headers=prefer("odata.maxpagesize=1"))
        page = json_or_none(response)
        if not isinstance(page, dict) or "@odata.count" not in page:
            raise TransportError(f"the service returned no @odata.count for {info.name}")
        return int(page["@odata.count"])

    def aggregate(self, table: str, apply: str, *, annotations: bool = False) -> builtins.list[dict[str, Any]]:
        """The groups of ``GET <set>?$apply=<apply>`` (one request; the server groups and sums).

        ``apply`` is the ``$apply`` text, e.g. ``"groupby((statecode),aggregate($count as n))"``.
        More than 50,000 evaluated rows fail with the service's AggregateQueryRecordLimit error
        (code ``0x8004e023``): narrow the rows with ``filter(...)`` and combine the results.
        """
        return self._collection(table, Query(extra={"$apply": apply}), annotations)

    def fetch(self, table: str, fetch_xml: str, *, annotations: bool = False) -> builtins.list[dict[str, Any]]:
        """The rows of one ``GET <set>?fetchXml=<fetch_xml>`` request (a FetchXML aggregate, a join...).

        One page only: page with the ``count``/``page``/``paging-cookie`` attributes yourself.
        """
        return self._collection(table, Query(extra={"fetchXml": fetch_xml}), annotations)

    def _collection(self, table: str, query: Query, annotations: bool) -> builtins.list[dict[str, Any]]:
        info = resolve(table)
        response = self._transport.request("GET", info.entity_set, query=query.encode(),
                                           headers=prefer(ANNOTATIONS_ALL if annotations else None))
        page = json_or_none(response)
        if not isinstance(page, dict) or not isinstance(page.get("value"), builtins.list):
            raise TransportError(f"expected a collection of {info.name}, got {type(page).__name__}")
        return [row for row in page["value"] if isinstance(row, dict)]

    # ------------------------------------------------------------------ bulk
    def create_multiple(self, table: str, rows: Iterable[Mapping[str, Any]], *,
                        chunk_size: int = 1000, validate: bool = True) -> builtins.list[str]:
        """CreateMultiple in chunks; returns the ids in input order. Primary keys are generated client-side.

        ``validate=False`` skips the client-side checks for rows the caller has already
        validated against the same schema (the backlog import's pydantic model does);
        the service still refuses bad rows.
        """
        info = self._bulk_table(table)
        pk = info.primary_id
        assert pk is not None
        type_name = f"Microsoft.Dynamics.CRM.{info.name}"
        ids: builtins.list[str] = []
        for chunk in _chunks(rows, chunk_size):
            targets = []
            chunk_ids = []
            fresh = iter(new_ids(len(chunk)))
            for row in chunk:
                if validate:
                    validate_payload(info, row, creating=True)
                given = row.get(pk)
                record_id = guid(given) if given else next(fresh)
                targets.append({"@odata.type": type_name, **row, pk: record_id})
                chunk_ids.append(record_id)
            try:
                response = self._transport.request("POST", f"{info.entity_set}/Microsoft.Dynamics.CRM.CreateMultiple",
                                                   data=encode_json({"Targets": targets}))
            except DuplicateRecordError as exc:
                if not exc.ambiguous_retry:
                    raise
                ids.extend(chunk_ids)  # all-or-nothing: the first attempt created the whole chunk
                continue
            payload = json_or_none(response)
            returned = payload.get("Ids") if isinstance(payload, dict) else None
            ids.extend(str(i) for i in returned) if returned else ids.extend(chunk_ids)
        return ids

    def update_multiple(self, table: str, rows: Iterable[Mapping[str, Any]], *, chunk_size: int = 1000) -> None:
        """UpdateMultiple in chunks; every row must carry its primary key."""
        self._write_multiple(table, rows, chunk_size, "UpdateMultiple", need_key=True)

    def upsert_multiple(self, table: str, rows: Iterable[Mapping[str, Any]], *, chunk_size: int = 1000) -> None:
        """UpsertMultiple in chunks; rows carry their primary key or an ``@odata.id`` alternate key."""
        self._write_multiple(table, rows, chunk_size, "UpsertMultiple", need_key=False)

    def _write_multiple(self, table: str, rows: Iterable[Mapping[str, Any]], chunk_size: int, message: str,
                        *, need_key: bool) -> None:
        info = self._bulk_table(table)
        assert info.primary_id is not None
        for chunk in _chunks(rows, chunk_size):
            targets = []
            for row in chunk:
                body = dict(row)
                if not body.get(info.primary_id) and (need_key or "@odata.id" not in body):
                    raise ClientValidationError(f"{message} needs the primary key on every row",
                                                table=info.name, field=info.primary_id)
                validate_payload(info, {k: v for k, v in body.items() if k != info.primary_id}, creating=not need_key)
                targets.append(self._typed(info, body))
            self._transport.request("POST", f"{info.entity_set}/Microsoft.Dynamics.CRM.{message}",
                                    data=encode_json({"Targets": targets}))

    @staticmethod
    def _typed(info: TableInfo, body: dict[str, Any]) -> dict[str, Any]:
        return {"@odata.type": f"Microsoft.Dynamics.CRM.{info.name}", **body}

    @staticmethod
    def _bulk_table(table: str) -> TableInfo:
        info = resolve(table)
        if info.primary_id is None:
            raise ClientValidationError(f"bulk messages need a known table; {table!r} is not in d365lab's schema")
        return info


def new_ids(count: int) -> builtins.list[str]:
    """``count`` random (version 4) GUIDs, as ``str(uuid.uuid4())`` gives them.

    One read of the system's random source for all of them: ``uuid4()`` reads it once per
    id, which is most of the client's cost of keying a 1,000-row bulk request.
    """
    raw = os.urandom(16 * count).hex()
    ids = []
    for start in range(0, 32 * count, 32):
        h = raw[start:start + 32]
        # version nibble 4; variant bits 10xx (RFC 4122) in the first nibble of the 4th group
        ids.append(f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{_VARIANT[h[16]]}{h[17:20]}-{h[20:]}")
    return ids


_VARIANT = {digit: "89ab"[int(digit, 16) & 3] for digit in "0123456789abcdef"}


def encode_json(body: Any) -> bytes:
    """:func:`d365lab.odata.dumps` for bulk bodies, through orjson (several times faster).

    Plain JSON values go straight to the encoder; Decimal, dates and datetimes go through
    :func:`~d365lab.odata.json_value` as in ``dumps``, so both give the same values. A body
    orjson refuses (non-text keys, integers beyond 64 bits, values nothing can encode) is
    left to ``dumps``, which converts the first two and names the third. Unlike ``dumps``,
    a NaN or infinite float becomes ``null``: the client's checks (``validate=True``)
    refuse those before anything is encoded.
    """
    try:
        return orjson.dumps(body, default=json_value,
                            option=orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS)
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        return dumps(body)


def _chunks(rows: Iterable[Mapping[str, Any]], size: int) -> Iterator[list[Mapping[str, Any]]]:
    if size < 1:
        raise ClientValidationError("chunk_size must be at least 1")
    chunk: list[Mapping[str, Any]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk

