"""Generic record operations on any table: ``client.records``.

Each method builds its request with :mod:`d365lab.webapi.rows` (or :mod:`~d365lab.webapi.bulk_writes`)
and sends it through a :class:`~d365lab.webapi.request.Sender` (the client's transport).

>>> lead_id = client.records.create("lead", {"subject": "Coffee", "lastname": "Doe"})   # doctest: +SKIP
>>> client.records.update("lead", lead_id, {"jobtitle": "Buyer"})                       # doctest: +SKIP
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from d365lab.odata import Expand, Filter, Query
from d365lab.webapi import bulk_writes as bulk
from d365lab.webapi import rows
from d365lab.webapi.bulk_writes import encode_json, new_ids
from d365lab.webapi.request import Sender
from d365lab.webapi.rows import MAX_PAGE_SIZE, Key, prefer

__all__ = ["MAX_PAGE_SIZE", "Key", "Records", "encode_json", "new_ids", "prefer"]


class Records:
    """Create, read, update, upsert, delete, query and bulk-write rows of any table."""

    def __init__(self, sender: Sender) -> None:
        self._sender = sender

    # ------------------------------------------------------------------ single rows
    def create(self, table: str, data: Mapping[str, Any]) -> str:
        """Create a row and return its id (the primary key is generated client-side; see :func:`rows.create_row`)."""
        return self._sender.send(rows.create_row(table, data))

    def get(self, table: str, key: Key, *, select: Sequence[str] | None = None,
            expand: Sequence[str | Expand] | str | None = None, annotations: bool = False) -> dict[str, Any]:
        """Read one row by id or alternate key (``{"accountnumber": "A1"}``); includes ``@odata.etag``."""
        return self._sender.send(rows.get_row(table, key, select=select, expand=expand, annotations=annotations))

    def update(self, table: str, record_id: Key, data: Mapping[str, Any], *, etag: str | None = None) -> None:
        """Update an existing row. ``If-Match: *`` (or the given ETag) prevents an accidental create."""
        self._sender.send(rows.update_row(table, record_id, data, etag=etag))

    def upsert(self, table: str, key: Key, data: Mapping[str, Any]) -> str | None:
        """Create or update by id or alternate key (PATCH without ``If-Match``); returns the id when known."""
        return self._sender.send(rows.upsert_row(table, key, data))

    def delete(self, table: str, record_id: Key, *, etag: str | None = None) -> None:
        """Delete a row. A 404 on a retry after an ambiguous failure means the first attempt worked."""
        self._sender.send(rows.delete_row(table, record_id, etag=etag))

    # ------------------------------------------------------------------ queries
    def pages(self, table: str, *, filter: str | Filter | None = None, select: Sequence[str] | None = None,
              orderby: str | Sequence[str] | None = None, top: int | None = None,
              expand: Sequence[str | Expand] | str | None = None, page_size: int = MAX_PAGE_SIZE,
              annotations: bool = False, count: bool = False) -> Iterator[dict[str, Any]]:
        """Yield each page (the raw JSON object) of a query, following ``@odata.nextLink``."""
        first = rows.query_page(table, filter=filter, select=select, orderby=orderby, top=top, expand=expand,
                                page_size=page_size, annotations=annotations, count=count)
        request = first
        while True:
            page = self._sender.send(request)
            yield page
            next_link = page.get("@odata.nextLink")
            if not next_link:
                return
            request = rows.next_page(first, str(next_link))

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
        return self._sender.send(rows.count_rows(table, filter))

    def aggregate(self, table: str, apply: str, *, annotations: bool = False) -> builtins.list[dict[str, Any]]:
        """The groups of ``GET <set>?$apply=<apply>`` (one request; the server groups and sums).

        ``apply`` is the ``$apply`` text, e.g. ``"groupby((statecode),aggregate($count as n))"``.
        More than 50,000 evaluated rows fail with the service's AggregateQueryRecordLimit error
        (code ``0x8004e023``): narrow the rows with ``filter(...)`` and combine the results.
        """
        return self._sender.send(rows.collection(table, Query(extra={"$apply": apply}), annotations=annotations))

    def fetch(self, table: str, fetch_xml: str, *, annotations: bool = False) -> builtins.list[dict[str, Any]]:
        """The rows of one ``GET <set>?fetchXml=<fetch_xml>`` request (a FetchXML aggregate, a join...).

        One page only: page with the ``count``/``page``/``paging-cookie`` attributes yourself.
        """
        return self._sender.send(rows.collection(table, Query(extra={"fetchXml": fetch_xml}),
                                                 annotations=annotations))

    # ------------------------------------------------------------------ bulk
    def create_multiple(self, table: str, rows: Iterable[Mapping[str, Any]], *,
                        chunk_size: int = 1000, validate: bool = True) -> builtins.list[str]:
        """CreateMultiple in chunks; returns the ids in input order. Primary keys are generated client-side.

        ``validate=False`` skips the client-side checks for rows the caller has already
        validated against the same schema (the backlog import's pydantic model does);
        the service still refuses bad rows.
        """
        info = bulk.bulk_table(table)
        ids: builtins.list[str] = []
        for chunk in bulk.chunks(rows, chunk_size):
            chunk_ids: builtins.list[str] = self._sender.send(bulk.create_multiple(info, chunk, validate=validate))
            ids.extend(chunk_ids)
        return ids

    def update_multiple(self, table: str, rows: Iterable[Mapping[str, Any]], *, chunk_size: int = 1000) -> None:
        """UpdateMultiple in chunks; every row must carry its primary key."""
        self._write_multiple(table, rows, chunk_size, "UpdateMultiple", need_key=True)

    def upsert_multiple(self, table: str, rows: Iterable[Mapping[str, Any]], *, chunk_size: int = 1000) -> None:
        """UpsertMultiple in chunks; rows carry their primary key or an ``@odata.id`` alternate key."""
        self._write_multiple(table, rows, chunk_size, "UpsertMultiple", need_key=False)

    def _write_multiple(self, table: str, rows: Iterable[Mapping[str, Any]], chunk_size: int, message: str,
                        *, need_key: bool) -> None:
        info = bulk.bulk_table(table)
        for chunk in bulk.chunks(rows, chunk_size):
            self._sender.send(bulk.write_multiple(info, chunk, message, need_key=need_key))
