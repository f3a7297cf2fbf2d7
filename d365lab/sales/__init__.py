"""Sales verbs, named as users think of them: ``client.leads``, ``client.opportunities``,
``client.phonecalls`` and ``client.process_flows``."""

from d365lab.sales.leads import Leads, QualifyResult
from d365lab.sales.opportunities import Opportunities
from d365lab.sales.phonecalls import Party, PhoneCalls
from d365lab.sales.process_flows import ProcessFlows

__all__ = ["Leads", "Opportunities", "Party", "PhoneCalls", "ProcessFlows", "QualifyResult"]
