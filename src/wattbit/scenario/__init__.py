"""The scenario: one schema that every wattbit command reads (:mod:`wattbit.scenario.model`), with the plan's
section in :mod:`wattbit.scenario.plan`.

This package sits at the bottom of the layers: it imports nothing of wattbit but :mod:`wattbit.errors`, so loading a
scenario never loads the planner, the engine or the readers.
"""

from wattbit.scenario.model import (
    BUILTIN_SCENARIOS,
    GRID_AREAS,
    DataSource,
    DesignSpec,
    ExportSpec,
    FinanceSpec,
    InferenceSpec,
    ITSpec,
    Period,
    PolicySpec,
    Scenario,
    ScenarioInfo,
    SignalReader,
    Site,
    SiteData,
    TraceReader,
    TraceSource,
    TrainingSpec,
    WorkloadSpec,
    builtin_scenario_path,
    format_validation_error,
    load_scenario,
    parse_scenario,
    read_scenario_toml,
    scenario_from_dict,
    with_period,
)
from wattbit.scenario.ops import OpsSpec, SignatureOverride
from wattbit.scenario.plan import PlanSpec

__all__ = [
    "BUILTIN_SCENARIOS",
    "DataSource",
    "DesignSpec",
    "ExportSpec",
    "FinanceSpec",
    "GRID_AREAS",
    "ITSpec",
    "InferenceSpec",
    "Period",
    "OpsSpec",
    "PlanSpec",
    "PolicySpec",
    "Scenario",
    "ScenarioInfo",
    "SignalReader",
    "Site",
    "SignatureOverride",
    "SiteData",
    "TraceReader",
    "TraceSource",
    "TrainingSpec",
    "WorkloadSpec",
    "builtin_scenario_path",
    "format_validation_error",
    "load_scenario",
    "parse_scenario",
    "read_scenario_toml",
    "scenario_from_dict",
    "with_period",
]
