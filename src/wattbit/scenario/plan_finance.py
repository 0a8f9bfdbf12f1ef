"""``[plan.finance]``: tax, depreciation, residual value, financing and incentives of a plan.

Every instrument of :mod:`wattbit.finance` has its table here: corporate tax with its loss rules and the fixed-asset
tax, statutory lives and special depreciation (特別償却), the residual method, a development-bank loan, a capital
grant, an investment tax credit (paid out, or used against tax as Japan's credits are) and a production incentive.
Money follows :mod:`wattbit.scenario.money` (``cap_jpy``, ``principal_usd``, ``rate_jpy_per_mwh``). Defaults and
sources: ``docs/planner.md``; Japanese examples (DBJ loan, METI grant, carbon-neutral investment tax credit) in
``examples/japan-plan.toml``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from wattbit.scenario.money import MoneyModel

#: What a plan's components are, for the settings that differ by kind.
PlanKind = Literal["it", "building", "mep", "pv", "wind", "battery", "grid_connection"]
PLAN_KINDS: tuple[PlanKind, ...] = ("it", "building", "mep", "pv", "wind", "battery", "grid_connection")
ResidualMethodName = Literal["none", "book_value", "market_value"]
#: Kinds an investment tax credit covers by default: equipment, not the GPUs, the building or the connection.
ITC_KINDS: tuple[PlanKind, ...] = ("mep", "pv", "wind", "battery")

#: Resale value of a GPU server as a share of its price at ages 1..5 years (U): midpoints of the secondary-market
#: residuals of H100s quoted by the GPU Lease Rate Index (60-65, 40-45, 25-35, 15-20, 10-15 %; a market aggregator's
#: figures, not audited), which Silicon Data's resale listings of 2024-2025 support qualitatively.
GPU_RESALE_FRACTION_BY_AGE: tuple[float, ...] = (0.625, 0.425, 0.30, 0.175, 0.125)


class _Model(MoneyModel):
    """A closed model (money-aware, though most have no money)."""


class LoanSpec(_Model):
    """A development-bank loan (:class:`wattbit.finance.financing.DevelopmentBankLoan`) per build stage."""

    MONEY = {"principal": ("principal", "")}

    rate: float = Field(ge=0, le=0.5, description="interest rate a year")
    tenor_years: int = Field(ge=1, le=60)
    grace_years: int = Field(default=0, ge=0, le=59, description="interest-only years at the start")
    debt_share: float | None = Field(default=None, ge=0, lt=1, description="share of the net initial investment")
    principal_jpy: float | None = Field(default=None, ge=0, description="amount, per stage")
    principal_usd: float | None = Field(default=None, ge=0, description="amount, per stage")

    @model_validator(mode="after")
    def _size(self) -> LoanSpec:
        if (self.debt_share is None) == (self.given("principal") is None):
            raise ValueError("give exactly one of debt_share or principal_jpy / principal_usd")
        if self.grace_years >= self.tenor_years:
            raise ValueError(f"grace_years {self.grace_years} must be less than tenor_years {self.tenor_years}")
        return self


class GrantSpec(_Model):
    """A capital grant (:class:`wattbit.finance.incentives.CapacityGrant`): ``min(share × eligible initial capex,
    cap)`` over the whole plan, shared among the build stages in proportion to their eligible capex."""

    MONEY = {"cap": ("cap", "")}

    share: float = Field(ge=0, le=1, description="share of the eligible initial capex")
    cap_jpy: float | None = Field(default=None, ge=0, description="largest grant, whole plan")
    cap_usd: float | None = Field(default=None, ge=0, description="largest grant, whole plan")
    payment_year: int = Field(default=0, ge=0, le=60, description="paid in this year of each stage (0: with the build)")
    taxable: bool = Field(
        default=False, description="false: not taxed, reduces the depreciable basis (圧縮記帳); true: taxable income"
    )
    eligible: list[PlanKind] = Field(default_factory=lambda: list(PLAN_KINDS), min_length=1)


class ItcSpec(_Model):
    """An investment tax credit on the initial capex of the eligible kinds (Japanese style by default: used against
    corporate tax, basis not reduced)."""

    fraction: float = Field(ge=0, le=1, description="credit as a share of eligible initial capex")
    use: Literal["against_tax", "cash"] = "against_tax"
    tax_limit_share: float = Field(default=1.0, ge=0, le=1, description="largest share of a year's tax it offsets")
    carryforward_years: int = Field(default=0, ge=0, le=100, description="years an unused credit is kept")
    basis_reduction: float = Field(default=0.0, ge=0, le=1, description="share of the credit taken off the basis")
    eligible: list[PlanKind] = Field(default_factory=lambda: list(ITC_KINDS), min_length=1)


class ProductionIncentiveSpec(_Model):
    """A payment per MWh of on-site renewable energy used (:class:`wattbit.finance.incentives.ProductionIncentive`)."""

    MONEY = {"rate_per_mwh": ("rate", "_per_mwh"), "annual_cap": ("annual_cap", "")}

    rate_jpy_per_mwh: float | None = Field(default=None, ge=0)
    rate_usd_per_mwh: float | None = Field(default=None, ge=0)
    term_years: int = Field(ge=1, le=60, description="years paid, from each stage's first year")
    annual_cap_jpy: float | None = Field(default=None, ge=0, description="most paid in a year, per stage")
    annual_cap_usd: float | None = Field(default=None, ge=0, description="most paid in a year, per stage")
    taxable: bool = True

    @model_validator(mode="after")
    def _rate(self) -> ProductionIncentiveSpec:
        if self.given("rate_per_mwh") is None:
            raise ValueError("give rate_jpy_per_mwh or rate_usd_per_mwh")
        return self


class SpecialDepreciationSpec(_Model):
    """First-year special depreciation (特別償却; US bonus depreciation) of the listed kinds."""

    fraction: float = Field(ge=0, le=1, description="share of the basis deducted in the first year")
    kinds: list[PlanKind] = Field(min_length=1)


class PlanFinance(_Model):
    """Finance beyond the scenario's ``[finance]`` (currency, discount rate, project years, exchange rate)."""

    tax_rate: float = Field(default=0.2974, ge=0, le=0.7, description="Japan effective corporate tax rate (S)")
    loss_treatment: Literal["carry_forward", "offset_elsewhere"] = "carry_forward"
    loss_carryforward_years: int | None = Field(default=10, ge=1, le=100)
    loss_offset_limit: float = Field(default=0.5, gt=0, le=1, description="large corporations 0.5, SMEs 1.0 (S)")
    loss_full_offset_years: int = Field(default=0, ge=0, le=100)
    fixed_asset_tax_rate: float = Field(default=0.014, ge=0, le=0.1, description="固定資産税 standard rate (S)")
    tax_life_years: dict[PlanKind, int] = Field(default_factory=dict, description="statutory lives by kind")
    special_depreciation: SpecialDepreciationSpec | None = None
    residual_method: ResidualMethodName = "market_value"
    gpu_resale_fraction_by_age: list[float] = Field(
        default_factory=lambda: list(GPU_RESALE_FRACTION_BY_AGE), min_length=1
    )
    cost_of_equity: float | None = Field(default=None, ge=0, le=0.5, description="none: [finance].discount_rate")
    project_discount_rate: Literal["scenario", "wacc"] = Field(
        default="scenario", description="[finance].discount_rate, or the after-tax WACC of the loan and equity"
    )
    energy_price_escalation: float = Field(default=0.0, gt=-0.5, le=0.5)
    revenue_escalation: float = Field(default=0.0, gt=-0.5, le=0.5)
    capex_escalation: float = Field(default=0.0, gt=-0.5, le=0.5)
    opex_escalation: float = Field(default=0.0, gt=-0.5, le=0.5)
    loan: LoanSpec | None = None
    grant: GrantSpec | None = None
    itc: ItcSpec | None = None
    production_incentive: ProductionIncentiveSpec | None = None

    @model_validator(mode="after")
    def _ranges(self) -> PlanFinance:
        bad = [x for x in self.gpu_resale_fraction_by_age if not 0 <= x <= 1]
        if bad:
            raise ValueError(f"gpu_resale_fraction_by_age: every share must be in [0, 1]; got {bad}")
        lives = {k: v for k, v in self.tax_life_years.items() if not 1 <= v <= 100}
        if lives:
            raise ValueError(f"tax_life_years: every life must be 1..100 years; got {lives}")
        return self
