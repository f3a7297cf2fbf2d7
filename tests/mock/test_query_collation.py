"""Text comparisons are case- and accent-insensitive, like Dataverse's CI_AI collation.

Everything goes through HTTP: ``$filter`` operators and query functions, ``$orderby`` and
keyset paging, alternate keys, FetchXML, ``?sql=``, writes keeping the folded form up to
date, no folded shadow column in any answer, and an older tenant file upgraded on open.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from d365lab.mock.app import create_app
from d365lab.mock.inprocess import ServiceRootSession, route_requests

from .conftest import BASE_URL, TOKEN

Create = Callable[[str, dict[str, Any]], str]

LEADS = [
    {"subject": "Café Noir", "lastname": "Lefèvre", "jobtitle": "Directrice Générale",
     "companyname": "Société Générale"},
    {"subject": "CAFE au lait", "lastname": "Muller", "jobtitle": "Barista"},
    {"subject": "Crème brûlée", "lastname": "Müller", "companyname": "Pâtisserie"},
    {"subject": "Œuvre complète", "lastname": "Straße", "jobtitle": "ŒNOLOGUE"},
    {"subject": "Éclair", "lastname": "O'Brien"},
    {"subject": "Eclat", "lastname": "Zoë"},
    {"subject": "apple", "lastname": "Doe"},
    {"subject": "Zèbre", "lastname": "Doe"},
    {"subject": "Mocha 50%_off", "lastname": "Doe"},
    {"subject": "Mocha 50 off", "lastname": "Doe"},
    {"subject": "Mocha 50x off", "lastname": "Doe"},
    {"lastname": "No subject"},
]


@pytest.fixture
def leads(create: Create) -> dict[str, str]:
    """The leads above, by subject (or lastname when there is none) -> id."""
    return {str(lead.get("subject") or lead["lastname"]): create("leads", lead) for lead in LEADS}


def subjects(api: ServiceRootSession, **params: str) -> list[str | None]:
    response = api.get("leads", params={"$select": "subject", **params})
    assert response.status_code == 200, response.text
    return [row["subject"] for row in response.json()["value"]]


def matching(api: ServiceRootSession, filter_text: str) -> set[str | None]:
    return set(subjects(api, **{"$filter": filter_text}))


# ------------------------------------------------------------------- $filter

@pytest.mark.parametrize("literal", ["Café Noir", "CAFÉ NOIR", "cafe noir", "CAFE NOIR", "çafé nôir"])
def test_eq_ignores_case_and_accents(api: ServiceRootSession, leads: dict[str, str], literal: str) -> None:
    assert matching(api, f"subject eq '{literal}'") == {"Café Noir"}


def test_the_stored_text_comes_back_unchanged(api: ServiceRootSession, leads: dict[str, str]) -> None:
    row = api.get(f"leads({leads['Café Noir']})?$select=subject,lastname,jobtitle,companyname").json()
    assert (row["subject"], row["lastname"], row["jobtitle"], row["companyname"]) == (
        "Café Noir", "Lefèvre", "Directrice Générale", "Société Générale")


def test_ne_excludes_every_spelling_and_keeps_null(api: ServiceRootSession, leads: dict[str, str]) -> None:
    found = matching(api, "subject ne 'CAFE NOIR'")
    assert "Café Noir" not in found
    assert {"CAFE au lait", None} <= found
    assert len(found) == len(LEADS) - 1


@pytest.mark.parametrize(("filter_text", "expected"), [
    ("subject ge 'ECLAIR' and subject lt 'eclat'", {"Éclair"}),
    ("subject gt 'éclair' and subject le 'ÉCLAT'", {"Eclat"}),
    ("subject gt 'Eclat' and subject lt 'mocha'", set()),
    ("subject lt 'B'", {"apple"}),
    ("subject ge 'zebre'", {"Zèbre"}),
    ("subject gt 'z'", {"Zèbre"}),
    ("subject ge 'œ' and subject lt 'p'", {"Œuvre complète"}),
])
def test_order_comparisons_use_the_folded_order(api: ServiceRootSession, leads: dict[str, str],
                                                filter_text: str, expected: set[str]) -> None:
    assert matching(api, filter_text) == expected


@pytest.mark.parametrize(("filter_text", "expected"), [
    ("contains(subject,'NOIR')", {"Café Noir"}),
    ("contains(subject,'É N')", {"Café Noir"}),
    ("contains(subject,'BRULEE')", {"Crème brûlée"}),
    ("contains(subject,'ŒU')", {"Œuvre complète"}),
    ("contains(subject,'oeu')", {"Œuvre complète"}),
    ("startswith(subject,'CAFÉ')", {"Café Noir", "CAFE au lait"}),
    ("startswith(subject,'cafe ')", {"Café Noir", "CAFE au lait"}),
    ("startswith(subject,'ÉCLA')", {"Éclair", "Eclat"}),
    ("startswith(subject,'Z')", {"Zèbre"}),
    ("endswith(subject,'LAIT')", {"CAFE au lait"}),
    ("endswith(subject,'BRÛLÉE')", {"Crème brûlée"}),
    ("endswith(subject,'Ete')", {"Œuvre complète"}),
])
def test_like_functions_ignore_case_and_accents(api: ServiceRootSession, leads: dict[str, str],
                                                filter_text: str, expected: set[str]) -> None:
    assert matching(api, filter_text) == expected


@pytest.mark.parametrize(("filter_text", "expected"), [
    ("contains(subject,'%')", {"Mocha 50%_off"}),
    ("contains(subject,'_')", {"Mocha 50%_off"}),
    ("contains(subject,'50%_')", {"Mocha 50%_off"}),
    ("startswith(subject,'mocha 50%')", {"Mocha 50%_off"}),
    ("endswith(subject,'_OFF')", {"Mocha 50%_off"}),
    ("contains(subject,'50 ')", {"Mocha 50 off"}),
    # A fullwidth percent sign folds to '%', and is still matched literally.
    ("contains(subject,'５０％')", {"Mocha 50%_off"}),
])
def test_wildcards_in_literals_are_matched_literally(api: ServiceRootSession, leads: dict[str, str],
                                                     filter_text: str, expected: set[str]) -> None:
    assert matching(api, filter_text) == expected


def test_quotes_are_unescaped_before_folding(api: ServiceRootSession, leads: dict[str, str]) -> None:
    assert matching(api, "lastname eq 'o''BRIEN'") == {"Éclair"}
    assert matching(api, "contains(lastname,'''b')") == {"Éclair"}


@pytest.mark.parametrize(("filter_text", "expected"), [
    ("lastname eq 'LEFEVRE'", {"Café Noir"}),
    ("lastname eq 'muller'", {"CAFE au lait", "Crème brûlée"}),
    ("lastname eq 'STRASSE'", {"Œuvre complète"}),
    ("lastname eq 'zoe'", {"Eclat"}),
    ("fullname eq 'lefevre'", {"Café Noir"}),
    ("companyname eq 'SOCIETE GENERALE'", {"Café Noir"}),
    ("companyname eq 'patisserie'", {"Crème brûlée"}),
])
def test_other_indexed_columns_fold_too(api: ServiceRootSession, leads: dict[str, str],
                                        filter_text: str, expected: set[str]) -> None:
    assert matching(api, filter_text) == expected


@pytest.mark.parametrize(("filter_text", "expected"), [
    ("jobtitle eq 'DIRECTRICE GENERALE'", {"Café Noir"}),
    ("jobtitle eq 'oenologue'", {"Œuvre complète"}),
    ("startswith(jobtitle,'dir')", {"Café Noir"}),
    ("contains(jobtitle,'RALE')", {"Café Noir"}),
    ("endswith(jobtitle,'ISTA')", {"CAFE au lait"}),
    ("jobtitle gt 'c' and jobtitle lt 'e'", {"Café Noir"}),
    ("jobtitle ne 'BARISTA' and jobtitle ne null", {"Café Noir", "Œuvre complète"}),
])
def test_columns_without_index_fold_through_the_sql_function(api: ServiceRootSession, leads: dict[str, str],
                                                            filter_text: str, expected: set[str]) -> None:
    assert matching(api, filter_text) == expected


@pytest.mark.parametrize(("filter_text", "expected"), [
    ("Microsoft.Dynamics.CRM.In(PropertyName='subject',PropertyValues=['CAFE NOIR','ECLAIR'])",
     {"Café Noir", "Éclair"}),
    ("Microsoft.Dynamics.CRM.In(PropertyName='jobtitle',PropertyValues=[\"barista\",\"œnologue\"])",
     {"CAFE au lait", "Œuvre complète"}),
    ("Microsoft.Dynamics.CRM.NotIn(PropertyName='lastname',PropertyValues=['DOE','MULLER','no subject'])",
     {"Café Noir", "Œuvre complète", "Éclair", "Eclat"}),
    ("Microsoft.Dynamics.CRM.Between(PropertyName='subject',PropertyValues=['ECLAIR','éclat'])",
     {"Éclair", "Eclat"}),
])
def test_query_functions_fold_their_values(api: ServiceRootSession, leads: dict[str, str],
                                           filter_text: str, expected: set[str]) -> None:
    assert matching(api, filter_text) == expected


def test_alias_values_are_folded(api: ServiceRootSession, leads: dict[str, str]) -> None:
    assert set(subjects(api, **{"$filter": "subject eq @s", "@s": "'CAFÉ NOIR'"})) == {"Café Noir"}


def test_count_uses_the_same_comparison(api: ServiceRootSession, leads: dict[str, str]) -> None:
    assert api.get("leads/$count", params={"$filter": "lastname eq 'MÜLLER'"}).text.lstrip("\ufeff") == "2"


# ------------------------------------------------------------------- $orderby

FOLDED_ORDER = ["apple", "CAFE au lait", "Café Noir", "Crème brûlée", "Éclair", "Eclat",
                "Mocha 50 off", "Mocha 50%_off", "Mocha 50x off", "Œuvre complète", "Zèbre"]


def test_orderby_sorts_accented_text_with_its_base_letters(api: ServiceRootSession, leads: dict[str, str]) -> None:
    assert subjects(api, **{"$orderby": "subject", "$filter": "subject ne null"}) == FOLDED_ORDER
    assert subjects(api, **{"$orderby": "subject desc", "$filter": "subject ne null"}) == FOLDED_ORDER[::-1]


def test_orderby_on_a_column_without_index(api: ServiceRootSession, leads: dict[str, str]) -> None:
    rows = api.get("leads", params={"$select": "jobtitle", "$filter": "jobtitle ne null",
                                    "$orderby": "jobtitle desc"}).json()["value"]
    assert [r["jobtitle"] for r in rows] == ["ŒNOLOGUE", "Directrice Générale", "Barista"]


@pytest.mark.parametrize("direction", ["", " desc"])
def test_keyset_paging_over_a_folded_sort_key(api: ServiceRootSession, create: Create, direction: str) -> None:
    # Spellings that fold alike: paging must neither skip nor repeat rows between them.
    base_letters = {"Été": "ete", "ete": "ete", "ÉTÉ": "ete", "été": "ete", "Ete": "ete", "etE": "ete",
                    "Étage": "etage", "étoile": "etoile", "Etable": "etable"}
    spellings = list(base_letters)
    for spelling in spellings:
        create("leads", {"subject": spelling, "lastname": "Pager"})
    create("leads", {"lastname": "Pager"})  # no subject: first ascending, last descending
    url: str | None = (api.service_root + "leads?$select=subject&$filter=lastname eq 'PAGER'"
                       f"&$orderby=subject{direction}")
    seen: list[tuple[str | None, str]] = []
    while url:
        body = api.get(url, headers={"Prefer": "odata.maxpagesize=2"}).json()
        seen += [(row["subject"], row["leadid"]) for row in body["value"]]
        url = body.get("@odata.nextLink")
    assert len(seen) == len({ident for _, ident in seen}) == len(spellings) + 1
    order = [base_letters[subject] if subject else None for subject, _ in seen]
    expected = [None, "etable", "etage", *["ete"] * 6, "etoile"]
    assert order == (expected[::-1] if direction else expected)


def test_expand_filter_and_orderby_fold(api: ServiceRootSession, create: Create) -> None:
    call = create("phonecalls", {"subject": "Appel", "phonecall_activity_parties": [
        {"participationtypemask": 2, "addressused": "Élise"},
        {"participationtypemask": 2, "addressused": "alain"},
        {"participationtypemask": 2, "addressused": "Zoé"}]})
    expanded = api.get(f"phonecalls({call})", params={
        "$expand": "phonecall_activity_parties($select=addressused;$filter=addressused ne 'ZOE';"
                   "$orderby=addressused desc)"}).json()["phonecall_activity_parties"]
    assert [p["addressused"] for p in expanded] == ["Élise", "alain"]


# ------------------------------------------------------------------- keys and writes

def test_alternate_key_ignores_case_and_accents(api: ServiceRootSession, create: Create) -> None:
    account = create("accounts", {"name": "Société Générale", "accountnumber": "SG-É1"})
    row = api.get("accounts(accountnumber='sg-e1')?$select=name,accountnumber").json()
    assert (row["accountid"], row["name"], row["accountnumber"]) == (account, "Société Générale", "SG-É1")
    assert api.patch("accounts(accountnumber='SG-E1')", json={"telephone1": "555"}).status_code == 204
    assert api.get(f"accounts({account})?$select=telephone1").json()["telephone1"] == "555"
    assert api.get("accounts(name='SOCIETE GENERALE')?$select=name").json()["accountid"] == account
    found = api.get("accounts", params={"$select": "name", "$filter": "accountnumber eq 'sg-é1'"}).json()["value"]
    assert [r["accountid"] for r in found] == [account]


def test_lead_found_by_email_with_other_case_and_accents(api: ServiceRootSession, create: Create) -> None:
    lead = create("leads", {"subject": "Contact", "lastname": "Hélène", "emailaddress1": "Helene.Lefevre@Exemple.fr"})
    row = api.get("leads(emailaddress1='HÉLÈNE.LEFÈVRE@EXEMPLE.FR')?$select=emailaddress1").json()
    assert (row["leadid"], row["emailaddress1"]) == (lead, "Helene.Lefevre@Exemple.fr")


def test_updates_refresh_the_folded_form(api: ServiceRootSession, create: Create) -> None:
    lead = create("leads", {"subject": "Thé vert", "lastname": "Tea"})
    assert matching(api, "subject eq 'THE VERT'") == {"Thé vert"}
    assert api.patch(f"leads({lead})", json={"subject": "Café crème"}).status_code == 204
    assert matching(api, "subject eq 'THE VERT'") == set()
    assert matching(api, "subject eq 'CAFE CREME'") == {"Café crème"}
    response = api.post("leads/Microsoft.Dynamics.CRM.UpdateMultiple", json={"Targets": [
        {"@odata.type": "Microsoft.Dynamics.CRM.lead", "leadid": lead, "subject": "Chocolat chaud"}]})
    assert response.status_code == 204, response.text
    assert matching(api, "startswith(subject,'CHOCO')") == {"Chocolat chaud"}
    assert api.patch(f"leads({lead})", json={"subject": None}).status_code == 204
    assert subjects(api, **{"$filter": "lastname eq 'TEA' and subject eq null"}) == [None]
    assert matching(api, "startswith(subject,'CHOCO')") == set()


def test_bulk_created_rows_are_folded(api: ServiceRootSession) -> None:
    response = api.post("leads/Microsoft.Dynamics.CRM.CreateMultiple", json={"Targets": [
        {"@odata.type": "Microsoft.Dynamics.CRM.lead", "subject": f"Crêpe {i}", "lastname": "Bulk"}
        for i in range(3)]})
    assert response.status_code == 200, response.text
    assert matching(api, "startswith(subject,'CREPE ') and lastname eq 'bulk'") == {"Crêpe 0", "Crêpe 1", "Crêpe 2"}


def test_bulk_delete_conditions_fold(api: ServiceRootSession, create: Create) -> None:
    doomed = create("leads", {"subject": "Thé", "lastname": "Lefèvre"})
    kept = create("leads", {"subject": "Thé", "lastname": "Lefebvre"})
    condition = {"AttributeName": "lastname", "Operator": "Equal", "Values": [{"Value": "LEFEVRE"}]}
    response = api.post("BulkDelete", json={"JobName": "cleanup", "QuerySet": [{
        "@odata.type": "Microsoft.Dynamics.CRM.QueryExpression", "EntityName": "lead",
        "Criteria": {"FilterOperator": "And", "Conditions": [condition]}}]})
    assert response.status_code == 200, response.text
    assert api.get(f"leads({doomed})").status_code == 404
    assert api.get(f"leads({kept})").status_code == 200


# ------------------------------------------------------------------- FetchXML and ?sql=

def fetch_subjects(api: ServiceRootSession, conditions: str, order: str = "") -> list[str]:
    xml = (f"<fetch><entity name='lead'><attribute name='subject'/><filter>{conditions}</filter>{order}"
           "</entity></fetch>")
    response = api.get("leads", params={"fetchXml": xml})
    assert response.status_code == 200, response.text
    return [row["subject"] for row in response.json()["value"]]


@pytest.mark.parametrize(("condition", "expected"), [
    ("<condition attribute='subject' operator='eq' value='CAFE NOIR'/>", {"Café Noir"}),
    ("<condition attribute='subject' operator='like' value='%BRÛLEE'/>", {"Crème brûlée"}),
    ("<condition attribute='subject' operator='begins-with' value='éCLA'/>", {"Éclair", "Eclat"}),
    ("<condition attribute='subject' operator='ends-with' value='50%_OFF'/>", {"Mocha 50%_off"}),
    ("<condition attribute='jobtitle' operator='in'><value>BARISTA</value><value>oenologue</value></condition>",
     {"CAFE au lait", "Œuvre complète"}),
    ("<condition attribute='lastname' operator='eq' value='MULLER'/>"
     "<condition attribute='subject' operator='not-begin-with' value='crè'/>", {"CAFE au lait"}),
])
def test_fetch_xml_conditions_fold(api: ServiceRootSession, leads: dict[str, str],
                                   condition: str, expected: set[str]) -> None:
    assert set(fetch_subjects(api, condition)) == expected


def test_fetch_xml_order_folds(api: ServiceRootSession, leads: dict[str, str]) -> None:
    found = fetch_subjects(api, "<condition attribute='subject' operator='not-null'/>",
                           "<order attribute='subject'/>")
    assert found == FOLDED_ORDER


def test_sql_query_folds(api: ServiceRootSession, leads: dict[str, str]) -> None:
    response = api.get("leads", params={"sql": "SELECT subject FROM lead WHERE subject LIKE 'ÉCLA%' "
                                               "OR lastname = 'lefevre' ORDER BY subject DESC"})
    assert response.status_code == 200, response.text
    assert [row["subject"] for row in response.json()["value"]] == ["Eclat", "Éclair", "Café Noir"]


# ------------------------------------------------------------------- no shadow column leaks

def _no_shadow(value: Any) -> None:
    text = repr(value)
    assert "__f" not in text and "d365_fold" not in text, text


def test_no_folded_column_in_any_answer(api: ServiceRootSession, leads: dict[str, str]) -> None:
    lead = leads["Café Noir"]
    _no_shadow(api.get("leads").json())
    _no_shadow(api.get(f"leads({lead})").json())
    _no_shadow(api.get("leads", params={"fetchXml": "<fetch><entity name='lead'><all-attributes/>"
                                                    "</entity></fetch>"}).json())
    _no_shadow(api.get("leads", params={"sql": "SELECT * FROM lead"}).json())
    created = api.post("leads?$select=subject,lastname", json={"subject": "Représentation"},
                       headers={"Prefer": "return=representation"})
    assert created.status_code == 201
    _no_shadow(created.json())
    _no_shadow(api.get("$metadata").text)
    _no_shadow(api.get("EntityDefinitions(LogicalName='lead')/Attributes?$select=LogicalName").json())


@pytest.mark.parametrize("query", [
    {"$select": "subject__f"},
    {"$filter": "subject__f eq 'x'"},
    {"$orderby": "lastname__f"},
    {"sql": "SELECT subject__f FROM lead"},
    {"fetchXml": "<fetch><entity name='lead'><attribute name='subject__f'/></entity></fetch>"},
])
def test_folded_columns_cannot_be_addressed(api: ServiceRootSession, leads: dict[str, str],
                                            query: dict[str, str]) -> None:
    response = api.get("leads", params=query)
    assert response.status_code == 400
    assert "d365_fold" not in response.text


def test_a_folded_column_is_not_a_property(api: ServiceRootSession, leads: dict[str, str]) -> None:
    assert api.get(f"leads({leads['Café Noir']})/subject__f").status_code in (400, 404)
    assert api.patch(f"leads({leads['Café Noir']})", json={"subject__f": "x"}).status_code == 400


# ------------------------------------------------------------------- older tenant files

def _downgrade_to_the_layout_without_folded_columns(db: Path) -> None:
    """Rewrite a tenant file as the releases before folded shadow columns left it."""
    conn = sqlite3.connect(db)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            for (column,) in [(r[1],) for r in conn.execute(f'PRAGMA table_info("{table}")')]:
                if not column.endswith("__f"):
                    continue
                source = column[:-3]
                conn.execute(f'DROP INDEX IF EXISTS "ixf_{table}_{source}"')
                conn.execute(f'ALTER TABLE "{table}" DROP COLUMN "{column}"')
                conn.execute(f'CREATE INDEX "ix_{table}_{source}" ON "{table}" ("{source}")')
        conn.commit()
    finally:
        conn.close()


@contextmanager
def _session(db: Path) -> Iterator[ServiceRootSession]:
    app = create_app(str(db))
    try:
        with route_requests(app, BASE_URL), ServiceRootSession(BASE_URL, TOKEN) as session:
            yield session
    finally:
        app.close()


def test_an_older_tenant_file_is_upgraded_when_opened(tmp_path: Path) -> None:
    tenant_file = tmp_path / "tenant.sqlite"
    with _session(tenant_file) as api:
        assert api.post("leads", json={"subject": "Café Noir", "lastname": "Lefèvre"}).status_code == 204
        assert api.post("accounts", json={"name": "Société Générale", "accountnumber": "É-1"}).status_code == 204
    _downgrade_to_the_layout_without_folded_columns(tenant_file)
    for _ in range(2):  # the second opening finds the file already upgraded
        with _session(tenant_file) as api:
            assert matching(api, "subject eq 'CAFE NOIR'") == {"Café Noir"}
            assert matching(api, "startswith(lastname,'LEFE')") == {"Café Noir"}
            assert matching(api, "fullname eq 'lefevre'") == {"Café Noir"}
            assert api.get("accounts(accountnumber='e-1')?$select=name").json()["name"] == "Société Générale"
            _no_shadow(api.get("leads").json())
