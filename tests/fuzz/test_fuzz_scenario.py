"""Fuzzing the scenario schema: damaged TOML, wrong values in every field, and valid scenarios at the limits."""

from __future__ import annotations

import copy
import datetime as dt
import json
import math
import tomllib
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.harness import FIXTURES, REPO, TALLY, fuzz_settings, write_case
from tests.fuzz.mutations import mutated
from wattbit.errors import ScenarioError, WattbitInputError
from wattbit.scenario.model import Scenario, load_scenario

DEMO_TOML = (REPO / "src" / "wattbit" / "demo" / "japan-2022" / "scenario.toml").read_bytes()
DEMO = tomllib.loads(DEMO_TOML.decode())


def to_toml(doc: dict[str, Any]) -> str:
    """A minimal TOML writer for the cases (every table inline): enough for what tomllib reads back."""

    def value(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, float):
            return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf") if math.isinf(v) else repr(v)
        if isinstance(v, int):
            return str(v)
        if isinstance(v, dt.datetime | dt.date):
            return v.isoformat()
        if isinstance(v, dict):
            return "{" + ", ".join(f"{json.dumps(str(k))} = {value(x)}" for k, x in v.items()) + "}"
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        return json.dumps(str(v))

    return "\n".join(f"{json.dumps(str(k))} = {value(v)}" for k, v in doc.items()) + "\n"


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = []
    if isinstance(doc, dict):
        for k, v in doc.items():
            out.append((*prefix, k))
            out.extend(_paths(v, (*prefix, k)))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out.append((*prefix, i))
            out.extend(_paths(v, (*prefix, i)))
    return out


PATHS = _paths(DEMO)
ODD_VALUES = st.one_of(
    st.sampled_from([0, -1, 2**31, 2**63 - 1, 10**12, 0.0, -0.0, 1e308, float("nan"), float("inf"), -1e-300]),
    st.sampled_from(["", " ", "Mars/Olympus", "1ns", "0min", "-15min", "2022-13-01", "tohoku ", "H100", "日本"]),
    st.sampled_from([[], {}, [1, "a"], {"x": 1}, True, dt.datetime(2022, 1, 1), dt.date(2022, 2, 28)]),
    st.integers(),
    st.floats(),
    st.text(max_size=12),
)


def _check(doc_text: bytes) -> Scenario | None:
    path = write_case(doc_text, "scenario.toml")
    try:
        scenario = load_scenario(path)
    except ScenarioError as err:
        text = str(err)
        assert err.path is not None and path.name in text, text
        assert "\n  - " in text or "TOML" in text or "UTF-8" in text, text
        TALLY[("scenario", "input_error")] += 1
        return None
    TALLY[("scenario", "read")] += 1
    # a scenario that loads has a usable period: whole steps, at least one of them, in a known time zone
    index = scenario.period.index_utc()
    assert len(index) >= 1
    return scenario


@fuzz_settings()
@given(mutated(DEMO_TOML, 4, sep="="))
def test_damaged_scenario_file_is_read_or_refused_naming_the_field(raw: bytes) -> None:
    _check(raw)


@st.composite
def changed_scenario(draw: st.DrawFn) -> dict[str, Any]:
    doc = copy.deepcopy(DEMO)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(PATHS))
        parent: Any = doc
        try:
            for key in path[:-1]:
                parent = parent[key]
            how = draw(st.sampled_from(["set", "delete", "extra"]))
            if how == "set":
                parent[path[-1]] = draw(ODD_VALUES)
            elif how == "delete":
                del parent[path[-1]]
            elif isinstance(parent, dict):
                parent[draw(st.sampled_from(["gpus", "pv_kw", "steps", "zone", "x"]))] = 1
        except (KeyError, IndexError, TypeError):
            continue  # an earlier change removed or replaced this path
    return doc


@fuzz_settings(2.0)
@given(changed_scenario())
def test_scenario_with_wrong_values_is_read_or_refused_naming_the_field(doc: dict[str, Any]) -> None:
    _check(to_toml(doc).encode())


@st.composite
def scenario_at_the_limits(draw: st.DrawFn) -> dict[str, Any]:
    doc = copy.deepcopy(DEMO)
    step = draw(st.sampled_from(["5min", "15min", "30min", "1h", "1min", "1s", "7min", "2D"]))
    start = dt.datetime(2022, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=9))) + dt.timedelta(
        hours=draw(st.integers(0, 8000))
    )
    steps = draw(st.sampled_from([0, 1, 2, 3, 96, 10**6]))
    doc["period"] = {"start": start, "end": start + steps * dt.timedelta(minutes=15), "step": step}
    doc["period"]["timezone"] = draw(st.sampled_from(["Asia/Tokyo", "UTC", "Europe/Berlin", "Asia/Tokio", ""]))
    for site in doc["sites"]:
        site["it"]["gpu_count"] = draw(st.sampled_from([0, 1, 8, 100_000, 10**7, 10**12, 2**63]))
        site["grid_connection_mw"] = draw(st.sampled_from([1e-9, 6.0, 1e6, 0.0]))
    doc["sites"] = doc["sites"][: draw(st.integers(0, 3))]
    return doc


@fuzz_settings()
@given(scenario_at_the_limits())
def test_valid_toml_at_the_limits_is_read_or_refused_naming_the_field(doc: dict[str, Any]) -> None:
    scenario = _check(to_toml(doc).encode())
    if scenario is not None:
        assert all(0 < s.it.gpu_count <= 10**7 for s in scenario.sites)
        assert len(scenario.period.index_utc()) <= 2_000_000


def test_one_step_scenario_runs_and_an_empty_one_is_refused() -> None:
    """The smallest scenario that can run (one step) runs end to end; zero steps is refused naming the period."""
    from wattbit.control import make_policy
    from wattbit.scenario.model import TraceSource
    from wattbit.sim.run import inference_gpus_by_site, make_engine, prepare

    # corpus: before the fix a one-step period failed in the PV model and the inference profile, asking for
    # 'period_s' and 'index_utc', fields no scenario has
    scenario = load_scenario(FIXTURES / "fuzz" / "scenario.one-step.toml")
    assert len(scenario.period.index_utc()) == 1
    inputs = prepare(scenario)
    make_engine(inputs, make_policy("baseline")).run()
    assert inputs.fleet.inference_shape.startswith("weekly (auto")
    # a ServeGen trace shorter than a week (as its reasoning and multimodal categories publish) gives a daily shape
    short = FIXTURES / "workloads" / "language_m-large_client_rates_one_day.csv"
    traces = [t for t in scenario.workload.traces if t.reader != "servegen_client_rates"]
    traces.append(TraceSource(reader="servegen_client_rates", path=short))
    daily = scenario.model_copy(update={"workload": scenario.workload.model_copy(update={"traces": traces})})
    needed, _ = inference_gpus_by_site(daily, inputs.fleet)
    assert inputs.fleet.inference_shape.startswith("daily (auto: the ServeGen trace covers")
    assert needed.shape == (1, len(scenario.sites)) and (needed > 0).all()
    doc = copy.deepcopy(DEMO)
    start = dt.datetime(2022, 3, 1, tzinfo=dt.timezone(dt.timedelta(hours=9)))
    doc["period"] = {"start": start, "end": start, "step": "15min"}
    path = write_case(to_toml(doc).encode(), "scenario.toml")
    try:
        load_scenario(path)
    except WattbitInputError as err:
        assert "period" in str(err) and "not after start" in str(err)
    else:
        raise AssertionError("an empty period was accepted")
