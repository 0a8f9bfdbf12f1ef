"""Planning under uncertainty: Monte Carlo over prices, carbon, capex, demand and failure rates; tornado sensitivity.

The model being studied is a caller's function ``evaluate_draw(draw: dict[str, float]) -> dict[str, float]``: it
gets one draw of the uncertain multipliers (``energy_price_multiplier``, ``grid_carbon_multiplier``,
``capex_<group>_multiplier``, ``demand_multiplier``, ``failure_rate_multiplier``, any extras, and an integer
``seed`` for models that are themselves random) and returns its outputs (``npv``, ``carbon_t_per_year``, ...). It
must be a top-level function or an instance of a top-level class so that it can be sent to worker processes.
:func:`run_monte_carlo` samples an :class:`UncertaintySpec`, evaluates every draw through an
:class:`~wattbit.parallel.Executor` and returns a :class:`MonteCarloResult` (one row per draw; P10/P50/P90
and mean of every output). :func:`sensitivity` evaluates one parameter at a time at its low and high values (a
tornado). A ready-made model on ``wattbit.finance.project`` is :mod:`montecarlo_project`.

Reproducibility: draw ``i`` is sampled from the ``i``-th child of ``numpy.random.SeedSequence(seed).spawn(n)``,
in the parent process, so the results do not depend on the executor or its number of workers, and the first ``k``
draws of a run of ``n > k`` are the draws of a run of ``k``. Formulas, defaults and their sources:
``docs/uncertainty.md``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from wattbit.errors import WattbitInputError
from wattbit.montecarlo.chunks import CHUNK_DRAWS, ChunkStore, evaluate_in_chunks
from wattbit.montecarlo.distributions import Distribution, LogNormal, Triangular, distribution_from_mapping
from wattbit.parallel import Executor, TaskError, is_executor, make_executor
from wattbit.units import check_int, check_number

#: JEPX fiscal-year average system prices FY2013-FY2020 (16.5 ... 11.2 JPY/kWh, REFERENCE.md section 5, S) have a
#: standard deviation of log 0.257; taken as the spread of a 20-year price level around the base series (U).
DEFAULT_ENERGY_PRICE = LogNormal(median=1.0, sigma=0.26)
#: Grid carbon over the project relative to the base year (U): mostly lower as reactors restart and renewables grow
#: (Kyushu's 2024 mix with 31 % nuclear is about 0.31 kg/kWh, REFERENCE.md section 5, computed there from a V mix;
#: 0.56 x the japan-2022 Tohoku mean of 0.55 kg/kWh),
#: slightly higher if restarts stall.
DEFAULT_GRID_CARBON = Triangular(low=0.55, mode=0.85, high=1.05)
#: Capex by component group. ``facility``: Tokyo/Osaka shell+MEP 10.45-16.02 USD/W around a mid of 13.24
#: (Cushman & Wakefield APAC 2025, S) = 0.79-1.21 x. ``it``: GPU prices are unverified (U): -20 % / +25 %.
#: ``energy`` (PV, wind, battery, grid connection): overruns more likely than savings (U).
DEFAULT_CAPEX: Mapping[str, Distribution] = {
    "it": Triangular(low=0.8, mode=1.0, high=1.25),
    "facility": Triangular(low=0.79, mode=1.0, high=1.21),
    "energy": Triangular(low=0.9, mode=1.0, high=1.3),
}
#: GPU utilisation relative to the business plan (U): ramp-up and demand risk below, little room above.
DEFAULT_DEMAND = Triangular(low=0.75, mode=1.0, high=1.1)
#: Failure rate relative to the base rate: Meta's RSC clusters logged 6.50 and 2.34 failures per 1,000 node-days
#: (REFERENCE.md section 7, S); reading that factor of 2.8 as P90/P10 gives sigma = ln(2.78) / 2.563 = 0.40 (U).
DEFAULT_FAILURE_RATE = LogNormal(median=1.0, sigma=0.40)

_STANDARD = ("energy_price", "grid_carbon", "demand", "failure_rate")
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_MAX_DRAWS = 10_000_000


def _default_capex() -> dict[str, Distribution]:
    return dict(DEFAULT_CAPEX)


@dataclass(frozen=True)
class UncertaintySpec:
    """The uncertain inputs of a plan, each a multiplier on its base value (1 = as planned).

    Attributes
    ----------
    energy_price
        Multiplier on every energy price (import and export) -> ``energy_price_multiplier``; None holds it at 1.
    grid_carbon
        Multiplier on the grid's carbon intensity -> ``grid_carbon_multiplier``; None holds it at 1.
    capex
        Group name -> multiplier on the capex of that group's components -> ``capex_<group>_multiplier``; groups
        ``it``, ``facility``, ``energy`` by default (names: lower case, digits, ``_``).
    demand
        Multiplier on GPU utilisation (demand) -> ``demand_multiplier``; None holds it at 1.
    failure_rate
        Multiplier on equipment failure rates -> ``failure_rate_multiplier``; None holds it at 1.
    extra
        Further parameters, name -> distribution, passed under their own names.
    price_carbon_correlation
        Correlation in [-1, 1] of the normal scores of price and carbon (a Gaussian copula); 0 (default, U) draws
        them independently. Needs both ``energy_price`` and ``grid_carbon``.

    Notes
    -----
    Parameters are drawn in the order above; adding or removing one changes the values drawn for those after it.
    """

    energy_price: Distribution | None = DEFAULT_ENERGY_PRICE
    grid_carbon: Distribution | None = DEFAULT_GRID_CARBON
    capex: Mapping[str, Distribution] = field(default_factory=_default_capex)
    demand: Distribution | None = DEFAULT_DEMAND
    failure_rate: Distribution | None = DEFAULT_FAILURE_RATE
    extra: Mapping[str, Distribution] = field(default_factory=dict)
    price_carbon_correlation: float = 0.0

    def __post_init__(self) -> None:
        for name in _STANDARD:
            value = getattr(self, name)
            if value is not None and not isinstance(value, Distribution):
                raise WattbitInputError(
                    f"uncertainty.{name}={value!r} must be a distribution (Normal, LogNormal, Triangular, Uniform) "
                    "or None",
                    field=f"uncertainty.{name}",
                )
        object.__setattr__(self, "capex", _checked_group(self.capex, "capex"))
        object.__setattr__(self, "extra", _checked_group(self.extra, "extra"))
        rho = check_number(self.price_carbon_correlation, "uncertainty.price_carbon_correlation", -1.0, 1.0)
        object.__setattr__(self, "price_carbon_correlation", rho)
        if rho != 0.0 and (self.energy_price is None or self.grid_carbon is None):
            raise WattbitInputError(
                f"uncertainty.price_carbon_correlation={rho:g} needs both energy_price and grid_carbon to be uncertain",
                field="uncertainty.price_carbon_correlation",
            )
        taken = {f"{n}_multiplier" for n in _STANDARD} | {f"capex_{g}_multiplier" for g in self.capex} | {"seed"}
        clash = sorted(set(self.extra) & taken)
        if clash:
            raise WattbitInputError(
                f"uncertainty.extra: names {clash} are taken by the standard parameters or the seed",
                field="uncertainty.extra",
            )

    def parameters(self) -> dict[str, Distribution]:
        """Parameter name -> distribution, in drawing order (fixed parameters left out)."""
        return {**self._standard_parameters(), **self.extra}

    def _standard_parameters(self) -> dict[str, Distribution]:
        out: dict[str, Distribution] = {}
        for name in ("energy_price", "grid_carbon"):
            dist = getattr(self, name)
            if dist is not None:
                out[f"{name}_multiplier"] = dist
        out.update({f"capex_{group}_multiplier": dist for group, dist in self.capex.items()})
        for name in ("demand", "failure_rate"):
            dist = getattr(self, name)
            if dist is not None:
                out[f"{name}_multiplier"] = dist
        return out

    def medians(self) -> dict[str, float]:
        """Median of every parameter: a base case for :func:`sensitivity`."""
        return {name: float(dist.ppf(0.5)) for name, dist in self.parameters().items()}

    def spans(self, low_q: float = 0.1, high_q: float = 0.9) -> dict[str, tuple[float, float]]:
        """``(low, high)`` quantiles of every parameter (P10, P90 by default): the spans of a tornado."""
        lo = check_number(low_q, "low_q", 0.0, 1.0, lo_open=True, hi_open=True)
        hi = check_number(high_q, "high_q", lo, 1.0, lo_open=True, hi_open=True)
        return {name: (float(d.ppf(lo)), float(d.ppf(hi))) for name, d in self.parameters().items()}

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> UncertaintySpec:
        """A spec from configuration data (e.g. a TOML table).

        ``{"energy_price": {"dist": "lognormal", "median": 1.0, "sigma": 0.3}, "demand": "fixed",
        "capex": {"it": {"dist": "triangular", "low": 0.8, "mode": 1.0, "high": 1.3}},
        "price_carbon_correlation": 0.5}``; a parameter left out keeps its default, ``"fixed"`` holds it at 1.
        Errors name the field, e.g. ``uncertainty.capex.it.high``.
        """
        allowed = (
            "energy_price",
            "grid_carbon",
            "capex",
            "demand",
            "failure_rate",
            "extra",
            "price_carbon_correlation",
        )
        unknown = sorted(set(data) - set(allowed))
        if unknown:
            raise WattbitInputError(
                f"uncertainty: unknown key(s) {unknown}; allowed: {list(allowed)}", field=f"uncertainty.{unknown[0]}"
            )
        kwargs: dict[str, Any] = {}
        for name in ("energy_price", "grid_carbon", "demand", "failure_rate"):
            if name in data:
                value = data[name]
                kwargs[name] = None if value == "fixed" else distribution_from_mapping(value, f"uncertainty.{name}")
        for name in ("capex", "extra"):
            if name in data:
                group = data[name]
                if not isinstance(group, Mapping):
                    raise WattbitInputError(
                        f"uncertainty.{name} must be a table of name -> distribution", field=f"uncertainty.{name}"
                    )
                kwargs[name] = {k: distribution_from_mapping(v, f"uncertainty.{name}.{k}") for k, v in group.items()}
        if "price_carbon_correlation" in data:
            kwargs["price_carbon_correlation"] = data["price_carbon_correlation"]
        return cls(**kwargs)


def _checked_group(group: object, name: str) -> dict[str, Distribution]:
    if not isinstance(group, Mapping):
        raise WattbitInputError(
            f"uncertainty.{name} must be a mapping of name -> distribution", field=f"uncertainty.{name}"
        )
    for key, dist in group.items():
        if not isinstance(key, str) or not _NAME.match(key):
            raise WattbitInputError(
                f"uncertainty.{name}: name {key!r} must be lower case letters, digits and '_', starting with a letter",
                field=f"uncertainty.{name}",
            )
        if not isinstance(dist, Distribution):
            raise WattbitInputError(
                f"uncertainty.{name}.{key}={dist!r} must be a distribution", field=f"uncertainty.{name}.{key}"
            )
    return dict(group)


def sample_draws(spec: UncertaintySpec, n_draws: int, seed: int) -> pd.DataFrame:
    """The parameter values of ``n_draws`` draws.

    Parameters
    ----------
    spec
        What is uncertain.
    n_draws
        Number of draws, 1..10,000,000.
    seed
        Root seed, an integer >= 0.

    Returns
    -------
    pandas.DataFrame
        Index ``draw`` (0..n-1); column ``seed`` (an integer in [0, 2**32) for a model's own random numbers) and
        one column per parameter.
    """
    n = check_int(n_draws, "n_draws", 1, _MAX_DRAWS)
    root = np.random.SeedSequence(check_int(seed, "seed", 0, 2**128 - 1))
    params = spec.parameters()
    names = list(params)
    z = np.empty((n, len(names)))
    seeds = np.empty(n, dtype=np.int64)
    for i, child in enumerate(root.spawn(n)):
        param_seq, model_seq = child.spawn(2)
        z[i] = np.random.default_rng(param_seq).standard_normal(len(names))
        seeds[i] = int(model_seq.generate_state(1, np.uint32)[0])
    rho = spec.price_carbon_correlation
    if rho != 0.0:
        p, c = names.index("energy_price_multiplier"), names.index("grid_carbon_multiplier")
        z[:, c] = rho * z[:, p] + math.sqrt(1.0 - rho * rho) * z[:, c]
    data: dict[str, Any] = {"seed": seeds}
    for j, (name, dist) in enumerate(params.items()):
        data[name] = dist.from_normal(z[:, j])
    return pd.DataFrame(data, index=pd.RangeIndex(n, name="draw"))


@dataclass(frozen=True, eq=False)
class MonteCarloResult:
    """The draws of a Monte Carlo run and what the model returned for each.

    Attributes
    ----------
    table
        One row per draw (index ``draw``): ``seed``, the parameters, then the outputs.
    parameters
        Names of the parameter columns.
    outputs
        Names of the output columns.
    seed
        The root seed.
    """

    table: pd.DataFrame
    parameters: tuple[str, ...]
    outputs: tuple[str, ...]
    seed: int

    def summary(self, quantiles: tuple[float, ...] = (0.1, 0.5, 0.9), include_parameters: bool = False) -> pd.DataFrame:
        """Mean, standard deviation and percentiles of every output (and parameter, if asked).

        Parameters
        ----------
        quantiles
            Percentiles as fractions; column ``p10`` is the 10th percentile (the value 90 % of draws exceed).
        include_parameters
            Add a row per parameter.

        Returns
        -------
        pandas.DataFrame
            Index: the outputs; columns ``n`` (draws with a finite value: an IRR can be NaN), ``mean``, ``std``,
            ``sem`` (standard error of the mean, ``std / sqrt(n)``) and ``p10``, ``p50``, ``p90`` (linear
            interpolation, numpy's default).
        """
        qs = [check_number(q, "quantiles", 0.0, 1.0) for q in quantiles]
        names = [*self.outputs, *(self.parameters if include_parameters else ())]
        rows = {}
        for name in names:
            values = self.table[name].to_numpy(dtype=float)
            ok = values[np.isfinite(values)]
            n = ok.size
            row: dict[str, float] = {"n": float(n), "mean": float(ok.mean()) if n else math.nan}
            row["std"] = float(ok.std(ddof=1)) if n > 1 else math.nan
            row["sem"] = row["std"] / math.sqrt(n) if n > 1 else math.nan
            for q in qs:
                row[f"p{100 * q:g}"] = float(np.quantile(ok, q)) if n else math.nan
            rows[name] = row
        return pd.DataFrame.from_dict(rows, orient="index").astype({"n": "int64"})


DrawModel = Callable[[dict[str, float]], Mapping[str, float]]


def run_monte_carlo(
    evaluate_draw: DrawModel,
    spec: UncertaintySpec,
    n_draws: int,
    seed: int,
    executor: str | Mapping[str, Any] | Executor | None = None,
    store: ChunkStore | None = None,
    chunk_draws: int = CHUNK_DRAWS,
) -> MonteCarloResult:
    """Evaluate ``evaluate_draw`` on ``n_draws`` draws of ``spec``.

    Parameters
    ----------
    evaluate_draw
        The model: a picklable top-level callable taking the draw (parameter name -> value, and ``seed``) and
        returning output name -> number; every draw must return the same names. A parameter the spec holds fixed
        is absent from the draw: the model uses its base value.
    spec
        What is uncertain, and how.
    n_draws
        Number of draws, 1..10,000,000.
    seed
        Root seed (integer >= 0); the same seed gives the same table whatever the executor.
    executor
        An :class:`~wattbit.parallel.Executor` (left open), or a configuration for
        :func:`~wattbit.parallel.make_executor` (its executor is closed at the end); None means local
        processes, one per CPU.
    store, chunk_draws
        With a checkpoint store (:class:`wattbit.durable.Checkpoint`), each chunk of ``chunk_draws`` draws is saved
        when done; a later call with the same store evaluates only the rest (:mod:`wattbit.montecarlo.chunks`).

    Returns
    -------
    MonteCarloResult

    Raises
    ------
    TaskError
        If the model raised on a draw; the message names the draw and its values, ``__cause__`` is the exception.
    WattbitInputError
        On bad arguments, or outputs that are not a mapping of names to numbers, or differ between draws.
    """
    draws = sample_draws(spec, n_draws, seed)
    records = _records(draws)
    owned = not is_executor(executor)
    ex = make_executor(executor)  # once, for every chunk
    try:
        outputs = evaluate_in_chunks(
            lambda chunk, first: _evaluate(evaluate_draw, chunk, ex, "Monte Carlo draw", first),
            records,
            store,
            chunk_draws,
        )
    finally:
        if owned:
            ex.close()
    names = _output_names(outputs, list(draws.columns))
    table = draws.join(pd.DataFrame(_output_rows(outputs, names), index=draws.index))
    return MonteCarloResult(table=table, parameters=tuple(draws.columns[1:]), outputs=tuple(names), seed=int(seed))


def _records(draws: pd.DataFrame) -> list[dict[str, float]]:
    """One dict per draw: ``seed`` as a Python int (a valid numpy seed), the parameters as floats."""
    names = [str(c) for c in draws.columns if c != "seed"]
    values = draws[names].to_numpy(dtype=float).tolist()
    return [
        {"seed": s, **dict(zip(names, row, strict=True))} for s, row in zip(draws["seed"].tolist(), values, strict=True)
    ]


def _evaluate(
    fn: DrawModel,
    records: list[dict[str, float]],
    executor: str | Mapping[str, Any] | Executor | None,
    what: str,
    first: int = 0,
) -> list[Mapping[str, float]]:
    """``fn`` over ``records`` on ``executor``; ``first``: the index of ``records[0]`` among all draws."""
    if not callable(fn):
        raise WattbitInputError(f"evaluate_draw={fn!r} must be callable", field="evaluate_draw")
    owned = not is_executor(executor)
    ex = make_executor(executor)
    try:
        return ex.map(fn, records)
    except TaskError as exc:
        cause = exc.__cause__ if exc.__cause__ is not None else exc
        shown = ", ".join(f"{k}={v:.6g}" for k, v in records[exc.index].items())
        i = first + exc.index
        raise TaskError(i, f"{what} {i} ({shown}) failed: {type(cause).__name__}: {cause}") from cause
    finally:
        if owned:
            ex.close()


def _output_names(outputs: list[Mapping[str, float]], taken: list[str]) -> list[str]:
    first = outputs[0]
    if not isinstance(first, Mapping) or not first:
        raise WattbitInputError(
            f"evaluate_draw must return a non-empty mapping of output name -> number; draw 0 returned {first!r}",
            field="evaluate_draw",
        )
    names = list(first)
    clash = sorted(set(names) & set(taken))
    if clash:
        raise WattbitInputError(
            f"evaluate_draw returned outputs named like parameters: {clash}; rename them", field="evaluate_draw"
        )
    for i, out in enumerate(outputs):
        if not isinstance(out, Mapping) or set(out) != set(names):
            got = sorted(out) if isinstance(out, Mapping) else repr(out)
            raise WattbitInputError(
                f"evaluate_draw returned {got} for draw {i} but {sorted(names)} for draw 0; every draw must return "
                "the same outputs",
                field="evaluate_draw",
            )
    return names


def _output_rows(outputs: list[Mapping[str, float]], names: list[str]) -> dict[str, list[float]]:
    columns: dict[str, list[float]] = {name: [] for name in names}
    for i, out in enumerate(outputs):
        for name in names:
            value = out[name]
            if isinstance(value, bool) or not isinstance(value, int | float | np.number):
                raise WattbitInputError(
                    f"evaluate_draw returned {name}={value!r} for draw {i}; outputs must be numbers",
                    field="evaluate_draw",
                )
            columns[name].append(float(value))
    return columns


def sensitivity(
    evaluate_draw: DrawModel,
    base: Mapping[str, float],
    spans: Mapping[str, tuple[float, float]],
    executor: str | Mapping[str, Any] | Executor | None = "serial",
    seed: int = 0,
) -> pd.DataFrame:
    """One-at-a-time sensitivity (a tornado): each parameter at its low and high value, the others at base.

    Parameters
    ----------
    evaluate_draw
        The model, as for :func:`run_monte_carlo`.
    base
        Base value of every parameter (e.g. :meth:`UncertaintySpec.medians`).
    spans
        Parameter -> ``(low, high)`` (e.g. :meth:`UncertaintySpec.spans`); every key must be in ``base``.
    executor
        Where to run the ``1 + 2 len(spans)`` evaluations (default in this process).
    seed
        The ``seed`` every evaluation gets (the same for all: common random numbers).

    Returns
    -------
    pandas.DataFrame
        One row per parameter of ``spans``, sorted by the swing of the first output (largest first); columns
        ``low``, ``high`` and, per output ``o``, ``o_low``, ``o_high`` and ``o_swing = o_high - o_low``.
        ``attrs["base"]`` holds the outputs at base.
    """
    base_draw: dict[str, float] = {"seed": check_int(seed, "seed", 0, 2**32 - 1)}
    for name, value in base.items():
        base_draw[name] = check_number(value, f"base.{name}")
    records = [base_draw]
    for name, span in spans.items():
        if name not in base:
            raise WattbitInputError(
                f"spans.{name}: parameter {name!r} is not in base {sorted(base)}", field=f"spans.{name}"
            )
        if not isinstance(span, tuple | list) or len(span) != 2:
            raise WattbitInputError(f"spans.{name}={span!r} must be a (low, high) pair", field=f"spans.{name}")
        for value in span:
            records.append({**base_draw, name: check_number(value, f"spans.{name}")})
    outputs = _evaluate(evaluate_draw, records, executor, "sensitivity evaluation")
    names = _output_names(outputs, list(base_draw))
    values = _output_rows(outputs, names)
    rows = {}
    for k, (name, span) in enumerate(spans.items()):
        row = {"low": float(span[0]), "high": float(span[1])}
        for out in names:
            lo, hi = values[out][1 + 2 * k], values[out][2 + 2 * k]
            row.update({f"{out}_low": lo, f"{out}_high": hi, f"{out}_swing": hi - lo})
        rows[name] = row
    frame = pd.DataFrame.from_dict(rows, orient="index")
    if len(frame):
        frame = frame.iloc[np.argsort(-np.abs(frame[f"{names[0]}_swing"].to_numpy()), kind="stable")]
    frame.index.name = "parameter"
    frame.attrs["base"] = {out: values[out][0] for out in names}
    return frame
