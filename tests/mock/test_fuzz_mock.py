"""Property-based fuzzing of the mock tenant (issue 11): hostile URLs, query options, bodies,
headers and ``$batch`` payloads never get a 5xx, every 4xx is the Dataverse error envelope,
and the tenant still answers a normal read and a normal create afterwards.

Seeded (``derandomize``) with a small budget so CI stays fast; ``benchmarks/fuzz_mock.py``
runs the same strategies for longer over real loopback HTTP.
"""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings

from d365lab.mock.app import create_app
from tests.mock.fuzz_requests import FuzzRequest, check_answer, requests
from tests.mock.hostile_support import send

EXAMPLES = 300


def test_hostile_requests_never_break_the_tenant() -> None:
    app = create_app(":memory:")
    try:
        created = send(app, "POST", "leads", body=b'{"subject":"seed lead","lastname":"Fuzz"}')
        assert created.status_code == 204

        @settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
        @given(request=requests())
        def run(request: FuzzRequest) -> None:
            answer = send(app, request.method, request.path, query=request.query, body=request.body,
                          headers=request.headers)
            problem = check_answer(request, answer.status_code, dict(answer.headers), answer.body)
            assert problem is None, f"{problem}\n{request.describe()}"
            read = send(app, "GET", "leads", query="$select=subject,createdon&$top=1",
                        headers={"Prefer": 'odata.include-annotations="*"'})
            assert read.status_code == 200, f"a normal read failed after {request.describe()}: {read.body[:300]!r}"
            json.loads(read.body)
            write = send(app, "POST", "leads", body=b'{"subject":"after","lastname":"Fuzz"}')
            assert write.status_code == 204, f"a normal create failed after {request.describe()}: {write.body[:300]!r}"

        run()
    finally:
        app.close()
