"""Money in a scenario: every amount names its currency in its field name.

A money quantity is written with the currency between its name and its unit: ``site_capex_jpy = 3e9``,
``pv_capex_usd_per_mw = 1.1e6``, ``cap_jpy = 30e9``, ``price_usd_per_gpu_hour = 2.0``. Either currency may be given
(JPY or USD), never both, and a bare name (``cap``, ``pv_capex_per_mw``) is refused with the names it became, so that
nobody writes METI's ¥30 bn as a USD amount by accident. Amounts in another currency than ``[finance].currency`` are
converted at ``[finance].jpy_per_usd``, which must then be stated (checked with the plan, :mod:`wattbit.plan.checks`).

A model with money declares its quantities in :attr:`MoneyModel.MONEY` (quantity -> ``(prefix, unit tail)``) and
both fields of each, ``{prefix}_jpy{tail}`` and ``{prefix}_usd{tail}``, as ordinary optional fields; the quantity's
name is the field name before the convention (``cap``, ``pv_capex_per_mw``), which is also what the migration
message recognises.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, model_validator

Currency = Literal["JPY", "USD"]
CURRENCIES: tuple[Currency, ...] = ("JPY", "USD")
Origin = Literal["scenario", "default", "override"]


def money_fields(prefix: str, tail: str) -> dict[Currency, str]:
    """The field name of a money quantity in each currency: ``{"JPY": "cap_jpy", "USD": "cap_usd"}``."""
    return {c: f"{prefix}_{c.lower()}{tail}" for c in CURRENCIES}


@dataclass(frozen=True)
class Amount:
    """A money amount with its currency and where it came from.

    Attributes
    ----------
    value
        The amount, in ``currency``.
    currency
        ``"JPY"`` or ``"USD"``.
    origin
        ``"scenario"`` (given in the file), ``"default"`` (documented default) or ``"override"`` (a candidate's own
        value in place of the plan-wide one).
    field
        The field it was read from or stands for (``plan.costs.pv_capex_jpy_per_mw``).
    source
        For a default: its source and status (V/S/U); empty otherwise.
    """

    value: float
    currency: Currency
    origin: Origin
    field: str
    source: str = ""


class MoneyModel(BaseModel):
    """A frozen, closed schema model whose money fields follow the currency-in-the-name convention."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: Money quantity -> (field prefix, unit tail): ``{"cap": ("cap", "")}`` declares ``cap_jpy`` and ``cap_usd``.
    MONEY: ClassVar[Mapping[str, tuple[str, str]]] = {}

    @model_validator(mode="before")
    @classmethod
    def _bare_money_names(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            return data
        for quantity, (prefix, tail) in cls.MONEY.items():
            names = money_fields(prefix, tail)
            if quantity in data and quantity not in cls.model_fields:
                raise ValueError(
                    f"`{quantity}` is now `{names['JPY']}` or `{names['USD']}`: every money amount names its currency "
                    f"(e.g. `{names['JPY']} = {data[quantity]!r}` if the amount is in yen)"
                )
        return data

    @model_validator(mode="after")
    def _one_currency_each(self) -> MoneyModel:
        for prefix, tail in self.MONEY.values():
            names = money_fields(prefix, tail)
            given = [n for n in names.values() if getattr(self, n) is not None]
            if len(given) > 1:
                raise ValueError(f"give `{given[0]}` or `{given[1]}`, not both")
        return self

    def given(self, quantity: str) -> tuple[Any, Currency, str] | None:
        """``(value, currency, field name)`` of ``quantity`` if the scenario gives it, else None."""
        prefix, tail = self.MONEY[quantity]
        for currency, name in money_fields(prefix, tail).items():
            value = getattr(self, name)
            if value is not None:
                return value, currency, name
        return None
