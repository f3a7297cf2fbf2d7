"""Chunked writes: a refused row is isolated without losing its chunk; tables without bulk use $batch."""

from __future__ import annotations

from d365lab.backlog.writer import LeadWriter
from d365lab.client import DataverseClient


def test_a_refused_row_is_isolated_and_the_rest_of_its_chunk_created(d365_server_client: DataverseClient) -> None:
    rows = [(line, {"subject": f"s{line}", "lastname": f"L{line}"}) for line in range(2, 22)]
    rows[7] = (9, {"subject": "s9", "lastname": "x" * 60})          # longer than lastname allows
    before = d365_server_client.request_count
    result = LeadWriter(d365_server_client, chunk_size=8).create(rows)
    assert [(r.line, r.field) for r in result.refused] == [(9, "row")]
    assert "lastname" in result.refused[0].reason
    assert len(result.ids) == 19
    assert d365_server_client.records.count("lead") == 19
    assert d365_server_client.request_count - before <= 3 + 3     # 3 chunks, ~log2(8) extra for the bad one


def test_tables_without_create_multiple_are_written_with_batch(d365_server_client: DataverseClient) -> None:
    rows = [(n, {"name": f"Campaign {n}"}) for n in range(2, 7)] + [(7, {"name": "y" * 200})]
    before = d365_server_client.request_count
    result = LeadWriter(d365_server_client, chunk_size=100, table="campaign").create(rows)
    assert len(result.ids) == 5 and [r.line for r in result.refused] == [7]
    assert d365_server_client.request_count - before == 1
    names = sorted(r["name"] for r in d365_server_client.records.list("campaign", select=["name"]))
    assert names == [f"Campaign {n}" for n in range(2, 7)]
