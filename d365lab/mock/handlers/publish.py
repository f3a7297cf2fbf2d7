"""``PublishXml`` and ``PublishAllXml``: make metadata changes take effect.

The docs: a change of a column's ``IsAuditEnabled`` does not take effect "until you publish
the table customizations" with ``POST PublishXml {"ParameterXml":
"<importexportxml><entities><entity>account</entity></entities></importexportxml>"}`` (204).
The mock publishes the pending column audit switches of the tables named
(:mod:`d365lab.mock.audit_columns`); other metadata changes take effect at once, so there is
nothing else to publish. ``PublishAllXml`` publishes every table.
"""

from __future__ import annotations

from xml.etree import ElementTree

from d365lab.mock import audit, audit_columns
from d365lab.mock import service_errors as errors
from d365lab.mock.audit_metadata import require_customizer
from d365lab.mock.handlers.registry import OperationCall, OperationResult, unbound_action
from d365lab.mock.tenant_api import Tenant
from d365lab.models.schema import TABLES

#: Longest ``ParameterXml`` accepted (a publish request names a few tables).
MAX_PARAMETER_XML = 65_536


def _entities(parameter_xml: object) -> list[str]:
    """The ``<entity>`` names of a ``ParameterXml`` (``<importexportxml><entities>…``)."""
    if not isinstance(parameter_xml, str) or not parameter_xml.strip():
        raise errors.bad_request("PublishXml needs 'ParameterXml': "
                                 "\"<importexportxml><entities><entity>lead</entity></entities></importexportxml>\".")
    if len(parameter_xml) > MAX_PARAMETER_XML or "<!doctype" in parameter_xml.lower():
        raise errors.bad_request(f"ParameterXml must be plain XML of at most {MAX_PARAMETER_XML} characters "
                                 "(no DOCTYPE).")
    try:
        root = ElementTree.fromstring(parameter_xml)
    except ElementTree.ParseError as exc:
        raise errors.bad_request(f"ParameterXml is not well-formed XML: {exc}.") from None
    if root.tag != "importexportxml":
        raise errors.bad_request(f"ParameterXml must start with <importexportxml>, not <{root.tag}>.")
    names = [(e.text or "").strip().lower() for e in root.iter("entity")]
    unknown = [n for n in names if n not in TABLES]
    if unknown:
        raise errors.bad_request(f"ParameterXml names no table '{unknown[0]}'.", code="0x80040217")
    return names


@unbound_action("PublishXml")
def publish_xml(tenant: Tenant, call: OperationCall) -> OperationResult:
    """Publish the customizations of the tables ``ParameterXml`` names; 204."""
    tables = _entities(call.parameters.get("ParameterXml"))
    require_customizer(tenant, "prvPublishCustomization", ", ".join(tables) or "organization")
    store = audit.store_of(tenant)
    if store is not None and tables:
        audit_columns.publish(store, tables)
    return OperationResult(204)


@unbound_action("PublishAllXml")
def publish_all_xml(tenant: Tenant, call: OperationCall) -> OperationResult:
    """Publish every pending customization; 204."""
    require_customizer(tenant, "prvPublishCustomization", "organization")
    store = audit.store_of(tenant)
    if store is not None:
        audit_columns.publish(store, None)
    return OperationResult(204)
