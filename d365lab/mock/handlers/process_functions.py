"""Process-flow functions: RetrieveActivePath and RetrieveProcessInstances.

``GET /RetrieveActivePath(ProcessInstanceId=@p)?@p=<guid>`` answers the stages of the
instance's active path (a ``Collection(processstage)``; the Lead to Opportunity process is
linear, so that is every stage in order).
``GET /RetrieveProcessInstances(EntityLogicalName=@n,EntityId=@id)?@n='lead'&@id=<guid>``
answers the record's instances, most recently modified first, each exposing its active
stage as ``processstageid``.
"""

from __future__ import annotations

from typing import Any

from d365lab.mock.handlers.registry import OperationCall, OperationResult, function
from d365lab.mock.rules.process_flow import FLOW_KEY, FLOW_TABLE, STAGE_ORDER
from d365lab.mock.service_errors import bad_request
from d365lab.mock.tenant_api import Ref, Tenant
from d365lab.models.schema import TABLES, TYPE_NAMESPACE


def _text(call: OperationCall, name: str) -> str:
    value = call.parameters.get(name)
    if not isinstance(value, str) or not value.strip("'\" "):
        raise bad_request(f"The function parameter '{name}' is required.")
    return value.strip("'\" {}").lower()


@function("RetrieveActivePath")
def retrieve_active_path(tenant: Tenant, call: OperationCall) -> OperationResult:
    """The stages of a process instance's active path."""
    from d365lab.mock.codec import encode_row

    instance = tenant.require(FLOW_TABLE, _text(call, "ProcessInstanceId"))
    process = instance.get("processid")
    stages = [tenant.require("processstage", stage_id) for stage_id in STAGE_ORDER]
    if isinstance(process, Ref):
        stages = [s for s in stages if s.get("processid") == process] or stages
    table = TABLES["processstage"]
    return OperationResult(status=200, body={
        "@odata.context": f"{call.base_url}/$metadata#processstages",
        "value": [encode_row(tenant, table, stage) for stage in stages],
    })


@function("RetrieveProcessInstances")
def retrieve_process_instances(tenant: Tenant, call: OperationCall) -> OperationResult:
    """The Lead to Opportunity instances of a lead or an opportunity, newest change first."""
    logical = _text(call, "EntityLogicalName")
    record_id = _text(call, "EntityId")
    if logical not in ("lead", "opportunity"):
        return OperationResult(status=200, body=_response(call, []))
    tenant.require(logical, record_id)
    column = "leadid" if logical == "lead" else "opportunityid"
    instances = tenant.find(FLOW_TABLE, **{column: Ref(logical, record_id)})
    instances.sort(key=lambda row: (row.get("modifiedon") or "", row.get("versionnumber") or 0), reverse=True)
    processes = []
    for row in instances:
        stage, process = row.get("activestageid"), row.get("processid")
        processes.append({
            "@odata.type": f"#{TYPE_NAMESPACE}.{FLOW_TABLE}",
            FLOW_KEY: row[FLOW_KEY],
            "name": row.get("name"),
            "processid": process.id if isinstance(process, Ref) else None,
            "processstageid": stage.id if isinstance(stage, Ref) else None,
            "traversedpath": row.get("traversedpath"),
            "statecode": row.get("statecode"),
            "statuscode": row.get("statuscode"),
        })
    return OperationResult(status=200, body=_response(call, processes))


def _response(call: OperationCall, processes: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "@odata.context": call.response_context("RetrieveProcessInstances"),
        "Processes": processes,
    }
