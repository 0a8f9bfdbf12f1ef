"""Saying why no plan exists: the limits that had to give in the elastic re-solve, and by how much."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from wattbit.opt.capacity.problem import CapacityProblem
from wattbit.opt.errors import InfeasibleError
from wattbit.units import FloatArray

#: Violations below this share of their scale are rounding.
TOLERANCE = 1e-6
#: In the elastic models a relative shortfall of the target weighs this much more than one of any other limit: the
#: target is what the user asks for, so the limits give first and the target only if nothing else helps.
TARGET_SLACK_WEIGHT = 1000.0


def _positive(values: FloatArray, scale: float) -> np.ndarray:
    return np.flatnonzero(np.asarray(values, dtype=float) > TOLERANCE * max(scale, 1.0))


def describe(problem: CapacityProblem, violations: Mapping[str, FloatArray | float]) -> str:
    """A message listing each violated limit.

    Parameters
    ----------
    problem
        The problem.
    violations
        Least violations by kind: ``target-k`` (target units), ``share`` (GPUs per site), ``connection`` (MW per
        site), ``unserved`` (MWh/yr per site), ``carbon`` (t/yr), ``clean`` (MWh/yr).

    Returns
    -------
    str
        The message; it says so if nothing is violated (numerical trouble).
    """
    lines = []
    for name, raw in violations.items():
        values = np.atleast_1d(np.asarray(raw, dtype=float))
        line = _line(problem, name, values)
        if line:
            lines.append(line)
    if not lines:
        return "HiGHS found no plan, but no limit binds in the elastic re-solve (numerical trouble?)"
    return "no plan meets every constraint; relaxing these by the least amount makes one feasible:\n" + "\n".join(
        f"  - {line}" for line in lines
    )


def _line(problem: CapacityProblem, name: str, values: FloatArray) -> str:
    unit = "MW of IT" if problem.target_unit == "it_mw" else "GPUs"
    if name.startswith("target-"):
        stage = problem.stages[int(name.split("-")[1])]
        if not _positive(values, stage.size).size:
            return ""
        ready = [s for s, ok in zip(problem.sites, stage.available, strict=True) if ok]
        return (
            f"plan.target ({stage.label}): {stage.size:,.1f} {unit} cannot be hosted; {values.max():,.1f} {unit} short "
            f"with the sites ready by then ({', '.join(ready) or 'none'}) and their IT, connection and land limits"
        )
    if name in ("connection", "unserved"):
        scale = float(np.max(problem.max_connection_mw)) if name == "connection" else 1.0
        hits = _positive(values, scale)
        if not hits.size:
            return ""
        what = "needs {:,.1f} MW more" if name == "connection" else "would leave {:,.0f} MWh/yr of its load unserved"
        parts = [
            f"{problem.sites[i]} (max_connection_mw = {problem.max_connection_mw[i]:,.1f}, {what.format(values[i])})"
            for i in hits
        ]
        return (
            "plan.candidates[].max_connection_mw with the PV, wind and battery limits cannot power the IT at "
            + "; ".join(parts)
        )
    if name == "carbon":
        if not _positive(values, problem.carbon_cap_t_per_year or 1.0).size:
            return ""
        return (
            f"plan.constraints.carbon_cap_t_per_year = {problem.carbon_cap_t_per_year:,.0f} t/yr binds: "
            f"the least violation emits {values.sum():,.0f} t/yr more"
        )
    if name == "clean":
        if not _positive(values, 1.0).size:
            return ""
        share = problem.min_clean_energy_share or 0.0
        return (
            f"plan.constraints.min_clean_energy_share = {share:.1%} binds: {values.sum():,.0f} MWh/yr more carbon-free "
            "energy would be needed than the land limits for PV and wind, the batteries and the grid's clean share give"
        )
    if name == "share":
        hits = _positive(values, 1.0)
        if not hits.size:
            return ""
        i = int(hits[np.argmax(values[hits])])
        return (
            f"plan.constraints.max_site_share = {problem.max_site_share:.1%} binds: {problem.sites[i]} must hold "
            f"{values[i]:,.0f} GPUs more than that share (the other sites cannot take the rest)"
        )
    return ""


def field_of(violations: Mapping[str, FloatArray | float]) -> str:
    """The scenario field of the first violated limit, for the error's ``field``."""
    fields = {
        "carbon": "plan.constraints.carbon_cap_t_per_year",
        "clean": "plan.constraints.min_clean_energy_share",
        "share": "plan.constraints.max_site_share",
        "connection": "plan.candidates",
        "unserved": "plan.candidates",
    }
    for name, raw in violations.items():
        if np.any(np.asarray(raw, dtype=float) > TOLERANCE):
            return "plan.target" if name.startswith("target") else fields.get(name, "plan")
    return "plan"


def infeasible_error(problem: CapacityProblem, violations: Mapping[str, FloatArray | float]) -> InfeasibleError:
    """The :class:`~wattbit.opt.errors.InfeasibleError` for ``violations`` (:func:`describe`), with the scenario field
    of the first violated limit as its ``field`` and ``constraint``."""
    where = field_of(violations)
    return InfeasibleError(describe(problem, violations), constraint=where, field=where)
