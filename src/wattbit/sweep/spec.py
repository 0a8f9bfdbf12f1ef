"""The sweep file (``SWEEP.toml``): which scenarios, which settings to vary, grid or sample.

::

    [sweep]
    name = "sites-and-policies"
    command = "simulate"              # simulate | bench | plan
    scenarios = ["japan-2022"]        # files (relative to this file) or built-in names: e.g. one per data year
    start = "2022-04-10"              # optional sub-period (scenario time zone); "04-10" means April 10 of
    end = "2022-04-17"                # each scenario's own year (a sweep over data years)
    sample = "grid"                   # grid: every combination; random: `runs` combinations drawn with `seed`
    runs = 20
    seed = 0

    [axes]                            # each axis: a list of values
    policy = ["baseline", "greedy", "mpc"]
    seed = [1, 2, 3]                  # the run's seed (failures, random choices)
    sites = [["ishikari"], ["ishikari", "inzai"]]   # subsets of the scenario's sites, by name
    "sites.it.gpu_model" = ["H100-SXM", "B200"]     # a field of every site
    "sites[inzai].cooling" = ["air_chiller", "liquid_dry_cooler"]   # a field of one site
    "workload.training.target_gpu_utilization" = [0.3, 0.6]         # any scenario field by its path

Every combination is one *run*: the scenario with those values, validated like a scenario file (a value the schema
refuses makes that run's row an error naming the field; the other runs go on). A run is named by a hash of its
scenario and values (``run_id``), so a sweep run again in the same folder skips the runs already done.
"""

from __future__ import annotations

import itertools
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from wattbit.durable import fingerprint
from wattbit.errors import ScenarioError, WattbitInputError
from wattbit.scenario import format_validation_error, read_scenario_toml

#: Axes with a meaning of their own; any other axis is a path into the scenario.
SPECIAL_AXES = ("policy", "seed", "sites", "scenario")
#: Most runs one sweep may hold (a typo guard: 10 axes of 10 values is 10^10).
MAX_RUNS = 100_000
_SITE_FIELD = re.compile(r"^sites(?:\[([a-z0-9][a-z0-9_-]*)\])?\.(.+)$")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SweepInfo(_Model):
    """The ``[sweep]`` table."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    command: Literal["simulate", "bench", "plan"] = "simulate"
    scenarios: list[str] = Field(min_length=1)
    start: str | None = None
    end: str | None = None
    sample: Literal["grid", "random"] = "grid"
    runs: int | None = Field(default=None, ge=1, le=MAX_RUNS)
    seed: int = Field(default=0, ge=0)
    policies: list[str] = Field(default_factory=lambda: ["baseline", "greedy", "mpc", "oracle"])

    @field_validator("scenarios", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @model_validator(mode="after")
    def _runs_for_random(self) -> SweepInfo:
        if self.sample == "random" and self.runs is None:
            raise ValueError("sample = 'random' needs runs = N (how many combinations to draw)")
        return self


class SweepFile(_Model):
    """A whole sweep file."""

    sweep: SweepInfo
    axes: dict[str, list[Any]] = Field(default_factory=dict)
    executor: dict[str, Any] | None = None

    @field_validator("axes")
    @classmethod
    def _non_empty(cls, value: dict[str, list[Any]]) -> dict[str, list[Any]]:
        for name, values in value.items():
            if not values:
                raise ValueError(f"axis {name!r} has no values (expected a non-empty list)")
            if name == "scenario":
                raise ValueError("list scenarios in [sweep] scenarios, not as an axis")
        return value


@dataclass(frozen=True)
class RunTask:
    """One run of a sweep: everything a worker needs (picklable; no open files).

    Attributes
    ----------
    run_id
        Hash of the scenario reference and the axis values.
    command
        ``simulate``, ``bench`` or ``plan``.
    scenario
        The scenario reference as written in the sweep file, and its parsed TOML with the values applied.
    raw, path
        The scenario's TOML dictionary (values applied) and its file (to resolve relative data paths).
    values
        Axis name -> value of this run.
    start, end, policies
        Sub-period, and the policies a ``bench`` run compares.
    """

    run_id: str
    command: str
    scenario: str
    raw: dict[str, Any]
    path: str
    values: dict[str, Any]
    start: str | None = None
    end: str | None = None
    policies: tuple[str, ...] = ()
    policy: str = "baseline"
    seed: int | None = None
    sites: tuple[str, ...] | None = field(default=None)


def load_sweep(path: str | Path) -> tuple[SweepFile, Path]:
    """Read and validate a sweep file.

    Raises
    ------
    ScenarioError
        If the file is missing, not TOML, or a field is wrong (the message names it).
    """
    p = Path(path)
    if not p.is_file():
        raise ScenarioError("no such sweep file", path=p)
    try:
        raw = tomllib.loads(p.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise ScenarioError("sweep file is not UTF-8 text", path=p) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"not valid TOML: {exc}", path=p) from exc
    try:
        return SweepFile.model_validate(raw), p
    except ValidationError as exc:
        err = format_validation_error(exc, p)
        raise ScenarioError(err.message.replace("in the scenario", "in the sweep file"), path=p) from exc


def _combinations(spec: SweepFile) -> list[dict[str, Any]]:
    names = list(spec.axes)
    sizes = [len(spec.axes[n]) for n in names]
    total = int(np.prod(sizes, dtype=np.float64)) if names else 1
    info = spec.sweep
    if info.sample == "grid":
        if total * len(info.scenarios) > MAX_RUNS:
            raise WattbitInputError(
                f"the grid has {total * len(info.scenarios):,} runs (at most {MAX_RUNS:,}); "
                "use sample = 'random' with runs = N, or fewer values",
                field="axes",
            )
        picks = itertools.product(*(range(k) for k in sizes))
        return [{n: spec.axes[n][i] for n, i in zip(names, pick, strict=True)} for pick in picks]
    rng = np.random.default_rng(info.seed)
    n = int(info.runs or 1)
    if n >= total:
        return [
            {n_: spec.axes[n_][i] for n_, i in zip(names, pick, strict=True)}
            for pick in itertools.product(*(range(k) for k in sizes))
        ]
    chosen = rng.choice(total, size=n, replace=False)
    out = []
    for flat in sorted(int(c) for c in chosen):
        pick = np.unravel_index(flat, sizes) if names else ()
        out.append({name: spec.axes[name][int(i)] for name, i in zip(names, pick, strict=True)})
    return out


def _set(raw: dict[str, Any], dotted: str, value: Any, axis: str) -> None:
    node: Any = raw
    parts = dotted.split(".")
    for part in parts[:-1]:
        if not isinstance(node, dict):
            raise WattbitInputError(f"axis {axis!r}: {part!r} is not a table of the scenario", field=f"axes.{axis}")
        node = node.setdefault(part, {})
    if not isinstance(node, dict):
        raise WattbitInputError(f"axis {axis!r}: {parts[-2]!r} is not a table of the scenario", field=f"axes.{axis}")
    node[parts[-1]] = value


def apply_axis(raw: dict[str, Any], axis: str, value: Any) -> None:
    """Set ``axis`` (a scenario path, ``sites.<field>`` for every site or ``sites[<name>].<field>``) in ``raw``.

    Raises
    ------
    WattbitInputError
        If the path names a site the scenario does not have, or goes through a value that is not a table.
    """
    given = raw.get("sites")
    sites: list[Any] = given if isinstance(given, list) else []
    match = _SITE_FIELD.match(axis)
    if match:
        name, rest = match.groups()
        chosen = [s for s in sites if isinstance(s, dict) and (name is None or s.get("name") == name)]
        if name is not None and not chosen:
            known = [s.get("name") for s in sites if isinstance(s, dict)]
            raise WattbitInputError(f"axis {axis!r}: no site {name!r} (sites: {known})", field=f"axes.{axis}")
        for site in chosen:
            _set(site, rest, value, axis)
        return
    _set(raw, axis, value, axis)


def _site_subset(raw: dict[str, Any], names: Any) -> None:
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise WattbitInputError(f"axis 'sites': {names!r} is not a list of site names", field="axes.sites")
    sites = [s for s in raw.get("sites", []) if isinstance(s, dict)]
    known = [s.get("name") for s in sites]
    unknown = [n for n in names if n not in known]
    if unknown:
        raise WattbitInputError(f"axis 'sites': no site(s) {unknown} (sites: {known})", field="axes.sites")
    raw["sites"] = [s for s in sites if s.get("name") in names]


def expand(spec: SweepFile, sweep_path: Path) -> list[RunTask]:
    """Every run of the sweep, in a stable order.

    Raises
    ------
    ScenarioError
        If a scenario of ``[sweep] scenarios`` cannot be read.
    """
    info = spec.sweep
    tasks = []
    for ref in info.scenarios:
        local = sweep_path.parent / ref
        base, path = read_scenario_toml(str(local) if local.is_file() else ref)
        for values in _combinations(spec):
            raw: dict[str, Any] = _deep_copy(base)
            for axis, value in values.items():
                if axis not in SPECIAL_AXES:
                    apply_axis(raw, axis, value)
            if "sites" in values:  # after the fields, so that `sites[name].x` may name a site the subset drops
                _site_subset(raw, values["sites"])
            run_id = fingerprint({"scenario": ref, "command": info.command, **values, "period": [info.start, info.end]})
            tasks.append(
                RunTask(
                    run_id=run_id,
                    command=info.command,
                    scenario=ref,
                    raw=raw,
                    path=str(path),
                    values=values,
                    start=info.start,
                    end=info.end,
                    policies=tuple(info.policies),
                    policy=str(values.get("policy", (raw.get("policy") or {}).get("name", "baseline"))),
                    seed=None if "seed" not in values else int(values["seed"]),
                )
            )
    return tasks


def _deep_copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _deep_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_deep_copy(v) for v in value]
    return value
