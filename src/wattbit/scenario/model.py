"""The scenario: one schema that every wattbit command reads.

A scenario is a TOML file (see ``examples/`` and the built-in ``japan-2022``) with these tables:

``[scenario]`` name and description · ``[period]`` start, end (time-zone aware) and ``step`` · ``[[sites]]`` one per
site, each with its IT, cooling, power architecture, on-site generation, grid connection and ``[sites.data]`` sources ·
``[workload]`` trace files or built-in traces · ``[policy]`` · ``[finance]``.

Relative paths in data sources are resolved against the folder of the scenario file. Wherever a command takes
SCENARIO, the name of a built-in scenario (``wattbit.scenario.BUILTIN_SCENARIOS``) may be given instead of a path.
Validation errors name the file, the field path (``sites[1].it.gpu_count``), the bad value and what was expected.
"""

from __future__ import annotations

import copy
import tomllib
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from wattbit.errors import ScenarioError
from wattbit.scenario.ops import OpsSpec
from wattbit.scenario.period import Period
from wattbit.scenario.plan import PlanSpec
from wattbit.scenario.suggest import where_it_belongs

#: Most GPUs one site may hold: ten times the largest AI campus announced by 2026, far beyond what a site's grid
#: connection could feed; a larger number is a typo (a power of ten too many), not a plan.
MAX_SITE_GPUS = 10_000_000

#: Japanese grid areas (general transmission and distribution utilities' service areas).
GRID_AREAS = ("hokkaido", "tohoku", "tokyo", "chubu", "hokuriku", "kansai", "chugoku", "shikoku", "kyushu", "okinawa")

BUILTIN_SCENARIOS = {"japan-2022": "demo/japan-2022/scenario.toml"}

SignalReader = Literal[
    "jma_hourly",
    "epw",
    "jepx_spot",
    "electricitymaps_hourly",
    "area_supply_demand",
    "tohoku_hourly",
    "wattbit_signals",
]
TraceReader = Literal["alibaba_gpu_pods", "azure_llm_2023", "servegen_client_rates"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DataSource(_Model):
    """Where one kind of site signal comes from.

    Exactly one of ``path`` (a file or folder read by ``reader``), ``builtin`` (``"japan-2022:<site>"``, the
    packaged demo extract) or ``assume_zero`` (a stated reason why the signal is zero, e.g. an area with no
    curtailment in the period) is given.
    """

    reader: SignalReader | None = None
    path: list[Path] | None = None
    builtin: str | None = Field(default=None, pattern=r"^[a-z0-9-]+:[a-z0-9_-]+$")
    assume_zero: str | None = None
    area: str | None = None
    zone: str | None = None
    station: str | None = None
    basis: Literal["lifecycle", "direct"] = "lifecycle"
    emission_factors_g_per_kwh: dict[str, float] = Field(default_factory=dict)
    thermal_shares: dict[str, float] | None = None
    gap_fill: Literal["none", "linear", "hold"] = "none"
    max_gap_periods: int = Field(default=3, ge=1, le=48)

    @field_validator("path", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str | Path) else value

    @model_validator(mode="after")
    def _exactly_one_origin(self) -> DataSource:
        given = [k for k in ("path", "builtin", "assume_zero") if getattr(self, k)]
        if len(given) != 1:
            raise ValueError(f"give exactly one of path, builtin or assume_zero (got {given or 'none'})")
        if self.path and self.reader is None:
            raise ValueError("a path needs a reader (for example reader = 'jma_hourly'); `wattbit data inspect` tells")
        if self.area is not None and self.area not in GRID_AREAS:
            raise ValueError(f"unknown grid area {self.area!r}; expected one of {', '.join(GRID_AREAS)}")
        return self


class SiteData(_Model):
    """The data sources of a site's signals."""

    weather: DataSource
    carbon: DataSource
    price: DataSource
    curtailment: DataSource


class ITSpec(_Model):
    """IT equipment of a site."""

    gpu_model: str = "H100-SXM"
    gpu_count: int = Field(gt=0, le=MAX_SITE_GPUS, description="GPUs installed at the site (1..10 million)")
    rack_kw: float = Field(default=40.0, gt=0, le=300)


class DesignSpec(_Model):
    """Engineering choices of a site that the physics models need (all optional, with documented defaults)."""

    supply_temp_c: float | None = Field(
        default=None, ge=5, le=50, description="cooling supply temperature; default per cooling type"
    )
    ups_mode: Literal["double_conversion", "eco"] = "double_conversion"
    misc_load_fraction: float = Field(
        default=0.01, ge=0, le=0.2, description="lighting, security, offices, as a share of rated IT power"
    )
    pv_tilt_deg: float | None = Field(default=None, ge=0, le=90)
    pv_azimuth_deg: float = Field(default=180.0, ge=0, lt=360)
    pv_dc_ac_ratio: float = Field(default=1.2, ge=0.8, le=2.0)
    wind_turbine: str = "E-126/4200"
    wind_hub_height_m: float = Field(default=100.0, gt=10, le=250)
    anemometer_height_m: float = Field(default=10.0, gt=0, le=300)
    roughness_length_m: float = Field(default=0.1, gt=0, le=3)
    wind_profile: Literal["area", "anemometer"] = Field(
        default="area",
        description="on-site wind output: the grid area's published hourly wind output per installed MW ('area'), "
        "or the weather station's wind through a turbine power curve ('anemometer')",
    )
    pv_profile: Literal["pvlib", "area"] = Field(
        default="pvlib",
        description="on-site PV output: pvlib on the site's irradiance ('pvlib'), or the grid area's published "
        "hourly solar output per installed MW ('area', which includes snow cover and the area fleet's losses)",
    )


class ExportSpec(_Model):
    """Sale of on-site surplus (PV, wind, battery) to the grid, up to a limit, and what it is paid."""

    price: Literal["jepx", "fit", "fip", "none"] = Field(
        default="jepx",
        description="'jepx': the area's day-ahead price; 'fit': a fixed tariff (fixed_price_jpy_per_mwh); 'fip': "
        "the area price plus a premium (premium_jpy_per_mwh); 'none': exported unpaid",
    )
    fixed_price_jpy_per_mwh: float | None = Field(default=None, ge=0)
    premium_jpy_per_mwh: float = Field(default=0.0, ge=0)
    limit_mw: float | None = Field(default=None, ge=0, description="default: the grid connection; 0: no export")

    @model_validator(mode="after")
    def _tariff(self) -> ExportSpec:
        if self.price == "fit" and self.fixed_price_jpy_per_mwh is None:
            raise ValueError("price = 'fit' needs fixed_price_jpy_per_mwh (the tariff, JPY/MWh)")
        if self.price != "fit" and self.fixed_price_jpy_per_mwh is not None:
            raise ValueError(f"fixed_price_jpy_per_mwh applies to price = 'fit' only, not {self.price!r}")
        if self.price != "fip" and self.premium_jpy_per_mwh:
            raise ValueError(f"premium_jpy_per_mwh applies to price = 'fip' only, not {self.price!r}")
        return self


class Site(_Model):
    """One datacenter site."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    description: str = ""
    latitude_deg: float = Field(ge=-90, le=90)
    longitude_deg: float = Field(ge=-180, le=180)
    altitude_m: float = Field(default=0.0, ge=-500, le=6000)
    grid_area: str
    it: ITSpec
    cooling: Literal["air_chiller", "liquid_dry_cooler", "liquid_tower", "immersion"] = "liquid_dry_cooler"
    power_architecture: Literal["ac415", "dc800"] = "ac415"
    pv_mw: float = Field(default=0.0, ge=0)
    wind_mw: float = Field(default=0.0, ge=0)
    battery_mwh: float = Field(default=0.0, ge=0)
    battery_mw: float = Field(default=0.0, ge=0)
    grid_connection_mw: float = Field(gt=0)
    export: ExportSpec = ExportSpec()
    design: DesignSpec = DesignSpec()
    data: SiteData

    @field_validator("grid_area")
    @classmethod
    def _known_area(cls, value: str) -> str:
        if value not in GRID_AREAS:
            raise ValueError(f"unknown grid area {value!r}; expected one of {', '.join(GRID_AREAS)}")
        return value


class TraceSource(_Model):
    """A workload trace file (or the built-in slice of one)."""

    reader: TraceReader
    path: Path | None = None
    builtin: str | None = None

    @model_validator(mode="after")
    def _one_origin(self) -> TraceSource:
        if (self.path is None) == (self.builtin is None):
            raise ValueError("give exactly one of path or builtin")
        return self


class TrainingSpec(_Model):
    """Training, fine-tuning and batch jobs: synthetic, calibrated on the Alibaba GPU trace of ``traces``."""

    target_gpu_utilization: float = Field(default=0.5, gt=0, le=1, description="offered load as a share of all GPUs")
    gang_scale: float = Field(default=16.0, gt=0, description="multiplies the trace's gang sizes (LLM jobs are larger)")
    max_gpus: int | None = Field(default=None, gt=0)
    deadline_slack: float = Field(default=2.0, ge=1, description="deadline = start + slack x duration")


class InferenceSpec(_Model):
    """Online LLM inference: a daily/weekly load shape (ServeGen trace) scaled to a peak rate, tokens from Azure."""

    peak_rate_rps: float = Field(default=0.0, ge=0, description="fleet-wide requests/s at the busiest 10 minutes")
    model_params_b: float = Field(default=70.0, gt=0, le=5000)
    bytes_per_param: float = Field(default=2.0, gt=0, le=4)
    slo: Literal["server", "interactive"] = "server"
    shape: Literal["auto", "weekly", "daily"] = Field(
        default="auto",
        description="load shape from the ServeGen trace: time of day x weekday ('weekly', needs >= 7 days of "
        "rates), time of day only ('daily'), or 'auto': weekly when the trace covers a week, else daily with a note",
    )


class WorkloadSpec(_Model):
    """The AI workload: traces, and how to scale them to the fleet."""

    traces: list[TraceSource] = Field(default_factory=list)
    training: TrainingSpec = TrainingSpec()
    inference: InferenceSpec = InferenceSpec()
    scale: float = Field(default=1.0, gt=0)
    seed: int = 0


class PolicySpec(_Model):
    """The control policy and its parameters."""

    name: str = "baseline"
    params: dict[str, Any] = Field(default_factory=dict)


class FinanceSpec(_Model):
    """Currency and financial assumptions; ``jpy_per_usd`` must be stated when any amount is in the other currency."""

    currency: Literal["JPY", "USD"] = "JPY"
    discount_rate: float = Field(default=0.07, ge=0, le=0.5)
    project_years: int = Field(default=15, ge=1, le=50)
    jpy_per_usd: float | None = Field(default=None, gt=0, description="exchange rate [JPY per USD]; no default")


class ScenarioInfo(_Model):
    """Name and description."""

    name: str
    description: str = ""


class Scenario(_Model):
    """A complete scenario, as read from TOML."""

    scenario: ScenarioInfo
    period: Period
    sites: list[Site] = Field(min_length=1)
    workload: WorkloadSpec = WorkloadSpec()
    policy: PolicySpec = PolicySpec()
    finance: FinanceSpec = FinanceSpec()
    plan: PlanSpec | None = None
    ops: OpsSpec = OpsSpec()
    source_path: Path | None = Field(default=None, exclude=True)
    relative_paths: dict[str, str] = Field(default_factory=dict, exclude=True)

    @model_validator(mode="after")
    def _unique_sites(self) -> Scenario:
        names = [s.name for s in self.sites]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"site names must be unique; repeated: {dup}")
        return self

    @property
    def name(self) -> str:
        """The scenario's name."""
        return self.scenario.name

    def missing_path_hint(self, path: str | Path) -> str:
        """Why a data file of this scenario may not be found: how its path was written and what it resolved
        against (empty for a path written as absolute)."""
        written = self.relative_paths.get(str(path))
        if written is None:
            return ""
        where = "the scenario file" if self.source_path is None else str(self.source_path)
        base = "the current folder" if self.source_path is None else str(Path(self.source_path).resolve().parent)
        return (
            f"it was written as {written!r} in {where}; relative paths in a scenario resolve against the folder of "
            f"the scenario file, here {base} (a scenario copied out of examples/ needs its data paths rewritten "
            "relative to its new folder, or made absolute)"
        )

    def site(self, name: str) -> Site:
        """The site called ``name``."""
        for s in self.sites:
            if s.name == name:
                return s
        raise KeyError(name)


def _field_path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def format_validation_error(exc: ValidationError, path: Path | str) -> ScenarioError:
    """Turn a pydantic error into a :class:`ScenarioError` listing every bad field, its value and the expectation;
    a field in the wrong table is told where it belongs (:func:`wattbit.scenario.suggest.where_it_belongs`)."""
    lines = []
    for err in exc.errors():
        parts = tuple(p for p in err["loc"] if not (isinstance(p, str) and "[" in p))
        loc = _field_path(parts)
        value = err.get("input")
        shown = "(missing)" if err["type"] == "missing" else repr(value)
        if len(shown) > 80:
            shown = shown[:77] + "..."
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden" and parts:
            msg = where_it_belongs(Scenario, parts[:-1], str(parts[-1]))
        if err["type"] == "value_error" and isinstance(value, dict):
            lines.append(f"  - {loc or '(top level)'}: {msg}")  # a table's own check: its content is not the point
            continue
        lines.append(f"  - {loc or '(top level)'} = {shown}: {msg}")
    n = len(lines)
    return ScenarioError(f"{n} problem{'s' if n > 1 else ''} in the scenario:\n" + "\n".join(lines), path=path)


def _resolve_paths(raw: dict[str, Any], base: Path) -> dict[str, str]:
    """Make relative data paths absolute, relative to the scenario file's folder (in place); return each resolved
    relative path with the text it was written as."""
    written: dict[str, str] = {}

    def fix(value: Any) -> Any:
        if isinstance(value, str):
            if Path(value).is_absolute():
                return value
            resolved = str((base / value).resolve())
            written[resolved] = value
            return resolved
        if isinstance(value, list):
            return [fix(v) for v in value]
        return value

    for site in raw.get("sites", []) if isinstance(raw.get("sites"), list) else []:
        data = site.get("data") if isinstance(site, dict) else None
        if isinstance(data, dict):
            for source in data.values():
                if isinstance(source, dict) and "path" in source:
                    source["path"] = fix(source["path"])
    workload = raw.get("workload")
    if isinstance(workload, dict):
        for trace in workload.get("traces", []):
            if isinstance(trace, dict) and "path" in trace:
                trace["path"] = fix(trace["path"])
    return written


def builtin_scenario_path(name: str) -> Path:
    """Path of a packaged scenario file."""
    rel = BUILTIN_SCENARIOS[name]
    return Path(str(resources.files("wattbit").joinpath(rel)))


def parse_scenario(text: str, path: Path | str = "<string>") -> Scenario:
    """Parse and validate scenario TOML ``text``; ``path`` is used in messages and to resolve relative paths."""
    p = Path(path)
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"not valid TOML: {exc}", path=p) from exc
    return scenario_from_dict(raw, p)


def scenario_from_dict(raw: dict[str, Any], path: Path | str = "<string>") -> Scenario:
    """Validate a scenario given as the dictionary its TOML parses to (a sweep's variant of a scenario file);
    ``path`` is used in messages and to resolve relative paths. ``raw`` is not changed."""
    p = Path(path)
    raw = copy.deepcopy(raw)
    raw["relative_paths"] = _resolve_paths(raw, p.parent.resolve())
    raw["source_path"] = str(p)
    try:
        return Scenario.model_validate(raw)
    except ValidationError as exc:
        raise format_validation_error(exc, p) from exc


def read_scenario_toml(ref: str | Path) -> tuple[dict[str, Any], Path]:
    """The dictionary a scenario file (or a built-in scenario's name) parses to, and the file's path.

    Raises
    ------
    ScenarioError
        If the file is missing, not UTF-8 or not TOML.
    """
    if isinstance(ref, str) and ref in BUILTIN_SCENARIOS:
        path = builtin_scenario_path(ref)
    else:
        path = Path(ref)
        if not path.is_file():
            known = ", ".join(BUILTIN_SCENARIOS)
            raise ScenarioError(f"no such scenario file (and not a built-in scenario: {known})", path=path)
    try:
        return tomllib.loads(path.read_text(encoding="utf-8")), path
    except UnicodeDecodeError as exc:
        raise ScenarioError("scenario file is not UTF-8 text", path=path) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"not valid TOML: {exc}", path=path) from exc


def load_scenario(ref: str | Path) -> Scenario:
    """Load a scenario from a TOML file, or a built-in one by name (``"japan-2022"``).

    Raises
    ------
    ScenarioError
        If the file is missing, is not TOML, or fails validation; the message names the file and every bad field.
    """
    if isinstance(ref, str) and ref in BUILTIN_SCENARIOS:
        path = builtin_scenario_path(ref)
    else:
        path = Path(ref)
        if not path.is_file():
            known = ", ".join(BUILTIN_SCENARIOS)
            raise ScenarioError(f"no such scenario file (and not a built-in scenario: {known})", path=path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ScenarioError("scenario file is not UTF-8 text", path=path) from exc
    return parse_scenario(text, path)


def with_period(scenario: Scenario, start: str | None = None, end: str | None = None) -> Scenario:
    """``scenario`` over a sub-period: ``start``/``end`` as ISO dates or times (in the scenario's time zone when
    they carry none); either may be left out. The result must lie inside the scenario's own period."""
    if start is None and end is None:
        return scenario
    p = scenario.period

    def parse(value: str, name: str) -> datetime:
        try:
            ts = pd.Timestamp(value)
        except (TypeError, ValueError) as exc:
            raise ScenarioError(f"{name} {value!r} is not a date or time (e.g. 2022-04-10)", field=name) from exc
        if ts.tzinfo is None:
            ts = ts.tz_localize(p.timezone)
        return ts.to_pydatetime()

    new_start = parse(start, "start") if start is not None else p.start
    new_end = parse(end, "end") if end is not None else p.end
    if new_start < p.start or new_end > p.end:
        raise ScenarioError(
            f"period {new_start.isoformat()} .. {new_end.isoformat()} is outside the scenario's "
            f"{p.start.isoformat()} .. {p.end.isoformat()}",
            field="period",
        )
    try:
        period = Period(start=new_start, end=new_end, step=p.step, timezone=p.timezone)
    except ValidationError as exc:
        raise ScenarioError(f"bad period: {exc.errors()[0]['msg']}", field="period") from exc
    return scenario.model_copy(update={"period": period})
