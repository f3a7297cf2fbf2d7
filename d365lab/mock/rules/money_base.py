"""Money in the base currency: ``exchangerate`` and every ``*_base`` column, on every write.

Dataverse keeps, for each money column ``X`` of a table, a read-only ``X_base`` holding the
value in the organization's base currency, computed as ``X / exchangerate`` where
``exchangerate`` is the record's copy of its transaction currency's rate ("the value of a
transaction currency equal to one base currency"; the base currency's rate is 1). Microsoft's
page on the transaction currency table gives the formula (``creditlimit_base = creditlimit /
exchangerate``).

The mock:

- fills ``exchangerate`` from the record's ``transactioncurrencyid`` on create, and again on an
  update that sends a money column or the currency (``ComputedSettings.exchange_rate_refresh``
  "every_write": on every update); a currency whose rate changes later does not rewrite the
  records already written in it (they take the new rate at their next refresh);
- recomputes every ``*_base`` column from its money column and ``exchangerate`` on every write,
  rounded to the base currency's ``currencyprecision`` (``ComputedSettings.base_rounding``);
- answers 400 for a ``*_base`` value past the Money range (±922,337,203,685,477), which a
  large amount in a currency with a tiny rate can produce;
- keeps the base currency's own rate at 1 (an update to anything else is 400) and gives a
  new currency the organization as ``organizationid`` when none is sent.

The ``transactioncurrencyid`` itself defaults to the base currency when a money value is
written without one (:meth:`d365lab.mock.tenant.SqliteTenant._default_currency`, before the
rules run). Writing ``exchangerate`` or a ``*_base`` column is refused as for every read-only
column (400, :func:`d365lab.mock.validation.check_values`).
"""

from __future__ import annotations

import weakref
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from d365lab.mock import service_errors as errors
from d365lab.mock.audit import store_of
from d365lab.mock.rules.base import register
from d365lab.mock.rules.common import sent_columns
from d365lab.mock.store import TransactionMemos, quote, transaction_memo
from d365lab.mock.tenant_api import Ref, Row, Tenant
from d365lab.models.schema import TABLES, ColumnType, Table

#: Decimals SQL Server's money type keeps (``base_rounding`` "money").
MONEY_DECIMALS = 4
_MONEY_LIMIT = Decimal(922_337_203_685_477)
_CURRENCY = "transactioncurrency"
_CURRENCY_KEY = "transactioncurrencyid"
_BASE_DECIMALS = "base decimals"
#: Currency facts read in the current transaction, per store: a bulk write reads them once.
_REMEMBERED: TransactionMemos[str, float | int | None] = weakref.WeakKeyDictionary()


def base_pairs(table: Table) -> tuple[tuple[str, str], ...]:
    """``(money column, its *_base column)`` for every money column with a read-only base sibling."""
    return tuple((name, f"{name}_base") for name, column in table.columns.items()
                 if column.type is ColumnType.MONEY and not name.endswith("_base")
                 and f"{name}_base" in table.columns and table.columns[f"{name}_base"].read_only)


def tracks_exchange_rate(table: Table) -> bool:
    """True for a table whose records carry a read-only copy of their currency's rate."""
    rate = table.columns.get("exchangerate")
    return (table.logical_name != _CURRENCY and rate is not None and rate.read_only
            and "transactioncurrencyid" in table.columns)


def to_base(amount: float, rate: float, decimals: int | None, column: str) -> float:
    """``amount / rate`` rounded half away from zero to ``decimals`` (None: unrounded).

    >>> to_base(100.0, 2.0, 2, "x_base"), to_base(10.0, 3.0, 2, "x_base"), to_base(-0.125, 1.0, 2, "x_base")
    (50.0, 3.33, -0.13)
    """
    try:
        value = Decimal(repr(float(amount))) / Decimal(repr(float(rate)))
        if abs(value) > _MONEY_LIMIT:
            raise InvalidOperation
        if decimals is not None:
            value = value.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
    except (InvalidOperation, ZeroDivisionError, OverflowError, ValueError):
        raise errors.bad_request(
            f"The value of '{column}' ({amount} / exchange rate {rate}) is outside the range of a "
            f"Money column (±{_MONEY_LIMIT:,}).") from None
    return float(value)


def base_currency(tenant: Tenant) -> Row | None:
    """The organization's base currency row (None when the organization names none)."""
    organization = tenant.get("organization", tenant.caller.organization_id)
    base = organization.get("basecurrencyid") if organization is not None else None
    return tenant.get(_CURRENCY, base.id) if isinstance(base, Ref) else None


def _remembered(tenant: Tenant) -> dict[str, float | int | None] | None:
    """The facts read in the current transaction (None outside one or for another tenant type)."""
    store = store_of(tenant)
    return None if store is None else transaction_memo(_REMEMBERED, store)


def forget_currencies(tenant: Tenant) -> None:
    """Drop the remembered facts (a currency or the organization is being written)."""
    store = store_of(tenant)
    if store is not None:
        _REMEMBERED.pop(store, None)


def _read_facts(tenant: Tenant, currency_id: str) -> tuple[Any, Any]:
    """``(the currency's exchangerate, the base currency's currencyprecision)`` as stored.

    One SQL statement on the SQLite tenant (a single create asks for both, once per request);
    two reads through the tenant API otherwise.
    """
    store = store_of(tenant)
    if store is None:
        currency = tenant.get(_CURRENCY, currency_id) if currency_id else None
        base = base_currency(tenant)
        return (currency.get("exchangerate") if currency is not None else None,
                base.get("currencyprecision") if base is not None else None)
    key, currencies = quote(_CURRENCY_KEY), quote(_CURRENCY)
    found = store.rows(
        f"SELECT (SELECT {quote('exchangerate')} FROM {currencies} WHERE {key} = ?), "
        f"(SELECT b.{quote('currencyprecision')} FROM {quote('organization')} AS o "
        f"JOIN {currencies} AS b ON b.{key} = o.{quote('basecurrencyid')} LIMIT 1)", [currency_id])
    return found[0] if found else (None, None)


def _remember_facts(tenant: Tenant, currency_id: str) -> dict[str, float | int | None]:
    """Read the facts and remember them for the transaction (a dict of its own outside one)."""
    rate, precision = _read_facts(tenant, currency_id)
    remembered = _remembered(tenant)
    facts = remembered if remembered is not None else {}
    if currency_id:
        facts[currency_id] = float(rate) if isinstance(rate, int | float) and rate > 0 else None
    facts[_BASE_DECIMALS] = min(max(precision, 0), 10) if isinstance(precision, int) else MONEY_DECIMALS
    return facts


def currency_rate(tenant: Tenant, currency_id: str) -> float | None:
    """A currency's ``exchangerate`` (None for a missing currency or a rate that is not positive)."""
    remembered = _remembered(tenant)
    if remembered is None or currency_id not in remembered:
        remembered = _remember_facts(tenant, currency_id)
    return remembered[currency_id]


def base_decimals(tenant: Tenant) -> int | None:
    """The decimals a ``*_base`` value is rounded to (``ComputedSettings.base_rounding``)."""
    if tenant.settings.computed.base_rounding == "money":
        return MONEY_DECIMALS
    remembered = _remembered(tenant)
    if remembered is None or _BASE_DECIMALS not in remembered:
        remembered = _remember_facts(tenant, "")
    return int(remembered[_BASE_DECIMALS] or 0)


class MoneyBaseRule:
    """Fill ``exchangerate`` and the ``*_base`` columns of one table's rows."""

    def __init__(self, table: Table) -> None:
        self.pairs = base_pairs(table)
        #: The writable money columns: sending one refreshes the rate.
        self.money = frozenset(name for name, column in table.columns.items()
                               if column.type is ColumnType.MONEY and not column.read_only)

    def before_write(self, tenant: Tenant, old: Row | None, new: Row) -> None:
        """Refresh the rate when due, then recompute every base column."""
        currency = new.get("transactioncurrencyid")
        if not isinstance(currency, Ref):
            new["exchangerate"] = None
        elif self._refresh_due(tenant, old, new):
            new["exchangerate"] = currency_rate(tenant, currency.id)
        rate = new.get("exchangerate")
        amounts = [(base, new.get(name)) for name, base in self.pairs]
        if not isinstance(rate, int | float) or rate <= 0 or all(amount is None for _, amount in amounts):
            new.update((base, None) for base, _ in amounts)
            return
        decimals = base_decimals(tenant)
        for base, amount in amounts:
            new[base] = None if amount is None else to_base(amount, rate, decimals, base)

    def _refresh_due(self, tenant: Tenant, old: Row | None, new: Row) -> bool:
        if old is None or new.get("exchangerate") is None:
            return True
        if tenant.settings.computed.exchange_rate_refresh == "every_write":
            return True
        if old.get("transactioncurrencyid") != new.get("transactioncurrencyid"):
            return True
        sent = sent_columns()
        if sent is not None:
            return not sent.isdisjoint(self.money)
        return any(old.get(name) != new.get(name) for name in self.money)

    def after_write(self, tenant: Tenant, old: Row | None, new: Row) -> None:
        """Nothing after the write."""

    def before_delete(self, tenant: Tenant, row: Row) -> None:
        """Nothing before a delete."""


class CurrencyRule:
    """The base currency's rate stays 1; a new currency belongs to the organization.

    Registered on the organization too (its ``basecurrencyid``): a write there or to a
    currency forgets the currency facts remembered in the transaction.
    """

    def __init__(self, table: str) -> None:
        self.table = table

    def before_write(self, tenant: Tenant, old: Row | None, new: Row) -> None:
        """Refuse another rate for the base currency; default ``organizationid``."""
        forget_currencies(tenant)
        if self.table != _CURRENCY:
            return
        if new.get("organizationid") is None:
            new["organizationid"] = Ref("organization", tenant.caller.organization_id)
        if old is None or old.get("exchangerate") == new.get("exchangerate"):
            return
        base = base_currency(tenant)
        if base is not None and base["transactioncurrencyid"] == new["transactioncurrencyid"] \
                and new.get("exchangerate") != 1:
            raise errors.bad_request(
                "The exchange rate of the base currency cannot be changed: it is always 1.")

    def after_write(self, tenant: Tenant, old: Row | None, new: Row) -> None:
        """Nothing after the write."""

    def before_delete(self, tenant: Tenant, row: Row) -> None:
        """Forget the remembered facts."""
        forget_currencies(tenant)


for _table in TABLES.values():
    if tracks_exchange_rate(_table):
        register(_table.logical_name, MoneyBaseRule(_table))
register(_CURRENCY, CurrencyRule(_CURRENCY))
register("organization", CurrencyRule("organization"))
