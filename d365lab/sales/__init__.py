"""Sales verbs, named as users think of them: ``client.leads``, ``client.opportunities``,
``client.phonecalls`` and ``client.process_flows``.

Each verb is built as a request value first (``win_request``, ``qualify_request``...), which
``client.send`` sends now or a ``$batch`` change set's ``add`` sends with the batch.
"""

from d365lab.sales.leads import Leads, QualifyResult, disqualify_request, qualify_request, reactivate_request
from d365lab.sales.opportunities import Opportunities, lose_request, reopen_request, win_request
from d365lab.sales.phonecalls import Party, PhoneCalls, cancel_request, complete_request, create_request
from d365lab.sales.process_flows import ProcessFlows, abort_request, stage_move_request

__all__ = ["Leads", "Opportunities", "Party", "PhoneCalls", "ProcessFlows", "QualifyResult", "abort_request",
           "cancel_request", "complete_request", "create_request", "disqualify_request", "lose_request",
           "qualify_request", "reactivate_request", "reopen_request", "stage_move_request", "win_request"]
