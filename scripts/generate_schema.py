"""Generate ``d365lab/models/cdm_columns.json`` from Microsoft's Common Data Model table facts.

The source is ``shared/reference/schema/<table>.json`` (CDM definitions resolved per table,
see its README). This script is the only author of the generated file: change the rules
below, run it, and commit both.

    python scripts/generate_schema.py                 # rewrite the data file
    python scripts/generate_schema.py --check         # exit 1 when the file is stale
    python scripts/generate_schema.py --differences   # the CDM-vs-reference table (markdown)

What it applies on top of the CDM facts, each listed in the file's ``differences`` and in
docs/mock-tenant.md:

* **The reference wins** (``shared/reference/dataverse-web-api.md``): Memo columns, DateOnly
  behaviour, option lists CDM leaves empty, columns CDM lacks (``msdyn_forecastcategory``,
  ``opportunitystatecode``...), regarding/party targets, two-option labels and defaults.
* **Web API shape**: PartyList columns (``to``, ``from``...) and the EntityName column CDM adds
  beside a polymorphic lookup (``owneridtype``...) are not properties of the Web API entity
  types, so they are left out; lookups CDM gives no target get the Dataverse one.
* **Mock choices** (documented, not facts): which platform columns are read-only, and boolean
  defaults CDM does not state (false unless listed).

Contains information from the Common Data Model (https://github.com/microsoft/CDM),
(c) Microsoft Corporation, licensed under CC BY 4.0. Changed: entity layers resolved and
flattened, converted to a different JSON shape, types mapped to Dataverse column types,
descriptions cut to their first sentence (by the reference folder); then filtered and
amended as described above (by this script).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DEFAULT_REFERENCE = REPO.parent / "shared" / "reference" / "schema"
DEFAULT_OUTPUT = REPO / "d365lab" / "models" / "cdm_columns.json"

ATTRIBUTION = (
    "Contains information from the Common Data Model (https://github.com/microsoft/CDM), "
    "(c) Microsoft Corporation, licensed under CC BY 4.0 "
    "(https://creativecommons.org/licenses/by/4.0/). Changed: entity layers resolved and flattened, "
    "converted to a different JSON shape, types mapped to Dataverse column types; then filtered and "
    "amended by scripts/generate_schema.py (see the 'differences' list and docs/mock-tenant.md)."
)

#: The mock's tables that CDM describes (the others are written by hand in d365lab/models).
TABLES: tuple[str, ...] = (
    "lead", "contact", "account", "opportunity", "opportunityclose", "competitor", "campaign",
    "activitypointer", "phonecall", "task", "email", "appointment", "activityparty",
    "systemuser", "businessunit", "transactioncurrency",
)
ACTIVITIES: tuple[str, ...] = ("activitypointer", "phonecall", "task", "email", "appointment", "opportunityclose")

REFERENCE = "dataverse-web-api.md"
_SALES_OPTIONS = {
    "budgetstatus": [[0, "No Committed Budget"], [1, "May Buy"], [2, "Can Buy"], [3, "Will Buy"]],
    "purchasetimeframe": [[0, "Immediate"], [1, "This Quarter"], [2, "Next Quarter"], [3, "This Year"],
                          [4, "Unknown"]],
    "purchaseprocess": [[0, "Individual"], [1, "Committee"], [2, "Unknown"]],
    "need": [[0, "Must have"], [1, "Should have"], [2, "Good to have"], [3, "No need"]],
    "initialcommunication": [[0, "Contacted"], [1, "Not Contacted"]],
}
_OPPORTUNITY_STATUS = [[1, "In Progress"], [2, "On Hold"], [3, "Won"], [4, "Canceled"], [5, "Out-Sold"]]

#: (table, column) -> (changes, why). "*" as table: every table having the column.
OVERRIDES: list[tuple[str, str, dict[str, Any], str]] = [
    *[("*", name, {"type": "Memo"}, f"{REFERENCE} §1.1/§3.1/§4.1/§5: Memo(2000)")
      for name in ("description", "qualificationcomments", "currentsituation", "customerneed",
                   "customerpainpoints", "proposedsolution", "quotecomments")],
    *[(table, name, {"type": "DateOnly"}, f"{REFERENCE} §1.1/§3.1/§4.1: DateTime with DateOnly behaviour")
      for table, name in (("lead", "estimatedclosedate"), ("opportunity", "estimatedclosedate"),
                          ("opportunity", "actualclosedate"), ("opportunity", "finaldecisiondate"),
                          ("opportunityclose", "actualend"))],
    *[("opportunity", name, {"options": options}, f"{REFERENCE} §3.1: CDM gives an empty option list")
      for name, options in _SALES_OPTIONS.items()],
    ("lead", "leadqualitycode", {"default": 2}, f"{REFERENCE} §1.1: 2 Warm (default)"),
    ("opportunity", "opportunityratingcode", {"default": 2}, f"{REFERENCE} §3.1: 2 Warm (default)"),
    ("opportunity", "isrevenuesystemcalculated", {"labels": ["System Calculated", "User Provided"],
                                                   "default": False},
     f"{REFERENCE} §3.1: false = User Provided"),
    ("phonecall", "directioncode", {"labels": ["Outgoing", "Incoming"], "default": True},
     f"{REFERENCE} §5: true = Outgoing (default), false = Incoming"),
    *[(table, "regardingobjectid", {"add_targets": ["lead", "opportunity"]},
       f"{REFERENCE} §5: regarding binds to opportunity, lead, account, contact")
      for table in ACTIVITIES if table != "opportunityclose"],
    ("activityparty", "partyid", {"add_targets": ["lead"]}, f"{REFERENCE} §5: partyid_lead"),
]
#: Columns CDM lacks that the reference states (added with these facts).
ADDED: list[tuple[str, str, dict[str, Any], str]] = [
    ("opportunity", "msdyn_forecastcategory", {
        "type": "Picklist", "display_name": "Forecast category", "default": 100000001,
        "options": [[100000001, "Pipeline"], [100000002, "Best case"], [100000003, "Committed"],
                    [100000004, "Omitted"], [100000005, "Won"], [100000006, "Lost"]]},
     f"{REFERENCE} §3.1 (a Sales solution column, not in CDM)"),
    ("opportunityclose", "opportunitystatecode", {
        "type": "Picklist", "display_name": "Opportunity Status",
        "options": [[0, "Open"], [1, "Won"], [2, "Lost"]]}, f"{REFERENCE} §4.1 (not in CDM)"),
    ("opportunityclose", "opportunitystatuscode", {
        "type": "Picklist", "display_name": "Status Reason", "options": _OPPORTUNITY_STATUS},
     f"{REFERENCE} §4.1 (not in CDM)"),
    *[("activityparty", name, {"type": kind, "read_only": True, **extra},
       "mock: stamped on every row the mock stores (CDM lists none for activityparty)")
      for name, kind, extra in (("createdon", "DateTime", {}), ("modifiedon", "DateTime", {}),
                                ("createdby", "Lookup", {"targets": ["systemuser"]}),
                                ("modifiedby", "Lookup", {"targets": ["systemuser"]}))],
]
#: Targets of lookups CDM leaves without any (Dataverse's tables of those names).
MISSING_TARGETS: dict[str, list[str]] = {
    "accountid": ["account"], "contactid": ["contact"], "parentcontactid": ["contact"],
    "createdbyexternalparty": ["externalparty"], "modifiedbyexternalparty": ["externalparty"],
    "sendermailboxid": ["mailbox"], "defaultmailbox": ["mailbox"], "templateid": ["template"],
    "calendarid": ["calendar"], "mobileofflineprofileid": ["mobileofflineprofile"], "subjectid": ["subject"],
}
#: Platform-maintained columns the mock refuses on writes (mock choice; Dataverse's IsValidForCreate/Update).
READ_ONLY: frozenset[str] = frozenset({
    "createdon", "modifiedon", "createdby", "modifiedby", "createdonbehalfby", "modifiedonbehalfby",
    "versionnumber", "owningbusinessunit", "owninguser", "owningteam", "fullname", "yomifullname",
    "exchangerate", "activitytypecode", "isregularactivity", "timespentbymeonemailandmeetings",
    "merged", "masterid", "onholdtime", "lastonholdtime", "slainvokedid", "entityimageid",
    "address1_composite", "address2_composite", "address3_composite",
})
#: Lookups filled by the platform from another column (read-only on lead and opportunity).
READ_ONLY_ON: dict[str, frozenset[str]] = {
    "lead": frozenset({"accountid", "contactid"}), "opportunity": frozenset({"accountid", "contactid"}),
}
#: Columns of :data:`READ_ONLY` that a table lets callers write (a currency's own exchange rate).
WRITABLE_ON: dict[str, frozenset[str]] = {"transactioncurrency": frozenset({"exchangerate"})}
#: Two-option defaults other than false, and labels other than Yes/No (mock choices, from Dataverse's UI).
BOOLEAN_TRUE_DEFAULTS: frozenset[str] = frozenset({"followemail", "isregularactivity"})
_ALLOW = ["Do Not Allow", "Allow"]
BOOLEAN_LABELS: dict[str, list[str]] = {
    "donotbulkemail": _ALLOW, "donotemail": _ALLOW, "donotfax": _ALLOW, "donotphone": _ALLOW,
    "donotpostalmail": _ALLOW, "donotsendmm": ["Do Not Send", "Send"], "donotbulkpostalmail": _ALLOW,
    "followemail": ["Allow", "Do Not Allow"], "isdisabled": ["Disabled", "Enabled"],
}
#: Sales process-step labels as Microsoft's table reference publishes them (several read the
#: other way round from their name: confirminterest true = "No").
_COMPLETED = ["completed", "mark complete"]
_COMPLETED_CAPITALISED = ["Completed", "Mark complete"]
_NO_YES = ["No", "Yes"]
SALES_LABELS: dict[str, dict[str, list[str]]] = {
    "lead": {"decisionmaker": _COMPLETED, "confirminterest": _NO_YES, "evaluatefit": _NO_YES},
    "opportunity": {
        "decisionmaker": _COMPLETED, "confirminterest": _NO_YES, "evaluatefit": _NO_YES,
        "identifycustomercontacts": _COMPLETED, "identifycompetitors": _COMPLETED,
        "identifypursuitteam": _COMPLETED, "developproposal": _COMPLETED_CAPITALISED,
        "completeinternalreview": _COMPLETED_CAPITALISED, "presentproposal": _COMPLETED_CAPITALISED,
        "completefinalproposal": _COMPLETED_CAPITALISED, "presentfinalproposal": _COMPLETED,
        "sendthankyounote": _COMPLETED_CAPITALISED, "filedebrief": _COMPLETED_CAPITALISED,
        "pursuitdecision": _NO_YES, "captureproposalfeedback": _NO_YES, "resolvefeedback": _NO_YES,
    },
    "email": {"directioncode": ["Outgoing", "Incoming"]},
}
_TYPES = {"Uniqueidentifier", "String", "Memo", "Integer", "BigInt", "Boolean", "Money", "Double", "Decimal",
          "DateTime", "DateOnly", "Picklist", "State", "Status", "Lookup", "Customer", "Owner", "EntityName"}


def _selected_type_columns(columns: dict[str, dict[str, Any]]) -> set[str]:
    """EntityName columns CDM adds beside a lookup (``owneridtype``, ``regardingobjecttypecode``)."""
    out: set[str] = set()
    for name, col in columns.items():
        if col["type"] != "EntityName" or not col.get("read_only"):
            continue
        for suffix in ("typecode", "type"):
            if not name.endswith(suffix):
                continue
            stem = name[: -len(suffix)]
            for lookup in (stem, stem + "id"):
                if columns.get(lookup, {}).get("type") in ("Lookup", "Customer", "Owner"):
                    out.add(name)
    return out


def _column(table: str, cdm: dict[str, Any]) -> dict[str, Any]:
    """The generated facts of one CDM column (before overrides)."""
    name = cdm["logical_name"]
    out: dict[str, Any] = {"type": cdm["type"], "display_name": cdm["display_name"]}
    for key in ("max_length", "min_value", "max_value"):
        if cdm.get(key) is not None:
            out[key] = cdm[key]
    if cdm.get("required_level") not in (None, "none"):
        out["required_level"] = cdm["required_level"]
    if cdm["type"] in ("Lookup", "Customer", "Owner"):
        out["targets"] = sorted(cdm["targets"] or MISSING_TARGETS.get(name, []))
    if cdm.get("options") is not None and cdm["type"] in ("Picklist", "State", "Status"):
        out["options"] = [[o["value"], o["label"], *([o["state"]] if "state" in o else [])]
                          for o in cdm["options"] if o.get("value") is not None]
    if ((name in READ_ONLY and name not in WRITABLE_ON.get(table, ())) or name in READ_ONLY_ON.get(table, ())
            or cdm.get("read_only") or cdm.get("calculation_of")):
        out["read_only"] = True
    if cdm["type"] == "Boolean":
        out["default"] = name in BOOLEAN_TRUE_DEFAULTS
        labels = SALES_LABELS.get(table, {}).get(name) or BOOLEAN_LABELS.get(name)
        if labels:
            out["labels"] = labels
    if name == "activitytypecode":
        out["default"] = table
    return out


def _apply(table: str, name: str, column: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """A column with override ``changes`` applied (``add_targets`` unites target lists)."""
    updated = dict(column)
    for key, value in changes.items():
        if key == "add_targets":
            updated["targets"] = sorted(set(updated.get("targets", [])) | set(value))
        else:
            updated[key] = value
    return updated


def _summary(column: dict[str, Any] | None, keys: set[str]) -> str:
    """Short text of the facts an override touched (for the differences list)."""
    if column is None:
        return "(absent)"
    parts = []
    for key in sorted(keys):
        shown = "targets" if key == "add_targets" else key
        value = column.get(shown)
        if shown == "options" and isinstance(value, list):
            value = "[" + ", ".join(f"{o[0]} {o[1]}" for o in value) + "]"
        elif isinstance(value, list):
            value = ", ".join(str(v) for v in value)
        parts.append(f"{shown}: {'(none)' if value in (None, '') else value}")
    return "; ".join(parts)


def build(reference: Path) -> dict[str, Any]:
    """The generated data: every column of :data:`TABLES` with the overrides applied."""
    tables: dict[str, Any] = {}
    differences: list[dict[str, str]] = []
    for table in TABLES:
        source = json.loads((reference / f"{table}.json").read_text(encoding="utf-8"))
        raw = {c["logical_name"]: c for c in source["columns"]}
        skipped_types = _selected_type_columns(raw)
        columns: dict[str, dict[str, Any]] = {}
        for name, cdm in sorted(raw.items()):
            if cdm["type"] == "Other":
                differences.append({"table": table, "column": name, "cdm": "PartyList",
                                    "mock": "not a property",
                                    "why": f"{REFERENCE} §5: party lists are written through "
                                           f"<activity>_activity_parties, not as properties"})
                continue
            if name in skipped_types:
                differences.append({"table": table, "column": name, "cdm": "EntityName (selected type)",
                                    "mock": "not a property",
                                    "why": f"{REFERENCE} §7.6: the target table of a lookup is read from "
                                           f"its lookuplogicalname annotation"})
                continue
            if cdm["type"] not in _TYPES:
                raise ValueError(f"{table}.{name}: unknown CDM column type {cdm['type']!r}")
            columns[name] = _column(table, cdm)
        for over_table, name, changes, why in OVERRIDES:
            if over_table not in ("*", table) or name not in columns:
                continue
            before = columns[name]
            columns[name] = _apply(table, name, before, changes)
            if _summary(before, set(changes)) != _summary(columns[name], set(changes)):
                differences.append({"table": table, "column": name, "cdm": _summary(before, set(changes)),
                                    "mock": _summary(columns[name], set(changes)), "why": why})
        for add_table, name, facts, why in ADDED:
            if add_table != table:
                continue
            if name in columns:
                raise ValueError(f"{table}.{name} is in CDM now: move it from ADDED to OVERRIDES")
            columns[name] = {"display_name": name, **facts}
            differences.append({"table": table, "column": name, "cdm": "(absent)",
                                "mock": _summary(columns[name], set(facts) - {"display_name"}), "why": why})
        tables[table] = {"display_name": source["display_name"], "primary_id": source["primary_id"],
                         "columns": dict(sorted(columns.items()))}
    return {"attribution": ATTRIBUTION, "source": _source_line(reference), "generated_by": "scripts/generate_schema.py",
            "tables": tables, "differences": differences}


def _source_line(reference: Path) -> str:
    readme = (reference / "README.md").read_text(encoding="utf-8")
    commit = next((w.strip("`(),") for line in readme.splitlines() if "commit" in line
                   for w in line.split() if len(w.strip("`(),")) == 40), "unknown")
    return f"microsoft/CDM commit {commit}, as resolved in shared/reference/schema"


def render(data: dict[str, Any]) -> str:
    """The file's text: stable, one column (and one difference) per line."""
    lines = ["{",
             f'  "attribution": {json.dumps(data["attribution"])},',
             f'  "source": {json.dumps(data["source"])},',
             f'  "generated_by": {json.dumps(data["generated_by"])},',
             '  "tables": {']
    table_items = list(data["tables"].items())
    for t_index, (table, facts) in enumerate(table_items):
        lines.append(f'    {json.dumps(table)}: {{"display_name": {json.dumps(facts["display_name"])}, '
                     f'"primary_id": {json.dumps(facts["primary_id"])}, "columns": {{')
        column_items = list(facts["columns"].items())
        for c_index, (name, column) in enumerate(column_items):
            comma = "," if c_index < len(column_items) - 1 else ""
            lines.append(f"      {json.dumps(name)}: {json.dumps(column, ensure_ascii=False)}{comma}")
        lines.append("    }}" + ("," if t_index < len(table_items) - 1 else ""))
    lines.append("  },")
    lines.append('  "differences": [')
    for index, diff in enumerate(data["differences"]):
        comma = "," if index < len(data["differences"]) - 1 else ""
        lines.append(f"    {json.dumps(diff, ensure_ascii=False)}{comma}")
    lines.append("  ]")
    lines.append("}")
    return "\n".join(lines) + "\n"


def differences_markdown(data: dict[str, Any]) -> str:
    """The differences as a markdown table (pasted into docs/mock-tenant.md)."""
    rows = ["| table.column | CDM | mock | why |", "|---|---|---|---|"]
    for diff in data["differences"]:
        rows.append(f"| `{diff['table']}.{diff['column']}` | {diff['cdm']} | {diff['mock']} | {diff['why']} |")
    return "\n".join(rows) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Command line: write (default), ``--check`` or ``--differences``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--reference", type=Path, default=DEFAULT_REFERENCE, help="the CDM schema folder")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="the generated file")
    parser.add_argument("--check", action="store_true", help="exit 1 when the output file is not up to date")
    parser.add_argument("--differences", action="store_true", help="print the differences as markdown")
    args = parser.parse_args(argv)
    if not (args.reference / "README.md").is_file():
        print(f"error: {args.reference} is not the CDM schema folder (no README.md)", file=sys.stderr)
        return 2
    data = build(args.reference)
    if args.differences:
        sys.stdout.write(differences_markdown(data))
        return 0
    text = render(data)
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.is_file() else ""
        if current != text:
            print(f"{args.output} is stale: run python scripts/generate_schema.py", file=sys.stderr)
            return 1
        return 0
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {args.output} ({sum(len(t['columns']) for t in data['tables'].values())} columns, "
          f"{len(data['differences'])} differences)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
