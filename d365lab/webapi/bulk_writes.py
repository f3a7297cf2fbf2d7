"""Bulk requests: one CreateMultiple / UpdateMultiple / UpsertMultiple request per chunk of rows.

Bodies go through orjson (:func:`encode_json`); ids are keyed client-side with one read of
the system's random source per chunk (:func:`new_ids`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import orjson

from d365lab.errors import ClientValidationError, DataverseError, DuplicateRecordError
from d365lab.odata import dumps, guid, json_value
from d365lab.tables import TableInfo, resolve, validate_payload
from d365lab.webapi.request import Answer, Request, ignore_answer

NAMESPACE = "Microsoft.Dynamics.CRM"


def bulk_table(table: str) -> TableInfo:
    """The table of a bulk message: it must be in d365lab's schema (its primary key is needed)."""
    info = resolve(table)
    if info.primary_id is None:
        raise ClientValidationError(f"bulk messages need a known table; {table!r} is not in d365lab's schema")
    return info


def create_multiple(info: TableInfo, chunk: list[Mapping[str, Any]], *, validate: bool = True) -> Request[list[str]]:
    """One CreateMultiple request; decodes to the ids in input order (keys generated here when missing).

    ``validate=False`` skips the client-side checks for rows the caller has already validated.
    A duplicate-key answer to a retry after an ambiguous failure means the first attempt
    created the whole chunk (CreateMultiple is all-or-nothing): it decodes to the chunk's ids.
    """
    pk = info.primary_id
    assert pk is not None
    type_name = f"{NAMESPACE}.{info.name}"
    targets = []
    chunk_ids: list[str] = []
    fresh = iter(new_ids(len(chunk)))
    for row in chunk:
        if validate:
            validate_payload(info, row, creating=True)
        given = row.get(pk)
        record_id = guid(given) if given else next(fresh)
        targets.append({"@odata.type": type_name, **row, pk: record_id})
        chunk_ids.append(record_id)

    def decode(answer: Answer) -> list[str]:
        payload = answer.json()
        returned = payload.get("Ids") if isinstance(payload, dict) else None
        return [str(i) for i in returned] if returned else chunk_ids

    def recover(exc: DataverseError) -> list[str]:
        if isinstance(exc, DuplicateRecordError) and exc.ambiguous_retry:
            return chunk_ids
        raise exc

    return Request("POST", f"{info.entity_set}/{NAMESPACE}.CreateMultiple", decode, body={"Targets": targets},
                   recover=recover, encoder=encode_json)


def write_multiple(info: TableInfo, chunk: list[Mapping[str, Any]], message: str, *,
                   need_key: bool) -> Request[None]:
    """One UpdateMultiple (``need_key``) or UpsertMultiple request."""
    pk = info.primary_id
    assert pk is not None
    targets = []
    for row in chunk:
        body = dict(row)
        if not body.get(pk) and (need_key or "@odata.id" not in body):
            raise ClientValidationError(f"{message} needs the primary key on every row", table=info.name, field=pk)
        validate_payload(info, {k: v for k, v in body.items() if k != pk}, creating=not need_key)
        targets.append({"@odata.type": f"{NAMESPACE}.{info.name}", **body})
    return Request("POST", f"{info.entity_set}/{NAMESPACE}.{message}", ignore_answer, body={"Targets": targets},
                   encoder=encode_json)


def new_ids(count: int) -> list[str]:
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


def chunks(rows: Iterable[Mapping[str, Any]], size: int) -> Iterator[list[Mapping[str, Any]]]:
    """``rows`` in lists of ``size`` (the last one shorter)."""
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
