"""Client throughput against the loopback mock tenant: single creates, threads, CreateMultiple, $batch.

Prints rows/s, HTTP requests sent and ratios to the sequential baseline. Not a test: the
figures depend on the machine. Usage: ``python3 benchmarks/client_throughput.py [rows]``.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from d365lab.auth import StaticTokenProvider
from d365lab.client import DataverseClient
from d365lab.mock.server import start_background


def _rows(tag: str, count: int) -> list[dict[str, object]]:
    return [{"subject": tag, "lastname": f"Bench{i}", "companyname": "Contoso Coffee"} for i in range(count)]


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    running = start_background(db_path=":memory:")
    results: list[tuple[str, float, int]] = []
    try:
        with DataverseClient(running.base_url, StaticTokenProvider(running.token)) as client:
            client.whoami()
            workers = client.recommended_parallelism

            def sequential(tag: str) -> None:
                for row in _rows(tag, count):
                    client.records.create("lead", row)

            def threaded(tag: str) -> None:
                with ThreadPoolExecutor(max_workers=workers) as pool:
                    list(pool.map(lambda row: client.records.create("lead", row), _rows(tag, count)))

            def bulk(tag: str) -> None:
                client.records.create_multiple("lead", _rows(tag, count), chunk_size=100)

            def batched(tag: str) -> None:
                rows = _rows(tag, count)
                for start in range(0, count, 100):
                    with client.batch() as batch, batch.changeset() as changeset:
                        for row in rows[start:start + 100]:
                            changeset.create("lead", row)

            cases: list[tuple[str, Callable[[str], None]]] = [
                ("sequential creates", sequential), (f"{workers} threads", threaded),
                ("CreateMultiple x100", bulk), ("$batch change sets x100", batched)]
            for label, run in cases:
                before = client.request_count
                started = time.perf_counter()
                run(label)
                elapsed = time.perf_counter() - started
                assert client.records.count("lead", filter=f"subject eq '{label}'") == count
                results.append((label, elapsed, client.request_count - before))
    finally:
        running.stop()
    baseline = results[0][1]
    print(f"{count} leads per case, loopback mock tenant")
    print(f"{'case':<26}{'seconds':>9}{'rows/s':>10}{'requests':>10}{'speed-up':>10}")
    for label, elapsed, requests_sent in results:
        print(f"{label:<26}{elapsed:>9.2f}{count / elapsed:>10.0f}{requests_sent:>10}{baseline / elapsed:>9.1f}x")


if __name__ == "__main__":
    main()
