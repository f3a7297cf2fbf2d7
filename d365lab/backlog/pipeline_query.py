"""The pipeline report's reads, aggregated by the server.

Two grouped queries hold every figure: leads counted by status (``$apply``), and the
open or recently closed opportunities counted and summed by state, status, sales stage
and the active stage of their Lead-to-Opportunity process instance (FetchXML with an
outer ``<link-entity>``, which ``$apply`` cannot express). Their cost does not depend on
the number of rows, up to Dataverse's aggregate limit: a query evaluating more than
50,000 rows fails with AggregateQueryRecordLimit (``0x8004e023``). Then, as Microsoft
advises, the rows are split into ``createdon`` ranges (the bounds read with two
``$top=1`` queries, each range halved until it fits) and the groups of every range are
combined; a range that cannot be split further (more than 50,000 rows created in the
same second) is read row by row.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import quoteattr

from d365lab.errors import DataverseError

if TYPE_CHECKING:
    from d365lab.client import DataverseClient

AGGREGATE_LIMIT_CODE = "0x8004e023"
#: Deepest halving of a ``createdon`` range before it is read row by row.
MAX_SPLITS = 24
#: A ``createdon`` range: ``[start, end)`` as ``YYYY-MM-DDTHH:MM:SSZ`` (None: every row).
Range = tuple[str, str] | None
#: Runs one query over one range and returns its rows.
Runner = Callable[[Range], list[dict[str, Any]]]


def is_aggregate_limit(exc: DataverseError) -> bool:
    """True for the service's refusal of an aggregate over more than 50,000 rows."""
    return (exc.code or "").lower() == AGGREGATE_LIMIT_CODE or "AggregateQueryRecordLimit" in (exc.message or "")


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse(text: str) -> datetime:
    return datetime.strptime(text[:19], "%Y-%m-%dT%H:%M:%S")


def grouped(client: DataverseClient, table: str, run: Runner, by_rows: Runner) -> list[dict[str, Any]]:
    """The groups of ``run`` over every row, split into ``createdon`` ranges when the service asks.

    ``by_rows`` answers the same rows (not grouped) for a range too dense to split.
    """
    try:
        return run(None)
    except DataverseError as exc:
        if not is_aggregate_limit(exc):
            raise
    oldest = client.records.first(table, select=["createdon"], orderby="createdon asc")
    newest = client.records.first(table, select=["createdon"], orderby="createdon desc")
    if not oldest or not newest or not oldest.get("createdon") or not newest.get("createdon"):
        return by_rows(None)
    start, end = _parse(str(oldest["createdon"])), _parse(str(newest["createdon"])) + timedelta(seconds=1)
    return _split(run, by_rows, start, end, 0)


def _split(run: Runner, by_rows: Runner, start: datetime, end: datetime, depth: int) -> list[dict[str, Any]]:
    middle = start + timedelta(seconds=int((end - start).total_seconds()) // 2)
    if middle <= start or depth >= MAX_SPLITS:
        return by_rows((_stamp(start), _stamp(end)))
    out: list[dict[str, Any]] = []
    for low, high in ((start, middle), (middle, end)):
        try:
            out += run((_stamp(low), _stamp(high)))
        except DataverseError as exc:
            if not is_aggregate_limit(exc):
                raise
            out += _split(run, by_rows, low, high, depth + 1)
    return out


# ------------------------------------------------------------------ leads

def lead_groups(client: DataverseClient) -> list[dict[str, Any]]:
    """``{"statecode", "statuscode", "count"}`` per lead status."""

    def run(span: Range) -> list[dict[str, Any]]:
        narrowed = f"filter(createdon ge {span[0]} and createdon lt {span[1]})/" if span else ""
        return client.records.aggregate("lead", f"{narrowed}groupby((statecode,statuscode),aggregate($count as count))")

    def by_rows(span: Range) -> list[dict[str, Any]]:
        rows = client.records.list("lead", select=["statecode", "statuscode"], filter=_odata_range(span))
        return [{**row, "count": 1} for row in rows]

    return grouped(client, "lead", run, by_rows)


def _odata_range(span: Range) -> str | None:
    return f"createdon ge {span[0]} and createdon lt {span[1]}" if span else None


# ------------------------------------------------------------------ opportunities

def _period_filter(start: date, end: date) -> str:
    """Open, or closed between ``start`` and ``end`` (``actualclosedate``, else the day of ``modifiedon``)."""
    after = (end + timedelta(days=1)).isoformat()
    return (
        "<filter type='or'><condition attribute='statecode' operator='eq' value='0'/>"
        "<filter type='and'><condition attribute='statecode' operator='ne' value='0'/><filter type='or'>"
        f"<filter type='and'><condition attribute='actualclosedate' operator='ge' value='{start.isoformat()}'/>"
        f"<condition attribute='actualclosedate' operator='le' value='{end.isoformat()}'/></filter>"
        "<filter type='and'><condition attribute='actualclosedate' operator='null'/>"
        f"<condition attribute='modifiedon' operator='ge' value='{start.isoformat()}T00:00:00Z'/>"
        f"<condition attribute='modifiedon' operator='lt' value='{after}T00:00:00Z'/></filter>"
        "</filter></filter></filter>")


def _range_filter(span: Range) -> str:
    if span is None:
        return ""
    return (f"<filter><condition attribute='createdon' operator='ge' value={quoteattr(span[0])}/>"
            f"<condition attribute='createdon' operator='lt' value={quoteattr(span[1])}/></filter>")


def opportunity_groups(client: DataverseClient, start: date, end: date) -> list[dict[str, Any]]:
    """Open and period-closed opportunities grouped for the report.

    Each group: ``state``, ``status``, ``salesstage`` (absent when null), ``stage`` (the
    process instance's active stage id) and ``flowstate`` (absent: no process instance),
    with ``count``, ``estimated``, ``budget`` and ``actual`` (sums; absent when null).
    """
    period = _period_filter(start, end)

    def run(span: Range) -> list[dict[str, Any]]:
        xml = ("<fetch aggregate='true'><entity name='opportunity'>"
               "<attribute name='opportunityid' alias='count' aggregate='count'/>"
               "<attribute name='estimatedvalue' alias='estimated' aggregate='sum'/>"
               "<attribute name='budgetamount' alias='budget' aggregate='sum'/>"
               "<attribute name='actualvalue' alias='actual' aggregate='sum'/>"
               "<attribute name='statecode' alias='state' groupby='true'/>"
               "<attribute name='statuscode' alias='status' groupby='true'/>"
               "<attribute name='salesstage' alias='salesstage' groupby='true'/>"
               f"{period}{_range_filter(span)}"
               "<link-entity name='leadtoopportunitysalesprocess' from='opportunityid' to='opportunityid'"
               " link-type='outer' alias='flow'>"
               "<attribute name='activestageid' alias='stage' groupby='true'/>"
               "<attribute name='statecode' alias='flowstate' groupby='true'/>"
               "</link-entity></entity></fetch>")
        return client.records.fetch("opportunity", xml)

    def by_rows(span: Range) -> list[dict[str, Any]]:
        return _opportunity_rows(client, start, end, span)

    return grouped(client, "opportunity", run, by_rows)


def _opportunity_rows(client: DataverseClient, start: date, end: date, span: Range) -> list[dict[str, Any]]:
    """The groups' shape, one per opportunity (read row by row: the rare range too dense to split)."""
    stage_of: dict[str, tuple[Any, Any]] = {}
    for flow in client.records.list("leadtoopportunitysalesprocess",
                                    select=["_opportunityid_value", "_activestageid_value", "statecode"]):
        if flow.get("_opportunityid_value"):
            stage_of[str(flow["_opportunityid_value"])] = (flow.get("_activestageid_value"), flow.get("statecode"))
    after = (end + timedelta(days=1)).isoformat()
    closed = (f"(actualclosedate ge {start.isoformat()} and actualclosedate le {end.isoformat()}) or "
              f"(actualclosedate eq null and modifiedon ge {start.isoformat()}T00:00:00Z and "
              f"modifiedon lt {after}T00:00:00Z)")
    condition = f"(statecode eq 0 or (statecode ne 0 and ({closed})))"
    if span is not None:
        condition += f" and {_odata_range(span)}"
    out: list[dict[str, Any]] = []
    for opp in client.records.list("opportunity", filter=condition, select=[
            "opportunityid", "statecode", "statuscode", "estimatedvalue", "budgetamount", "actualvalue",
            "salesstage"]):
        row = {"count": 1, "state": opp["statecode"], "status": opp["statuscode"], "salesstage": opp.get("salesstage"),
               "estimated": opp.get("estimatedvalue"), "budget": opp.get("budgetamount"),
               "actual": opp.get("actualvalue")}
        instance = stage_of.get(str(opp["opportunityid"]))
        if instance is not None:
            row["stage"], row["flowstate"] = instance
        out.append({key: value for key, value in row.items() if value is not None})
    return out
