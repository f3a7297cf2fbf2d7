"""A student doing lab 2.1 by hand: plain Web API calls, as the browser would send them.

No d365lab import at all: only ``requests`` against a service root, with the lab's French
values typed in from the lab text, the way the model-driven app sends them. Stage ids are
read from ``processstages`` by name, as the app does. "Today 16:30" is typed in the
student's own time zone (``zone``): the app converts it to UTC with the user's Dataverse
time zone, so a student whose personal zone is Los Angeles types Los Angeles time.

``variant`` leaves one task undone ("skip") or done wrong ("wrong"), so a test can assert
that exactly that task fails.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import requests

#: The address the in-process test client routes into the mock (``d365_client`` fixture).
IN_PROCESS_ROOT = "https://mock.d365lab.test/api/data/v9.2/"
IN_PROCESS_TOKEN = "d365lab-test-token"

SUBJECT_A = "Prospect machine à café sans société"
SUBJECT_B = "Prospect machine à café avec société"
SUBJECT_C = "Autre prospect machine à café"


class Browser:
    """The calls a model-driven app makes for the lab's clicks."""

    def __init__(self, api: str = IN_PROCESS_ROOT, token: str = IN_PROCESS_TOKEN) -> None:
        self.api = api if api.endswith("/") else api + "/"
        self.session = requests.Session()
        self.session.headers.update({
            "Authorization": f"Bearer {token}", "Accept": "application/json",
            "Content-Type": "application/json; charset=utf-8", "OData-Version": "4.0", "OData-MaxVersion": "4.0",
        })

    def create(self, entity_set: str, body: dict[str, Any]) -> str:
        response = self.session.post(self.api + entity_set, json=body)
        assert response.status_code == 204, response.text
        return str(response.headers["OData-EntityId"]).rsplit("(", 1)[1].rstrip(")")

    def patch(self, path: str, body: dict[str, Any]) -> None:
        response = self.session.patch(self.api + path, json=body, headers={"If-Match": "*"})
        assert response.status_code == 204, response.text

    def post(self, path: str, body: dict[str, Any]) -> Any:
        response = self.session.post(self.api + path, json=body)
        assert response.status_code in (200, 204), response.text
        return response.json() if response.status_code == 200 else None

    def get(self, path: str) -> Any:
        response = self.session.get(self.api + path)
        assert response.status_code == 200, response.text
        return response.json()

    def my_user_id(self) -> str:
        return str(self.get("WhoAmI")["UserId"])

    def set_my_time_zone(self, timezonecode: int) -> None:
        """Personal Options > Time Zone, as the app saves it."""
        self.patch(f"usersettingscollection({self.my_user_id()})", {"timezonecode": timezonecode})

    def stage_ids(self) -> dict[str, str]:
        rows = self.get("processstages?$select=processstageid,stagename")["value"]
        return {str(r["stagename"]): str(r["processstageid"]) for r in rows}


def local_utc(day: datetime, hhmm: str, zone: ZoneInfo) -> str:
    """What the app sends for ``hhmm`` typed on ``day`` by a user whose time zone is ``zone``."""
    hours, minutes = (int(p) for p in hhmm.split(":"))
    moment = datetime.combine(day.date(), time(hours, minutes), tzinfo=zone)
    return moment.astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%dT%H:%M:%SZ")


def do_lab(variant: dict[str, str] | None = None, stop_after: str | None = None, *, browser: Browser | None = None,
           zone: str = "Europe/Paris", typed_zone: str | None = None, prefix: str = "") -> dict[str, str]:
    """Do lab 2.1 in French; return the ids of the records made. ``variant``: task id -> skip|wrong.

    ``zone`` is the student's own time zone (their day, and what the app converts with);
    ``typed_zone`` is the zone the "16:30" really is in (a mistake when it differs); ``prefix``
    starts each lead's topic (``"<prefix> <topic>"``), as a student on a shared tenant types it.
    """

    def topic(text: str) -> str:
        return f"{prefix} {text}" if prefix else text

    variant = variant or {}
    b = browser or Browser()
    ids: dict[str, str] = {}
    own = ZoneInfo(zone)
    today = datetime.now(own)

    def doing(task: str) -> bool:
        return variant.get(task) != "skip"

    def stop(task: str) -> bool:
        return stop_after == task

    # Exercise 1, task 1: three leads
    ids["lead_a"] = b.create("leads", {"subject": topic(SUBJECT_A), "firstname": "Jane", "lastname": "Doe",
                                       "jobtitle": "Responsable de la cafétéria"})
    ids["lead_b"] = b.create("leads", {"subject": topic(SUBJECT_B), "firstname": "Jon", "lastname": "Doe",
                                       "companyname": "Doe Inc."})
    ids["lead_c"] = b.create("leads", {"subject": topic(SUBJECT_C), "firstname": "Jack",
                                       "lastname": "Smith" if variant.get("ex1.t1") == "wrong" else "Rogers",
                                       "companyname": "Test Coffee Shop, Inc."})
    if stop("ex1.t1"):
        return ids
    # Exercise 2: qualify, qualify, disqualify, reactivate
    qualify = {"CreateContact": True, "CreateOpportunity": True, "Status": 3}
    if doing("ex2.t1"):
        b.post(f"leads({ids['lead_a']})/Microsoft.Dynamics.CRM.QualifyLead", {**qualify, "CreateAccount": False})
    created = b.post(f"leads({ids['lead_b']})/Microsoft.Dynamics.CRM.QualifyLead",
                     {**qualify, "CreateAccount": variant.get("ex2.t2") != "wrong"})
    ids["opp_b"] = next(r["opportunityid"] for r in created["value"]
                        if r["@odata.type"] == "#Microsoft.Dynamics.CRM.opportunity")
    if stop("ex2.t2"):
        return ids
    if doing("ex2.t3"):
        reason = 4 if variant.get("ex2.t3") == "wrong" else 6
        b.patch(f"leads({ids['lead_c']})", {"statecode": 2, "statuscode": reason})
    if stop("ex2.t3"):
        return ids
    if doing("ex2.t4"):
        b.patch(f"leads({ids['lead_c']})", {"statecode": 0, "statuscode": 1})
    if stop("ex2.t4"):
        return ids
    # Exercise 3: the opportunity of Doe Inc.
    opp = f"opportunities({ids['opp_b']})"
    if doing("ex3.t1.a"):
        b.patch(opp, {"budgetamount": 17000, "purchasetimeframe": 1, "purchaseprocess": 1,
                      "description": "volonté de mise à niveau de leurs machines à café actuelles "
                                     "à plusieurs emplacements.",
                      "estimatedclosedate": (today + timedelta(days=1)).date().isoformat(),
                      "isrevenuesystemcalculated": False, "estimatedvalue": 16500})
    due = "17:30" if variant.get("ex3.t1.b") == "wrong" else "16:30"
    ids["call_jon"] = b.create("phonecalls", {
        "subject": "premier appel de Jon.", "scheduledend": local_utc(today, due, ZoneInfo(typed_zone or zone)),
        "regardingobjectid_opportunity_phonecall@odata.bind": f"/opportunities({ids['opp_b']})"})
    flow = b.get("leadtoopportunitysalesprocesses?$select=businessprocessflowinstanceid,traversedpath"
                 f"&$filter=_opportunityid_value eq {ids['opp_b']}")["value"][0]
    ids["bpf_b"] = flow["businessprocessflowinstanceid"]
    path = [s for s in (flow.get("traversedpath") or "").split(",") if s]
    stages = b.stage_ids()

    def move(stage: str) -> None:
        path.append(stages[stage])
        b.patch(f"leadtoopportunitysalesprocesses({ids['bpf_b']})",
                {"activestageid@odata.bind": f"/processstages({stages[stage]})", "traversedpath": ",".join(path)})

    if stages["Develop"] not in path:
        move("Develop")
    if doing("ex3.t1.c"):
        b.patch(opp, {"customerneed": "volonté de mise à niveau de ses machines à café à plusieurs emplacements.",
                      "proposedsolution": "recommandation de plusieurs machines AirPot Duo.",
                      "identifycustomercontacts": True, "identifycompetitors": True})
    move("Propose")
    if doing("ex3.t1.d"):
        b.patch(opp, {"identifypursuitteam": True, "developproposal": True, "completeinternalreview": True,
                      "presentproposal": True})
    if doing("ex3.t1.e"):
        b.patch(f"phonecalls({ids['call_jon']})", {"statecode": 1, "statuscode": 2})
    if doing("ex3.t1.f"):
        move("Close")
        b.patch(opp, {"completefinalproposal": True, "presentfinalproposal": True, "sendthankyounote": True,
                      "filedebrief": True, "finaldecisiondate": today.date().isoformat()})
        b.patch(f"leadtoopportunitysalesprocesses({ids['bpf_b']})", {"statecode": 1, "statuscode": 2})
    if doing("ex3.t1.g"):
        b.post("WinOpportunity", {"Status": 3, "OpportunityClose": {
            "subject": "Conclu", "opportunityid@odata.bind": f"/opportunities({ids['opp_b']})"}})
    return ids
