"""Checks of a ``[plan]`` against the rest of its scenario, before anything is solved.

Each failure is a :class:`~wattbit.errors.ScenarioError` naming the scenario file, the field (``plan.candidates[2].
site``), the value and what was expected. The obvious infeasibilities are caught here, with the numbers that show
why: a target larger than the candidates' limits (in total, or among the sites whose grid connection is ready by a
stage's year), latency or hazard limits that exclude every candidate, a site share that needs more sites than there
are. What only the optimisation can tell is diagnosed by :mod:`wattbit.opt.capacity.solve`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from wattbit.errors import ScenarioError
from wattbit.scenario import Scenario, Site
from wattbit.scenario.plan import GPU_CAPEX_USD, Candidate, PlanSpec


@dataclass(frozen=True)
class Eligible:
    """Candidates that pass the latency and hazard limits, with their sites, and why the others do not."""

    candidates: tuple[Candidate, ...]
    sites: tuple[Site, ...]
    excluded: dict[str, str]


def require_plan(scenario: Scenario) -> PlanSpec:
    """The scenario's ``[plan]``, or an error saying how to add one."""
    if scenario.plan is None:
        raise ScenarioError(
            "the scenario has no [plan] section (candidates, target, costs); see examples/japan-plan.toml",
            path=scenario.source_path,
            field="plan",
        )
    return scenario.plan


def _error(scenario: Scenario, message: str, field: str) -> ScenarioError:
    return ScenarioError(message, path=scenario.source_path, field=field)


def eligible_candidates(scenario: Scenario, spec: PlanSpec) -> Eligible:
    """Candidates whose site exists and that meet ``max_latency_ms`` and ``max_disaster_risk``.

    Raises
    ------
    ScenarioError
        For an unknown site, a latency limit with a candidate that gives no latencies, or limits that exclude every
        candidate.
    """
    known = {s.name: s for s in scenario.sites}
    limits = spec.constraints
    keep: list[tuple[Candidate, Site]] = []
    excluded: dict[str, str] = {}
    for i, cand in enumerate(spec.candidates):
        if cand.site not in known:
            raise _error(
                scenario,
                f"candidate site {cand.site!r} is not one of the scenario's [[sites]] ({', '.join(known)})",
                f"plan.candidates[{i}].site",
            )
        if limits.max_latency_ms is not None and not cand.latency_ms:
            raise _error(
                scenario,
                f"constraints.max_latency_ms = {limits.max_latency_ms:g} is set but candidate {cand.site!r} gives no "
                "latency_ms (round-trip ms to each demand centre, e.g. {tokyo = 5.0})",
                f"plan.candidates[{i}].latency_ms",
            )
        worst = max(cand.latency_ms.values(), default=0.0)
        if limits.max_latency_ms is not None and worst > limits.max_latency_ms:
            centre = max(cand.latency_ms, key=lambda k: cand.latency_ms[k])
            excluded[cand.site] = f"latency {worst:g} ms to {centre} > max_latency_ms {limits.max_latency_ms:g}"
        elif limits.max_disaster_risk is not None and cand.disaster_risk > limits.max_disaster_risk:
            excluded[cand.site] = (
                f"disaster_risk {cand.disaster_risk:g} > max_disaster_risk {limits.max_disaster_risk:g}"
            )
        else:
            keep.append((cand, known[cand.site]))
    if not keep:
        reasons = "; ".join(f"{k}: {v}" for k, v in excluded.items())
        raise _error(scenario, f"the latency and hazard limits exclude every candidate ({reasons})", "plan.constraints")
    return Eligible(tuple(c for c, _ in keep), tuple(s for _, s in keep), excluded)


def check_years(scenario: Scenario, spec: PlanSpec) -> None:
    """Target years after the construction year and within the project; the loan within every stage's project.

    Raises
    ------
    ScenarioError
        For a target year at or before ``start_year`` or after ``start_year + project_years``, or a loan whose
        tenor outlasts a stage that starts late.
    """
    if spec.start_year is None:
        return
    first, last = spec.start_year + 1, spec.start_year + scenario.finance.project_years
    years = [(f"plan.target.schedule[{i}].year", s.year) for i, s in enumerate(spec.target.schedule)]
    if spec.target.year is not None:
        years = [("plan.target.year", spec.target.year)]
    for field, year in years:
        if not first <= year <= last:
            raise _error(
                scenario,
                f"target year {year} is outside the project: operations run {first}..{last} (plan.start_year "
                f"{spec.start_year} is construction, year 0; finance.project_years = {scenario.finance.project_years})",
                field,
            )
    loan = spec.finance.loan
    if loan is not None and years:
        latest = max(y for _, y in years)
        stage_years = last - latest + 1
        if loan.tenor_years > stage_years:
            raise _error(
                scenario,
                f"loan tenor_years = {loan.tenor_years} outlasts the last build stage, which operates {stage_years} "
                f"years ({latest}..{last}); shorten the tenor or the schedule",
                "plan.finance.loan.tenor_years",
            )


def ready_year(spec: PlanSpec, candidate: Candidate) -> int | None:
    """Calendar year from which the site can run: its connection is energised (at the earliest year 1)."""
    if spec.start_year is None:
        return None
    return spec.start_year + max(1, candidate.connection_lead_time_years)


def check_capacity(scenario: Scenario, spec: PlanSpec, eligible: Eligible, units_per_it_mw: list[float]) -> None:
    """Each stage's target within the limits of the sites ready by then; the site share reachable.

    Parameters
    ----------
    units_per_it_mw
        Per eligible candidate, the most target units (1 for MW, GPUs) one MW of IT can hold.

    Raises
    ------
    ScenarioError
        Naming the stage, the target and the sum of the limits (per site).
    """
    unit = "MW of IT" if spec.target.unit == "it_mw" else "GPUs"
    for year, size in spec.target.steps():
        ready = [
            (c, c.max_it_mw * k)
            for c, k in zip(eligible.candidates, units_per_it_mw, strict=True)
            if year is None or (ready_year(spec, c) or 0) <= year
        ]
        room = sum(v for _, v in ready)
        if size > room * (1.0 + 1e-9):
            when = "" if year is None else f" by {year}"
            parts = ", ".join(f"{c.site} {v:,.0f}" for c, v in ready) or "none"
            late = [
                f"{c.site} ready {ready_year(spec, c)}"
                for c in eligible.candidates
                if year is not None and (ready_year(spec, c) or 0) > year
            ]
            why = f"; not ready{when}: {', '.join(late)} (connection_lead_time_years)" if late else ""
            raise _error(
                scenario,
                f"the target of {size:,.0f} {unit}{when} exceeds what the candidates can host: {room:,.0f} {unit} "
                f"(max_it_mw: {parts}){why}",
                "plan.target",
            )
    share = spec.constraints.max_site_share
    if share is not None:
        needed = math.ceil(1.0 / share - 1e-9)
        if needed > len(eligible.candidates):
            raise _error(
                scenario,
                f"max_site_share = {share:g} needs at least {needed} sites but only {len(eligible.candidates)} "
                f"candidate(s) are eligible",
                "plan.constraints.max_site_share",
            )


def check_costs(scenario: Scenario, spec: PlanSpec, eligible: Eligible, coolings: list[list[str]]) -> None:
    """A GPU price for every site's GPU model and a facility capex for every cooling type allowed somewhere."""
    costs = spec.costs
    given = {**(costs.gpu_capex_jpy or {}), **(costs.gpu_capex_usd or {})}
    known = sorted({*given, *GPU_CAPEX_USD})
    for i, site in enumerate(eligible.sites):
        if costs.table_entry("gpu_capex", site.it.gpu_model) is None:
            raise _error(
                scenario,
                f"no price for GPU model {site.it.gpu_model!r} (site {site.name}); known: {known}; add it "
                f"as costs.gpu_capex_usd = {{{site.it.gpu_model!r} = ...}} (or gpu_capex_jpy)",
                "plan.costs.gpu_capex_usd",
            )
        for cooling in coolings[i]:
            if costs.table_entry("facility_capex_per_mw", cooling) is None:
                raise _error(
                    scenario,
                    f"no facility capex for cooling {cooling!r} (allowed at {site.name}); give "
                    f"costs.facility_capex_jpy_per_mw.{cooling}",
                    "plan.costs.facility_capex_jpy_per_mw",
                )
