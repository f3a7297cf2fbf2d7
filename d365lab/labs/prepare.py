"""``d365lab lab prepare``: make a tenant gradable before the class.

A task a later task undoes (ex2.t3, disqualify then reactivate) can only be proven after
the fact from the tenant's audit table, and only if auditing was on while the student
worked. ``prepare`` therefore, as ``audit-timezones-grading.md`` (1.6) documents:

- switches on the environment's auditing (``PATCH organizations(<id>) {"isauditenabled": true}``);
- switches on auditing of the lab's tables (``GET`` the table definition, set
  ``IsAuditEnabled.Value``, ``PUT`` it back with ``MSCRM.MergeLabels: true``);
- switches on auditing of the columns a transient task's proof reads (lead ``statecode``,
  ``statuscode``) the same way, on ``EntityDefinitions(…)/Attributes(LogicalName='…')``;
- publishes what it changed (``PublishXml`` naming those tables: the docs say the changes take
  effect only once published) and reads the columns back;
- checks that the signed-in user can read the audit table and has a personal time zone the
  grader can use.

Each item is one line; what could not be changed says why and who can change it. The
tenant is *gradable* when the environment and every table a transient task lives in audit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import requests

from d365lab.errors import AccessDeniedError, DataverseError, describe_error
from d365lab.labs.spec import LabSpec, Language
from d365lab.labs.tenant_settings import column_audit, organization_audit, table_audit, user_time_zone
from d365lab.odata import dumps

if TYPE_CHECKING:
    from d365lab.client import DataverseClient

Status = Literal["ok", "changed", "failed", "note"]
_ERRORS = (DataverseError, requests.RequestException)

_TEXT: dict[str, dict[str, str]] = {
    "en": {
        "org_on": "auditing (environment): already on",
        "org_switched": "auditing (environment): switched on",
        "org_unreadable": "auditing (environment): cannot be read (organizations.isauditenabled): {why}",
        "org_failed": ("auditing (environment): could not switch it on ({why}); a System Administrator can, in "
                       "the Power Platform admin center > Environments > Settings > Audit and logs"),
        "table_on": "auditing of table {table}: already on",
        "table_switched": "auditing of table {table}: switched on",
        "table_fixed": "auditing of table {table}: off, and this tenant does not let it change (managed)",
        "table_unreadable": "auditing of table {table}: cannot be read",
        "table_failed": "auditing of table {table}: could not switch it on ({why})",
        "columns_on": "auditing of columns of {table} ({columns}): on",
        "columns_unreadable": "auditing of columns of {table} ({columns}): cannot be read",
        "column_off": ("auditing of column {table}.{column}: off; switch it on in the column's settings "
                       "(Advanced options > Enable auditing), then publish"),
        "column_switched": "auditing of column {table}.{column}: switched on",
        "column_fixed": ("auditing of column {table}.{column}: off, and this tenant does not let it change "
                         "(managed)"),
        "column_failed": ("auditing of column {table}.{column}: could not switch it on ({why}); a System "
                          "Administrator or System Customizer can, in the column's settings (Advanced options > "
                          "Enable auditing), then publish"),
        "column_unpublished": ("auditing of column {table}.{column}: switched on and published, but it still "
                               "reads off; publish all customizations in the maker portal and run prepare again"),
        "published": "published the customizations of {tables} (PublishXml)",
        "publish_failed": ("publishing the customizations of {tables} failed ({why}); the changes above take "
                           "effect only once published: a System Administrator or System Customizer can "
                           "select Publish all customizations in the maker portal"),
        "audit_readable": "reading the audit table: allowed",
        "audit_denied": ("reading the audit table: denied; give the grading user the View Audit Summary and "
                         "View Audit History privileges"),
        "audit_unreadable": "reading the audit table: not possible on this tenant ({why})",
        "tz_known": "lab user's time zone: {zone} (timezonecode {code})",
        "tz_unknown_code": ("lab user's time zone: timezonecode {code} maps to no known zone; pass --timezone "
                            "when checking"),
        "tz_unreadable": ("lab user's time zone: cannot be read (usersettings); the check falls back to the "
                          "lab's zone for the language unless --timezone is given"),
        "gradable": "the tenant is gradable: a disqualify undone later will be proven from audit",
        "not_gradable": "the tenant cannot be made gradable: {items}",
        "why_gradable": "needed to prove {tasks}",
    },
    "fr": {
        "org_on": "audit (environnement) : déjà activé",
        "org_switched": "audit (environnement) : activé",
        "org_unreadable": "audit (environnement) : illisible (organizations.isauditenabled) : {why}",
        "org_failed": ("audit (environnement) : activation impossible ({why}) ; un administrateur système peut "
                       "l'activer dans le centre d'administration Power Platform > Environnements > "
                       "Paramètres > Audit et journaux"),
        "table_on": "audit de la table {table} : déjà activé",
        "table_switched": "audit de la table {table} : activé",
        "table_fixed": "audit de la table {table} : désactivé, et ce tenant ne permet pas de le changer (géré)",
        "table_unreadable": "audit de la table {table} : illisible",
        "table_failed": "audit de la table {table} : activation impossible ({why})",
        "columns_on": "audit des colonnes de {table} ({columns}) : activé",
        "columns_unreadable": "audit des colonnes de {table} ({columns}) : illisible",
        "column_off": ("audit de la colonne {table}.{column} : désactivé ; activez-le dans les paramètres de la "
                       "colonne (Options avancées > Activer l'audit), puis publiez"),
        "column_switched": "audit de la colonne {table}.{column} : activé",
        "column_fixed": ("audit de la colonne {table}.{column} : désactivé, et ce tenant ne permet pas de le "
                         "changer (géré)"),
        "column_failed": ("audit de la colonne {table}.{column} : activation impossible ({why}) ; un "
                          "administrateur système ou un personnalisateur système peut l'activer dans les "
                          "paramètres de la colonne (Options avancées > Activer l'audit), puis publier"),
        "column_unpublished": ("audit de la colonne {table}.{column} : activé et publié, mais toujours lu "
                               "désactivé ; publiez toutes les personnalisations dans le portail des makers et "
                               "relancez prepare"),
        "published": "personnalisations de {tables} publiées (PublishXml)",
        "publish_failed": ("la publication des personnalisations de {tables} a échoué ({why}) ; les changements "
                           "ci-dessus ne prennent effet qu'une fois publiés : un administrateur système ou un "
                           "personnalisateur système peut choisir Publier toutes les personnalisations dans le "
                           "portail des makers"),
        "audit_readable": "lecture de la table d'audit : autorisée",
        "audit_denied": ("lecture de la table d'audit : refusée ; donnez à l'utilisateur du correcteur les "
                         "privilèges Afficher le résumé d'audit et Afficher l'historique d'audit"),
        "audit_unreadable": "lecture de la table d'audit : impossible sur ce tenant ({why})",
        "tz_known": "fuseau horaire de l'utilisateur du labo : {zone} (timezonecode {code})",
        "tz_unknown_code": ("fuseau horaire de l'utilisateur du labo : le timezonecode {code} ne correspond à "
                            "aucun fuseau connu ; passez --timezone à la vérification"),
        "tz_unreadable": ("fuseau horaire de l'utilisateur du labo : illisible (usersettings) ; la vérification "
                          "prend le fuseau du labo pour la langue, sauf --timezone"),
        "gradable": "le tenant peut être corrigé : une disqualification annulée ensuite sera prouvée par l'audit",
        "not_gradable": "le tenant ne peut pas être rendu corrigeable : {items}",
        "why_gradable": "nécessaire pour prouver {tasks}",
    },
}


def _say(lang: str, key: str, **values: Any) -> str:
    return _TEXT.get(lang, _TEXT["en"])[key].format(**values)


@dataclass(frozen=True)
class PrepareLine:
    """One item prepare looked at."""

    status: Status
    text: str
    #: True when the tenant is not gradable without this item
    required: bool = False


@dataclass
class PrepareResult:
    """Every item, and whether the tenant can now be graded."""

    lines: list[PrepareLine] = field(default_factory=list)

    @property
    def gradable(self) -> bool:
        """No required item failed."""
        return not any(line.status == "failed" and line.required for line in self.lines)

    @property
    def exit_code(self) -> int:
        """0 gradable, 2 not."""
        return 0 if self.gradable else 2


def history_columns(lab: LabSpec) -> dict[str, list[str]]:
    """Columns whose audit proves a transient task, per table (``lead`` -> statecode, statuscode)."""
    columns: dict[str, list[str]] = {}
    for task in lab.tasks:
        for check in task.expect if task.transient else []:
            if check.superseded_by and check.record and check.field:
                wanted = columns.setdefault(lab.records[check.record].entity, [])
                if check.field not in wanted:
                    wanted.append(check.field)
    return columns


def history_tables(lab: LabSpec) -> dict[str, list[str]]:
    """Tables whose audit proves a transient task (table -> task ids): the records of superseded checks."""
    tables: dict[str, list[str]] = {}
    for task in lab.tasks:
        if not task.transient:
            continue
        for check in task.expect:
            if check.superseded_by and check.record:
                ids = tables.setdefault(lab.records[check.record].entity, [])
                if task.id not in ids:
                    ids.append(task.id)
    return tables


def lab_tables(lab: LabSpec) -> list[str]:
    """Every table the lab's records live in, in the lab's order."""
    return list(dict.fromkeys(r.entity for r in lab.records.values()))


def prepare_tenant(client: DataverseClient, lab: LabSpec, lang: Language) -> PrepareResult:
    """Switch auditing on for the environment and the lab's tables; check the lab user's settings.

    Raises :class:`~d365lab.errors.DataverseError` (or a ``requests`` error) when the tenant
    cannot be reached at all; every item after that is reported, never raised.
    """
    me = client.whoami()  # an unreachable tenant or bad credentials: one error, not ten lines
    result = PrepareResult()
    needed = history_tables(lab)
    result.lines.append(_organization(client, lang))
    changed: dict[str, list[str]] = {}  # table -> columns switched (a table switched: no column)
    for entity in lab_tables(lab):
        line = _table(client, entity, lang, required=entity in needed)
        result.lines.append(line)
        if line.status == "changed":
            changed.setdefault(entity, [])
    for entity, columns in history_columns(lab).items():
        lines, switched = _columns(client, entity, columns, lang)
        result.lines.extend(lines)
        if switched:
            changed.setdefault(entity, []).extend(switched)
    if changed:
        result.lines.extend(_publish(client, changed, lang))
    result.lines.append(_audit_readable(client, lang))
    result.lines.append(_time_zone(client, str(me.user_id), lang))
    failed = [line.text for line in result.lines if line.status == "failed" and line.required]
    tasks = ", ".join(t for ids in needed.values() for t in ids)
    result.lines.append(PrepareLine("ok", _say(lang, "gradable")) if not failed else
                        PrepareLine("failed", _say(lang, "not_gradable", items="; ".join(failed)) + " — "
                                    + _say(lang, "why_gradable", tasks=tasks), required=True))
    return result


def _organization(client: DataverseClient, lang: Language) -> PrepareLine:
    org = organization_audit(client)
    if org is None:
        return PrepareLine("failed", _say(lang, "org_unreadable", why="no organization row"), required=True)
    if org.enabled:
        return PrepareLine("ok", _say(lang, "org_on"))
    try:
        client.records.update("organizations", org.organization_id, {"isauditenabled": True})
    except _ERRORS as exc:
        return PrepareLine("failed", _say(lang, "org_failed", why=describe_error(exc)), required=True)
    return PrepareLine("changed", _say(lang, "org_switched"))


def _table(client: DataverseClient, entity: str, lang: Language, *, required: bool) -> PrepareLine:
    current = table_audit(client, entity)
    if current is None:
        return PrepareLine("failed" if required else "note", _say(lang, "table_unreadable", table=entity),
                           required=required)
    if current.enabled:
        return PrepareLine("ok", _say(lang, "table_on", table=entity))
    if not current.can_change:
        return PrepareLine("failed" if required else "note", _say(lang, "table_fixed", table=entity),
                           required=required)
    path = f"EntityDefinitions(LogicalName='{entity}')"
    try:
        # a metadata update replaces the definition: send it back whole, with the one value changed
        definition = client.records.get("EntityDefinitions", {"LogicalName": entity})
        body = {k: v for k, v in definition.items() if not k.startswith("@odata.")}
        body["IsAuditEnabled"] = {**(body.get("IsAuditEnabled") or {}), "Value": True}
        client.transport.request("PUT", path, data=dumps(body), headers={"MSCRM.MergeLabels": "true"})
    except _ERRORS as exc:
        return PrepareLine("failed" if required else "note", _say(lang, "table_failed", table=entity,
                                                                   why=describe_error(exc)), required=required)
    return PrepareLine("changed", _say(lang, "table_switched", table=entity))


def _columns(client: DataverseClient, entity: str, columns: list[str],
             lang: Language) -> tuple[list[PrepareLine], list[str]]:
    """The columns a transient task's proof reads must be audited too (the third level): switch them on.

    As the docs show for a column: ``GET`` its whole definition, set ``IsAuditEnabled.Value``,
    ``PUT`` it back (``MSCRM.MergeLabels: true``); it takes effect once published (:func:`_publish`).
    Returns the lines and the columns switched.
    """
    found = column_audit(client, entity, columns)
    if found is None:
        return [PrepareLine("note", _say(lang, "columns_unreadable", table=entity, columns=", ".join(columns)))], []
    off = [c for c in columns if c in found and not found[c].enabled]
    if not off:
        return [PrepareLine("ok", _say(lang, "columns_on", table=entity, columns=", ".join(columns)))], []
    lines: list[PrepareLine] = []
    switched: list[str] = []
    for column in off:
        values = {"table": entity, "column": column}
        if not found[column].can_change:
            lines.append(PrepareLine("failed", _say(lang, "column_fixed", **values), required=True))
            continue
        path = f"EntityDefinitions(LogicalName='{entity}')/Attributes(LogicalName='{column}')"
        try:
            definition = client.transport.request("GET", path).json()
            body = {k: v for k, v in definition.items() if k == "@odata.type" or "@" not in k}
            body["IsAuditEnabled"] = {**(body.get("IsAuditEnabled") or {}), "Value": True}
            client.transport.request("PUT", path, data=dumps(body), headers={"MSCRM.MergeLabels": "true"})
        except (*_ERRORS, ValueError, AttributeError) as exc:
            lines.append(PrepareLine("failed", _say(lang, "column_failed", why=describe_error(exc), **values),
                                     required=True))
            continue
        switched.append(column)
        lines.append(PrepareLine("changed", _say(lang, "column_switched", **values)))
    return lines, switched


def _publish(client: DataverseClient, changed: dict[str, list[str]], lang: Language) -> list[PrepareLine]:
    """``PublishXml`` for the tables changed (the docs: changes take effect once published), then read back."""
    tables = list(changed)
    entities = "".join(f"<entity>{t}</entity>" for t in tables)
    try:
        client.actions.call("PublishXml", {"ParameterXml": f"<importexportxml><entities>{entities}</entities>"
                                                           "</importexportxml>"})
    except _ERRORS as exc:
        return [PrepareLine("failed", _say(lang, "publish_failed", tables=", ".join(tables), why=describe_error(exc)),
                            required=any(changed.values()))]
    lines = [PrepareLine("changed", _say(lang, "published", tables=", ".join(tables)))]
    for entity, columns in changed.items():
        found = column_audit(client, entity, columns) or {}
        lines.extend(PrepareLine("failed", _say(lang, "column_unpublished", table=entity, column=c), required=True)
                     for c in columns if c in found and not found[c].enabled)
    return lines


def _audit_readable(client: DataverseClient, lang: Language) -> PrepareLine:
    try:
        next(iter(client.records.pages("audits", select=["auditid"], top=1)), None)
    except AccessDeniedError:
        return PrepareLine("failed", _say(lang, "audit_denied"), required=True)
    except _ERRORS as exc:
        return PrepareLine("failed", _say(lang, "audit_unreadable", why=describe_error(exc)), required=True)
    return PrepareLine("ok", _say(lang, "audit_readable"))


def _time_zone(client: DataverseClient, user: str, lang: Language) -> PrepareLine:
    found = user_time_zone(client, user)
    if found is None:
        return PrepareLine("note", _say(lang, "tz_unreadable"))
    if found.zone is None:
        return PrepareLine("note", _say(lang, "tz_unknown_code", code=found.code))
    return PrepareLine("ok", _say(lang, "tz_known", zone=found.zone, code=found.code))
