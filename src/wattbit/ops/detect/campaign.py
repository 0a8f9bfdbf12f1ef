"""``wattbit ops evaluate``: tune on some seeds, score on others and on an untuned scenario, beside a threshold floor.

1. **Tune.** For each tuning seed, the scenario's first ``tune_days`` are simulated and replayed once through
   several copies of the detectors whose thresholds are scaled by a factor from ``factors``; the factor with the
   best predictive F1 whose false alarms stay within ``max_false_alarms`` per 1,000 GPU-days is kept, and each alert
   kind's precision and lead-time P90 on those runs become its probability and horizon (the calibration).
2. **Score.** Every held-out seed's whole period, and each extra scenario's (the 2021 scenario, tuned on nothing),
   replayed through the tuned detectors and through the threshold floor; scores per cause, per signature, per kind.

Files in ``out``: ``evaluation.json``, ``evaluation.html``, ``evaluation.md``, and per run ``labels-RUN.csv`` (the
ground truth) and ``alerts-RUN-DETECTOR.jsonl``.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from wattbit.ops.detect.alerts import Alert
from wattbit.ops.detect.detectors import DetectorParams, Detectors
from wattbit.ops.detect.evaluate import ThresholdDetector, calibration_of, replay, score, topology_of
from wattbit.ops.telemetry.build import TelemetrySetup, build_telemetry
from wattbit.scenario import Scenario, with_period

Log = Callable[[str], None]


@dataclass(frozen=True)
class Campaign:
    """What to run (see the module docstring)."""

    tune_seeds: tuple[int, ...] = (101, 102)
    test_seeds: tuple[int, ...] = (201, 202, 203)
    tune_days: int = 30
    factors: tuple[float, ...] = (1.0, 1.5, 2.0, 3.0, 4.0)
    max_false_alarms: float = 1.0
    nodes_per_site: int | None = None
    test_days: int | None = None
    params: DetectorParams = field(default_factory=DetectorParams)


def _simulate(
    scenario: Scenario, seed: int, nodes_per_site: int | None, days: int | None
) -> tuple[TelemetrySetup, Any]:
    from wattbit.control import make_policy
    from wattbit.sim.run import make_engine

    if days is not None:
        import pandas as pd

        start = pd.Timestamp(scenario.period.start)
        end = min(start + pd.Timedelta(days=days), pd.Timestamp(scenario.period.end))
        scenario = with_period(scenario, None, end.isoformat())
    setup = build_telemetry(scenario, seed=seed, nodes_per_site=nodes_per_site)
    engine = make_engine(setup.inputs, make_policy("baseline"))
    engine.run()
    return setup, engine.rec


def _write_run(out: Path, run: str, setup: TelemetrySetup, alerts: dict[str, list[Alert]]) -> None:
    setup.labels_frame().to_csv(out / f"labels-{run}.csv", index=False)
    for name, items in alerts.items():
        with open(out / f"alerts-{run}-{name}.jsonl", "w", encoding="utf-8") as fh:
            fh.writelines(a.to_json() + "\n" for a in items)


def tune(scenario: Scenario, c: Campaign, out: Path, log: Log) -> dict[str, Any]:
    """Choose the threshold factor on the tuning seeds; returns the tuning record (with ``factor``, ``calibration``)."""
    runs: dict[float, list[tuple[TelemetrySetup, list[Alert], float]]] = {f: [] for f in c.factors}
    for seed in c.tune_seeds:
        setup, rec = _simulate(scenario, seed, c.nodes_per_site, c.tune_days)
        topo = topology_of(setup.inventory)
        dets = {f"x{f:g}": Detectors(topo, c.params.scaled(f)) for f in c.factors}
        r = replay(setup, rec, dets)
        log(f"tuning seed {seed}: {setup.inventory.n_gpus} GPUs, {len(setup.plan)} faults, replay {r.wall_s:.0f} s")
        for f in c.factors:
            runs[f].append((setup, r.alerts[f"x{f:g}"], r.gpu_days))
        _write_run(
            out,
            f"tune-{seed}",
            setup,
            {"wattbit": r.alerts[f"x{c.factors[1] if len(c.factors) > 1 else c.factors[0]:g}"]},
        )
    grid = []
    for f in c.factors:
        sc = score(runs[f])
        o = sc.overall
        grid.append(
            {
                "factor": f,
                "f1_predictive": o["f1_predictive"],
                "precision": o["precision"],
                "recall_predicted_with_precursor": o["recall_predicted_with_precursor"],
                "false_alarms_per_1000_gpu_days": o["false_alarms_per_1000_gpu_days"],
                "_score": sc,
            }
        )
    ok = [g for g in grid if (g["false_alarms_per_1000_gpu_days"] or 0) <= c.max_false_alarms] or grid
    best = max(ok, key=lambda g: (g["f1_predictive"] or 0.0, g["factor"]))
    calibration = calibration_of(best["_score"])
    for g in grid:
        del g["_score"]
    log(f"tuned: threshold factor {best['factor']:g} (predictive F1 {best['f1_predictive']})")
    return {
        "seeds": list(c.tune_seeds),
        "days": c.tune_days,
        "grid": grid,
        "factor": best["factor"],
        "calibration": {k: {"probability": p, "horizon_h": h} for k, (p, h) in calibration.items()},
    }


def score_runs(
    scenario: Scenario,
    seeds: Sequence[int],
    c: Campaign,
    params: DetectorParams,
    out: Path,
    tag: str,
    log: Log,
    calibration: dict[str, tuple[float, float]] | None = None,
) -> dict[str, Any]:
    """Replay whole runs through the tuned detectors (with the tuning's calibration, as ``ops watch`` runs them) and
    the threshold floor; their scores."""
    runs: dict[str, list[tuple[TelemetrySetup, list[Alert], float]]] = {"wattbit": [], "threshold": []}
    facts = []
    for seed in seeds:
        setup, rec = _simulate(scenario, seed, c.nodes_per_site, c.test_days)
        topo = topology_of(setup.inventory)
        detectors = {"wattbit": Detectors(topo, params), "threshold": ThresholdDetector(topo)}
        r = replay(setup, rec, detectors, calibrations={"wattbit": calibration or {}})
        log(
            f"{tag} seed {seed}: {setup.inventory.n_gpus} GPUs x {setup.fleet.steps} steps, {len(setup.plan)} faults, "
            f"replay {r.wall_s:.0f} s ({r.samples / r.wall_s:,.0f} GPU-samples/s)"
        )
        facts.append(
            {
                "seed": seed,
                "gpus": setup.inventory.n_gpus,
                "steps": setup.fleet.steps,
                "faults": len(setup.plan),
                "replay_s": round(r.wall_s, 1),
            }
        )
        for name in runs:
            runs[name].append((setup, r.alerts[name], r.gpu_days))
        _write_run(out, f"{tag}-{seed}", setup, r.alerts)
    return {"runs": facts, **{name: score(v).to_dict() for name, v in runs.items()}}


def evaluate_campaign(
    scenario: Scenario, out: Path, c: Campaign, extra: Sequence[Scenario] = (), log: Log = print
) -> dict[str, Any]:
    """Tune, score, write ``evaluation.json`` and ``evaluation.html``; returns the JSON."""
    out.mkdir(parents=True, exist_ok=True)
    tuning = tune(scenario, c, out, log)
    from wattbit.ops.detect.alerts import MIN_FAILURE_PROBABILITY, PREDICTIVE

    params = c.params.scaled(tuning["factor"])
    calibration = {k: (v["probability"], v["horizon_h"]) for k, v in tuning["calibration"].items()}
    held = score_runs(scenario, c.test_seeds, c, params, out, "test", log, calibration)
    result: dict[str, Any] = {
        "scenario": scenario.name,
        "overall": held["wattbit"]["overall"],
        "by_cause": held["wattbit"]["by_cause"],
        "by_signature": held["wattbit"]["by_signature"],
        "by_kind": held["wattbit"]["by_kind"],
        "threshold_floor": held["threshold"],
        "runs": held["runs"],
        "tuning": tuning,
        "detector_params": asdict(params),
        "campaign": {k: v for k, v in asdict(c).items() if k != "params"},
        "predictive_kinds": sorted(PREDICTIVE),
        "min_failure_probability": MIN_FAILURE_PROBABILITY,
        "untuned": {},
    }
    for sc in extra:
        result["untuned"][sc.name] = score_runs(sc, c.test_seeds[:1], c, params, out, sc.name, log, calibration)
    (out / "evaluation.json").write_text(json.dumps(result, indent=2, default=_jsonable) + "\n", encoding="utf-8")
    (out / "evaluation.html").write_text(report_html(result), encoding="utf-8")
    (out / "evaluation.md").write_text(report_markdown(result), encoding="utf-8")
    return result


def _jsonable(v: Any) -> Any:
    try:
        return float(v)
    except (TypeError, ValueError):
        return str(v)


def _fmt(v: Any) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:,.3f}" if abs(v) < 100 else f"{v:,.0f}"
    return html.escape(str(v))


def _table(rows: dict[str, dict[str, Any]], cols: Sequence[str]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in ("", *cols))
    body = "".join(
        "<tr><td>" + html.escape(name) + "</td>" + "".join(f"<td>{_fmt(r.get(c))}</td>" for c in cols) + "</tr>"
        for name, r in rows.items()
    )
    return f"<table><tr>{head}</tr>{body}</table>"


_RECALL = ("faults", "detected", "predicted", "recall", "recall_predicted", "lead_time_median_min", "lead_time_p10_min")
_OVER = (
    "precision",
    "recall",
    "recall_predicted_with_precursor",
    "f1",
    "f1_predictive",
    "lead_time_median_min",
    "lead_time_p10_min",
    "false_alarms_per_1000_gpu_days",
    "alerts",
    "false_alerts",
    "gpu_days",
)


def report_html(r: dict[str, Any]) -> str:
    """The evaluation as a page of tables."""
    over = {"wattbit (held-out seeds)": r["overall"], "threshold floor (same runs)": r["threshold_floor"]["overall"]}
    for name, u in r["untuned"].items():
        over[f"wattbit on {name} (untuned)"] = u["wattbit"]["overall"]
        over[f"threshold floor on {name}"] = u["threshold"]["overall"]
    parts = [
        "<!doctype html><meta charset='utf-8'><title>wattbit ops evaluate</title>",
        "<style>body{font-family:sans-serif;max-width:1200px;margin:2em auto}table{border-collapse:collapse;"
        "margin:1em 0;font-size:13px}td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}"
        "td:first-child{text-align:left}</style>",
        f"<h1>Detection and failure prediction: {html.escape(r['scenario'])}</h1>",
        "<p>Detectors see only telemetry; thresholds tuned on seeds "
        f"{r['tuning']['seeds']} (first {r['tuning']['days']} days), scored on seeds "
        f"{[x['seed'] for x in r['runs']]}. Signature strengths and lead times are drawn per fault from ranges; "
        "every lead time is an assumption (docs/operations.md). Lead times in minutes.</p>",
        "<h2>Overall</h2>",
        _table(over, _OVER),
        "<h2>By cause (held-out seeds)</h2>",
        _table(r["by_cause"], _RECALL),
        "<h2>By signature</h2>",
        _table(r["by_signature"], _RECALL),
        "<h2>By alert kind (precision)</h2>",
        _table(r["by_kind"], ("alerts", "precision")),
        "<h2>Tuning</h2>",
        _table(
            {f"x{g['factor']:g}": g for g in r["tuning"]["grid"]},
            ("f1_predictive", "precision", "recall_predicted_with_precursor", "false_alarms_per_1000_gpu_days"),
        ),
    ]
    return "\n".join(parts) + "\n"


def _md(v: Any) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.3f}" if abs(v) < 10 else f"{v:,.0f}"
    return str(v)


def report_markdown(r: dict[str, Any]) -> str:
    """The evaluation as Markdown tables (for docs/operations.md)."""
    cols = _OVER[:-1]  # the page's columns less gpu_days
    rows = {"wattbit, held-out seeds": r["overall"], "threshold floor, same runs": r["threshold_floor"]["overall"]}
    for name, u in r["untuned"].items():
        rows[f"wattbit, {name}"] = u["wattbit"]["overall"]
        rows[f"threshold floor, {name}"] = u["threshold"]["overall"]
    out = ["| run | " + " | ".join(cols) + " |", "|---|" + "---:|" * len(cols)]
    out += [f"| {k} | " + " | ".join(_md(v.get(c)) for c in cols) + " |" for k, v in rows.items()]
    rc = _RECALL
    for title, table in (("cause", r["by_cause"]), ("signature", r["by_signature"])):
        out += ["", f"| {title} | " + " | ".join(rc) + " |", "|---|" + "---:|" * len(rc)]
        out += [f"| `{k}` | " + " | ".join(_md(v.get(c)) for c in rc) + " |" for k, v in table.items()]
    out += ["", "| alert kind | alerts | precision |", "|---|---:|---:|"]
    out += [f"| `{k}` | {v['alerts']} | {_md(v['precision'])} |" for k, v in r["by_kind"].items()]
    return "\n".join(out) + "\n"
