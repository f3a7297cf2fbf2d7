"""The fixed sentences of lab reports and runs, in each lab language.

Hints and titles come from the lab YAML; the sentences the engine itself writes (evidence,
report headers, run summary) live here so a French report is French from top to bottom.
"""

from __future__ import annotations

from typing import Any

from d365lab.labs.wording_run import RUN_TEXT

_TEXT: dict[str, dict[str, str]] = {
    "en": {
        "not_found": "{alias} ({entity}): {how}",
        "cannot_compare": "cannot compare: {alias} not found",
        "ref_target_missing": "{alias} not found, so the link cannot be right",
        "link_target_missing": "{alias} not found, so this cannot be checked",
        "stages_not_visited": "stages not visited: {stages}",
        "active_stage": "active stage is {stage}",
        "day_from_journal": "day of step {task} from the run journal: {day}",
        "day_from_anchor": "day of the step taken from {anchor}: {day}",
        "no_day": "no run journal and no timestamp to date the step",
        "expected_day": "expected {expected}",
        "found": "found {actual}",
        "superseded": "task {later} changes this state later; graded only by checking --upto {task}",
        "known_from_journal": ("not observable in the tenant any more (undone by {later}); "
                               "the run journal records it done at {done_at}"),
        "not_observable": "not observable: {later} undoes this state and no source records it ({reasons})",
        "observable_by": "to make it observable: {remedies}",
        "journal_has_no_task": "the run journal does not record {task}",
        "audit_denied": "the grader's user cannot read the audit table (View Audit Summary / View Audit History)",
        "audit_unreadable": "this tenant's audit table cannot be read",
        "audit_off_org": "auditing is off for this environment, so no audit row records {alias}",
        "audit_off_table": "auditing is off for the {table} table, so no audit row records {alias}",
        "audit_no_rows": "no audit row records {alias} (auditing was off while the lab was done)",
        "audit_values_unreadable": "audit rows exist ({rows}) but their old and new values cannot be read",
        "audit_seen": "the audit table shows {alias} in that state: {rows}",
        "audit_never": ("the audit table has recorded {alias} since its creation and it never held {wanted}: "
                        "{seen}"),
        "audit_no_change": "no change of those columns",
        "audit_started_late": "auditing of {alias} started after it was created and no audit row shows the state",
        "remedy_prepare": "switch auditing on before the class (d365lab lab prepare)",
        "audit_reread": ("audit rows can show late: the audit was read again {times} time(s) after waiting "
                         "{seconds} s in all (--audit-settle)"),
        "remedy_audit_privilege": "give the grader's user the View Audit Summary and View Audit History privileges",
        "remedy_watch": "keep 'd365lab lab check --watch' running during the lab",
        "remedy_upto": "check right after the task (d365lab lab check --upto {task})",
        "required_observable": "not observable, and --require-observable makes that a failure",
        "task_done_unknown": ("{task} is {status}: this state cannot be told apart from one where {task} "
                              "never happened"),
        "task_never_done": "the run journal shows {task} was never done",
        "tenant": "Tenant", "language": "Language", "checked_at": "Checked at", "time_zone": "time zone",
        "student": "Student", "prefix": "Prefix", "score": "Score", "passed": "passed", "failed": "failed",
        "could_not_check": "Could not check", "details": "Details", "hint": "hint",
        "task": "Task", "title": "Title", "result": "Result", "points": "Points",
        "expected": "expected", "actual": "actual", "empty": "(empty)",
        "steps_done": "{performed} step(s) done, {skipped} already done; journal {journal}",
        "http_requests": "HTTP requests: {count}",
        "time_zone_used": "time zone {zone} ({source})",
        "tz_owner": "owner of the lab's records", "tz_caller": "the signed-in user",
        "tz_from_tenant": "tenant: usersettings of {user} ({whose}), timezonecode {code}",
        "tz_code_unknown": "timezonecode {code} has no known zone",
        "tz_not_in_tenant": "the tenant did not give the user's time zone",
        "how_not_found": "not found ({how})",
        "how_not_searched": "not searched: {target} not found",
        "how_lenient": " (lenient match)",
        "how_journal": "{count} candidates, the one in the run journal",
        "how_newest": "{count} candidates, the newest",
        "dup_candidate": "{id} ({state}, {passing} checks pass)",
        "dup_best": ("{count} candidates with this topic: {listed}; chose {chosen}, the one the lab's work "
                     "fits best; delete the extra one(s)"),
        "dup_tied": ("{count} candidates with this topic: {listed}; chose {chosen}: all fit the lab equally, "
                     "the newest; delete the extra one(s)"),
        "wrongly_qualified": ("{record} was qualified, and a qualified lead cannot be disqualified: open it, "
                              "select Reactivate Lead, then do this task again; delete the contact and "
                              "opportunity (and account) its qualification created."),
        "inexact": "matches leniently; exact text differs ({actual} vs {expected})",
        "record_missing": "(record not found)",
        "not_checked": "(not checked)",
        "value_of": "the {field} of {alias} (not found either)",
        "step_day": "the day of the step {days:+d} day(s)",
        "any_value": "(any value)",
        "beyond_upto": ("the tenant is already past {upto}: the run journal shows {done} done; "
                        "run 'd365lab lab cleanup' first, then seed again"),
        "sep": "; ",
    },
    "fr": {
        "not_found": "{alias} ({entity}) : {how}",
        "cannot_compare": "comparaison impossible : {alias} introuvable",
        "ref_target_missing": "{alias} introuvable : le lien ne peut pas être juste",
        "link_target_missing": "{alias} introuvable : vérification impossible",
        "stages_not_visited": "phases non parcourues : {stages}",
        "active_stage": "la phase active est {stage}",
        "day_from_journal": "jour de l'étape {task} d'après le journal d'exécution : {day}",
        "day_from_anchor": "jour de l'étape d'après {anchor} : {day}",
        "no_day": "ni journal d'exécution ni horodatage pour dater l'étape",
        "expected_day": "attendu {expected}",
        "found": "trouvé {actual}",
        "superseded": ("la tâche {later} modifie cet état ensuite ; noté seulement en vérifiant avec "
                       "--upto {task}"),
        "known_from_journal": ("n'est plus observable dans le tenant (annulée par {later}) ; "
                               "le journal d'exécution l'enregistre comme faite le {done_at}"),
        "not_observable": "non observable : {later} annule cet état et aucune source ne l'enregistre ({reasons})",
        "observable_by": "pour la rendre observable : {remedies}",
        "journal_has_no_task": "le journal d'exécution n'enregistre pas {task}",
        "audit_denied": ("l'utilisateur du correcteur ne peut pas lire l'audit (privilèges Afficher le résumé "
                         "d'audit / Afficher l'historique d'audit)"),
        "audit_unreadable": "la table d'audit de ce tenant est illisible",
        "audit_off_org": "l'audit est désactivé pour cet environnement : aucune ligne d'audit n'enregistre {alias}",
        "audit_off_table": "l'audit est désactivé pour la table {table} : aucune ligne d'audit n'enregistre {alias}",
        "audit_no_rows": "aucune ligne d'audit n'enregistre {alias} (l'audit était désactivé pendant le labo)",
        "audit_values_unreadable": ("des lignes d'audit existent ({rows}) mais leurs anciennes et nouvelles "
                                    "valeurs sont illisibles"),
        "audit_seen": "la table d'audit montre {alias} dans cet état : {rows}",
        "audit_never": ("la table d'audit enregistre {alias} depuis sa création et il n'a jamais eu {wanted} : "
                        "{seen}"),
        "audit_no_change": "aucune modification de ces colonnes",
        "audit_started_late": ("l'audit de {alias} a commencé après sa création et aucune ligne d'audit ne montre "
                               "cet état"),
        "remedy_prepare": "activez l'audit avant la session (d365lab lab prepare)",
        "audit_reread": ("les lignes d'audit peuvent apparaître en retard : l'audit a été relu {times} fois "
                         "après {seconds} s d'attente au total (--audit-settle)"),
        "remedy_audit_privilege": ("donnez à l'utilisateur du correcteur les privilèges Afficher le résumé d'audit "
                                   "et Afficher l'historique d'audit"),
        "remedy_watch": "laissez tourner « d365lab lab check --watch » pendant le labo",
        "remedy_upto": "vérifiez juste après la tâche (d365lab lab check --upto {task})",
        "required_observable": "non observable, et --require-observable en fait un échec",
        "task_done_unknown": ("{task} est {status} : cet état ne se distingue pas de celui où {task} n'a "
                              "jamais été faite"),
        "task_never_done": "le journal d'exécution montre que {task} n'a jamais été faite",
        "tenant": "Tenant", "language": "Langue", "checked_at": "Vérifié le", "time_zone": "fuseau horaire",
        "student": "Stagiaire", "prefix": "Préfixe", "score": "Score", "passed": "réussi", "failed": "échec",
        "could_not_check": "Vérification impossible", "details": "Détails", "hint": "conseil",
        "task": "Tâche", "title": "Intitulé", "result": "Résultat", "points": "Points",
        "expected": "attendu", "actual": "obtenu", "empty": "(vide)",
        "steps_done": "{performed} étape(s) faite(s), {skipped} déjà faite(s) ; journal {journal}",
        "http_requests": "Requêtes HTTP : {count}",
        "time_zone_used": "fuseau horaire {zone} ({source})",
        "tz_owner": "propriétaire des enregistrements du labo", "tz_caller": "l'utilisateur connecté",
        "tz_from_tenant": "tenant : usersettings de {user} ({whose}), timezonecode {code}",
        "tz_code_unknown": "le timezonecode {code} ne correspond à aucun fuseau connu",
        "tz_not_in_tenant": "le tenant n'a pas donné le fuseau horaire de l'utilisateur",
        "how_not_found": "introuvable ({how})",
        "how_not_searched": "non recherché : {target} introuvable",
        "how_lenient": " (correspondance approchée)",
        "how_journal": "{count} candidats, celui du journal d'exécution",
        "how_newest": "{count} candidats, le plus récent",
        "dup_candidate": "{id} ({state}, {passing} vérifications réussies)",
        "dup_best": ("{count} candidats avec ce sujet : {listed} ; retenu {chosen}, celui auquel le travail du "
                     "labo correspond le mieux ; supprimez le ou les doublons"),
        "dup_tied": ("{count} candidats avec ce sujet : {listed} ; retenu {chosen} : tous correspondent autant, "
                     "le plus récent ; supprimez le ou les doublons"),
        "wrongly_qualified": ("{record} a été qualifié, et un prospect qualifié ne peut pas être disqualifié : "
                              "ouvrez-le, sélectionnez Réactiver le prospect, puis refaites cette tâche ; "
                              "supprimez le contact et l'opportunité (et le compte) créés par sa qualification."),
        "inexact": ("correspond à une différence près (accents, casse, espaces) ; texte exact : {actual} "
                    "au lieu de {expected}"),
        "record_missing": "(enregistrement introuvable)",
        "not_checked": "(non vérifié)",
        "value_of": "le champ {field} de {alias} (introuvable aussi)",
        "step_day": "le jour de l'étape {days:+d} jour(s)",
        "any_value": "(une valeur quelconque)",
        "beyond_upto": ("le tenant a déjà dépassé {upto} : le journal d'exécution montre {done} faite(s) ; "
                        "lancez d'abord 'd365lab lab cleanup', puis relancez seed"),
        "sep": " ; ",
    },
}


for _lang, _sentences in RUN_TEXT.items():
    _TEXT[_lang].update(_sentences)


def say(lang: str, key: str, **values: Any) -> str:
    """The sentence ``key`` in ``lang`` (English when the language has none), filled with ``values``."""
    text = _TEXT.get(lang, _TEXT["en"]).get(key) or _TEXT["en"][key]
    return text.format(**values)
