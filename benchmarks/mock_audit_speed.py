"""What auditing costs the mock tenant, and how fast the history reads are, over loopback HTTP.

For each of "auditing off" and "auditing on" (organization switched on, lead audited):
CreateMultiple of ``--rows`` leads, then UpdateMultiple of their state (a disqualify), timed.
With auditing on it also times ``GET /audits`` filtered on one record and
RetrieveRecordChangeHistory of one record among the ``2 x rows`` audit rows (median of 20).
Prints the figures; asserts nothing. Run from the repository root::

    python3 benchmarks/mock_audit_speed.py [--rows 5000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import requests

from d365lab.mock.server import start_background
from d365lab.mock.settings import MockSettings


def _load() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def _timed(call: object) -> float:
    started = time.perf_counter()
    response = call() if callable(call) else None
    elapsed = time.perf_counter() - started
    if isinstance(response, requests.Response):
        response.raise_for_status()
    return elapsed


def run(rows: int, audited: bool) -> None:
    """One tenant: bulk create and bulk state change, then (audited) the history reads."""
    running = start_background(db_path=":memory:", settings=MockSettings.model_validate(
        {"audit": {"enabled_on_new_tenant": audited}}))
    try:
        session = requests.Session()
        session.headers.update({"Authorization": f"Bearer {running.token}", "Accept": "application/json"})
        root = running.base_url + "/api/data/v9.2"
        targets = [{"@odata.type": "Microsoft.Dynamics.CRM.lead", "subject": f"Lead {i}", "lastname": f"L{i:05d}",
                    "companyname": f"Company {i % 500}", "budgetamount": 1000.0 + i} for i in range(rows)]
        started = time.perf_counter()
        response = session.post(f"{root}/leads/Microsoft.Dynamics.CRM.CreateMultiple", json={"Targets": targets})
        create = time.perf_counter() - started
        response.raise_for_status()
        ids = response.json()["Ids"]
        updates = [{"@odata.type": "Microsoft.Dynamics.CRM.lead", "leadid": i, "statecode": 2, "statuscode": 6}
                   for i in ids]
        update = _timed(lambda: session.post(f"{root}/leads/Microsoft.Dynamics.CRM.UpdateMultiple",
                                             json={"Targets": updates}))
        label = "on " if audited else "off"
        print(f"auditing {label}: CreateMultiple {rows} leads {create:.3f} s, "
              f"UpdateMultiple (disqualify) {update:.3f} s")
        if not audited:
            return
        total, url = 0, f"{root}/audits?$select=auditid"
        while url:  # counted page by page ($count stops at 5,000)
            page = session.get(url, headers={"Prefer": "odata.maxpagesize=5000"}).json()
            total += len(page["value"])
            url = page.get("@odata.nextLink")
        target = ids[rows // 2]
        query = f"{root}/audits?$filter=_objectid_value eq {target}&$orderby=createdon desc"
        history = (f"{root}/RetrieveRecordChangeHistory(Target=@t,PagingInfo=@p)?@t={{'@odata.id':'leads({target})'}}"
                   '&@p={"PageNumber":1,"Count":50,"ReturnTotalRecordCount":true}')
        reads = [_timed(lambda: session.get(query)) for _ in range(20)]
        histories = [_timed(lambda: session.get(history)) for _ in range(20)]
        print(f"  {total} audit rows (lead creates, flow instances, disqualifies); one record's audits: "
              f"median {statistics.median(reads) * 1000:.1f} ms; RetrieveRecordChangeHistory: "
              f"median {statistics.median(histories) * 1000:.1f} ms")
    finally:
        running.stop()


def main() -> None:
    """Run both tenants and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=5000)
    args = parser.parse_args()
    print(f"load average before: {_load()}")
    run(args.rows, audited=False)
    run(args.rows, audited=True)
    print(f"load average after: {_load()}")


if __name__ == "__main__":
    main()
