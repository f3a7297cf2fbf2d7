"""The sentences of runs, seeds, cleanups and class chores, in each lab language (merged into ``wording``)."""

from __future__ import annotations

RUN_TEXT: dict[str, dict[str, str]] = {
    "en": {
        "colon": ": ",
        "journal_locked": ("another run of this lab scope is in progress (lock {lock} held for more than {wait} s); "
                           "wait for it to finish and run again"),
        "journal_unreadable": ("run journal {path} is unreadable ({reason}). It lists the records this lab created "
                               "(what cleanup deletes): repair it, or move it aside to start afresh (the records it "
                               "tracked then stay in the tenant); 'lab check --no-journal' grades without it"),
        "journal_other_prefix": ("run journal {path} belongs to prefix {theirs}, not {ours}; refusing to use it "
                                 "(move it aside if it is left over)"),
        "run_first": "run exercise {first} first (d365lab lab run --exercise {first})",
        "run_earlier": "run the earlier exercises first (d365lab lab run --exercise all)",
        "needs_record": ("{task} needs {alias} ({entity}), which is not among this run's records ({how}; records "
                         "this run did not create are never used): {todo}."),
        "step_done": "done   ", "step_skipped": "skipped",
        "skip_done": "already done",
        "skip_stage": ("already done: the sales process has already reached {stage} (qualifying the lead moves "
                       "its new opportunity to Develop by itself, as the app does)"),
        "did_create_lead": "created lead {subject} ({id})",
        "did_qualify": "qualified {record}: {made}",
        "did_disqualify": "disqualified {record} ({reason})",
        "did_reactivate": "reactivated {record}",
        "did_update": "updated {record}: {columns}",
        "did_call": "created phone call {subject} due {due}",
        "did_move": "moved the process flow to {stage}",
        "did_finish": "finished the process flow",
        "did_complete": "completed {record}",
        "did_win": "closed {record} as won",
        "did_lose": "closed {record} as lost",
        "did_create": "created {entity} {record} ({id})",
        "did_set_state": "set {record} to state {state}, status {status}",
        "did_call_action": "called {action} on {record}",
        "tz_journal": "run journal",
        "tz_journal_explicit": "run journal: the --timezone the run was given",
        "stale_journal": "the run journal names records this tenant no longer has; starting a new journal",
        "tracking_alias": "tracking {entity} {id} ({alias}), made by an earlier run that did not finish",
        "tracking_linked": "tracking {entity} {id}, made from this run's leads by an earlier run",
        "tracking_made_by_service": "tracking {entity} {id} ({alias}), made by the service from the lab's records",
        "tz_lab_default": "the lab's zone for {language}",
        "no_journal": "no run journal at {path}: nothing tracked, nothing deleted",
        "already_gone": "already gone: {entity} {id}",
        "deleted_one": "deleted {entity} {id}{alias}",
        "deleted_total": "deleted {deleted} record(s), {gone} already gone",
        "seeded": "seeded up to {upto}: {performed} step(s) done, {skipped} already done (time zone {zone})",
        "cleaned": "{deleted} record(s) deleted, {gone} already gone",
        "chore_ok": "ok", "chore_failed": "FAILED",
        "chore_summary": "{total} student(s): {ok} ok, {failed} failed ({names})",
    },
    "fr": {
        "colon": " : ",
        "journal_locked": ("une autre exécution de ce labo est en cours (verrou {lock} tenu depuis plus de {wait} s) ; "
                           "attendez qu'elle se termine et relancez"),
        "journal_unreadable": ("le journal d'exécution {path} est illisible ({reason}). Il liste les enregistrements "
                               "créés par ce labo (ce que cleanup supprime) : réparez-le, ou déplacez-le pour "
                               "repartir de zéro (ses enregistrements restent alors dans le tenant) ; "
                               "« lab check --no-journal » note sans lui"),
        "journal_other_prefix": ("le journal d'exécution {path} appartient au préfixe {theirs}, pas {ours} ; il n'est "
                                 "pas utilisé (déplacez-le s'il est resté d'avant)"),
        "run_first": "lancez d'abord l'exercice {first} (d365lab lab run --exercise {first})",
        "run_earlier": "lancez d'abord les exercices précédents (d365lab lab run --exercise all)",
        "needs_record": ("{task} a besoin de {alias} ({entity}), qui ne fait pas partie des enregistrements de "
                         "cette exécution ({how} ; les enregistrements qu'elle n'a pas créés ne sont jamais "
                         "utilisés) : {todo}."),
        "step_done": "faite  ", "step_skipped": "sautée ",
        "skip_done": "déjà faite",
        "skip_stage": ("déjà faite : le processus de vente a déjà atteint la phase {stage} (qualifier le prospect "
                       "fait passer sa nouvelle opportunité à la phase Développer, comme le fait l'application)"),
        "did_create_lead": "prospect {subject} créé ({id})",
        "did_qualify": "{record} qualifié : {made}",
        "did_disqualify": "{record} disqualifié ({reason})",
        "did_reactivate": "{record} réactivé",
        "did_update": "{record} mis à jour : {columns}",
        "did_call": "appel téléphonique {subject} créé, échéance {due}",
        "did_move": "processus passé à la phase {stage}",
        "did_finish": "processus terminé",
        "did_complete": "{record} terminé",
        "did_win": "{record} clôturé comme conclu",
        "did_lose": "{record} clôturé comme perdu",
        "did_create": "{entity} {record} créé ({id})",
        "did_set_state": "{record} passé à l'état {state}, statut {status}",
        "did_call_action": "{action} appelé sur {record}",
        "tz_journal": "journal d'exécution",
        "tz_journal_explicit": "journal d'exécution : le --timezone donné à l'exécution",
        "stale_journal": ("le journal d'exécution désigne des enregistrements que ce tenant n'a plus ; "
                          "nouveau journal"),
        "tracking_alias": ("suivi de {entity} {id} ({alias}), créé par une exécution précédente qui ne s'est "
                           "pas terminée"),
        "tracking_linked": "suivi de {entity} {id}, créé à partir des prospects de cette exécution",
        "tracking_made_by_service": ("suivi de {entity} {id} ({alias}), créé par le service à partir des "
                                     "enregistrements du labo"),
        "tz_lab_default": "fuseau du labo pour {language}",
        "no_journal": "pas de journal d'exécution dans {path} : rien de suivi, rien de supprimé",
        "already_gone": "déjà supprimé : {entity} {id}",
        "deleted_one": "supprimé : {entity} {id}{alias}",
        "deleted_total": "{deleted} enregistrement(s) supprimé(s), {gone} déjà supprimé(s)",
        "seeded": ("préparé jusqu'à {upto} : {performed} étape(s) faite(s), {skipped} déjà faite(s) "
                   "(fuseau horaire {zone})"),
        "cleaned": "{deleted} enregistrement(s) supprimé(s), {gone} déjà supprimé(s)",
        "chore_ok": "ok", "chore_failed": "ÉCHEC",
        "chore_summary": "{total} stagiaire(s) : {ok} ok, {failed} en échec ({names})",
    },
}
