"""Readers for public AI workload traces: GPU pods, LLM inference requests and per-client request rates.

Every reader returns ``(frame, meta)`` like the other readers of :mod:`wattbit.data`. Event traces (pods, requests)
keep a plain ``RangeIndex`` in file order and carry their times in ``*_utc`` columns; ``meta.start_utc`` and
``meta.end_utc`` are the first and last event. Nothing is filled or dropped: rows that cannot be used are kept and
flagged, and ``meta.notes`` says how many there are.

Several traces count seconds from a trace start that their publishers never disclosed. Their readers take a
``trace_start_utc`` anchor (default :data:`DEFAULT_TRACE_START`) and return both the raw offset in seconds and the
UTC time computed from the anchor; the anchor is an assumption and ``meta.notes`` says so.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from wattbit.data._base import (
    SourceMeta,
    check_time_order,
    find_gaps,
)
from wattbit.data.trace_cells import (
    anchor_note,
    fail_where,
    finish_events,
    number_column,
    parse_anchor,
    read_cells,
    text_column,
    times_at,
    whole_ints,
)
from wattbit.errors import DataFormatError

DEFAULT_TRACE_START = "2022-01-01T00:00:00+08:00"
"""Default anchor of offset-based traces: midnight China Standard Time on 1 January 2022 (2021-12-31 16:00 UTC).

The real start dates are unpublished. Midnight local time in China keeps ServeGen's time of day right (its authors
treat ``time_s = 72000`` as 20:00); the year puts the traces beside the 2022 Japanese grid and weather data.
"""

POD_COLUMNS = ["name", "cpu_milli", "memory_mib", "num_gpu", "gpu_milli", "gpu_spec", "qos", "pod_phase"]
POD_COLUMNS += ["creation_time", "deletion_time", "scheduled_time"]
NODE_COLUMNS = ["sn", "cpu_milli", "memory_mib", "gpu", "model"]
AZURE_COLUMNS = ["TIMESTAMP", "ContextTokens", "GeneratedTokens"]
SERVEGEN_COLUMNS = ["client_chunk", "time_s", "rate_rps", "cv", "iat_dist", "param1", "param2"]
SERVEGEN_WINDOW = pd.Timedelta(seconds=600)
POD_UNITS = {"cpu_milli": "milli-CPU", "memory_mib": "MiB", "num_gpu": "GPUs", "gpu_milli": "milli-GPU per GPU"}
POD_UNITS |= {"gpu_fraction": "GPUs", "wait_s": "s", "duration_s": "s", "gpu_hours": "GPU h"}
POD_UNITS |= {
    f"{k}_time_{u}": v for u, v in (("s", "s"), ("utc", "UTC")) for k in ("creation", "scheduled", "deletion")
}


# --- Alibaba GPU cluster trace v2023 (openb) -----------------------------------------------------------------------


def read_alibaba_gpu_pods(
    path: str | Path, trace_start_utc: str | pd.Timestamp = DEFAULT_TRACE_START
) -> tuple[pd.DataFrame, SourceMeta]:
    """Read the pod list of the Alibaba PAI GPU-sharing cluster trace v2023 (``openb_pod_list_*.csv``).

    Parameters
    ----------
    path
        The CSV (``name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,
        deletion_time,scheduled_time``), times in seconds from the unpublished trace start.
    trace_start_utc
        Anchor for the offsets (naive times are UTC). The default, :data:`DEFAULT_TRACE_START`, is an assumption.

    Returns
    -------
    frame
        One row per pod, in file order: ``name``, ``cpu_milli``, ``memory_mib``, ``num_gpu``, ``gpu_milli``,
        ``gpu_fraction``, ``gpu_spec``, ``qos``, ``pod_phase``, ``status``, ``creation_time_s``,
        ``scheduled_time_s``, ``deletion_time_s``, ``creation_time_utc``, ``scheduled_time_utc``,
        ``deletion_time_utc``, ``wait_s``, ``duration_s``, ``gpu_hours``.
    meta
        Source metadata; ``attrs`` holds pod counts per status, the trace end and the GPU-hours.

    Notes
    -----
    * ``gpu_fraction = num_gpu * gpu_milli / 1000`` GPUs. ``gpu_milli`` is the share of *each* requested GPU
      (1000 = a whole GPU): the trace's README and the FGD paper (Weng et al., ATC'23) describe a pod as asking
      either for a fraction of one GPU (``num_gpu == 1``, ``gpu_milli < 1000``, GPU sharing) or for whole GPUs
      (``num_gpu >= 1``, ``gpu_milli == 1000``). Rows that mix the two are counted in the notes.
    * ``wait_s = scheduled - creation``; ``duration_s = deletion - scheduled`` (time holding its GPUs);
      ``gpu_hours = gpu_fraction * duration_s / 3600``. Failed pods held GPUs too and are counted.
    * ``status``: ``completed``; ``running_at_trace_end`` (``pod_phase`` Running and deleted at the latest
      deletion time of the file, which is where the trace was cut: duration is a lower bound);
      ``never_scheduled`` (no ``scheduled_time``: duration NaN, ``gpu_hours`` 0); ``bad_times`` (deletion before
      scheduling or creation, or scheduling before creation) and ``missing_time`` (no creation or deletion time):
      kept with ``wait_s``, ``duration_s`` and ``gpu_hours`` NaN.
    * An empty ``gpu_spec`` means "any GPU type" and is kept as an empty string, not counted as missing.
    """
    path = Path(path)
    raw, line_of = read_cells(path, POD_COLUMNS, "pod list (Alibaba GPU trace v2023)")
    anchor = parse_anchor(trace_start_utc)
    num = {c: number_column(raw, c, path, line_of, whole=True, nonneg=True) for c in POD_COLUMNS[1:5]}
    fail_where(path, line_of, num["gpu_milli"] > 1000, "gpu_milli", raw["gpu_milli"], "0..1000 milli-GPU per GPU")
    t = {k: number_column(raw, f"{k}_time", path, line_of) for k in ("creation", "scheduled", "deletion")}
    c, s, d = t["creation"], t["scheduled"], t["deletion"]

    out = pd.DataFrame({"name": text_column(raw["name"])})
    for col, v in num.items():
        out[col] = whole_ints(v)
    gpu_fraction = num["num_gpu"] * num["gpu_milli"] / 1000.0
    out["gpu_fraction"] = gpu_fraction
    out["gpu_spec"] = raw["gpu_spec"].astype("string").str.strip()
    out["qos"] = text_column(raw["qos"])
    out["pod_phase"] = text_column(raw["pod_phase"])

    trace_end = float(np.nanmax(d)) if np.isfinite(d).any() else np.nan
    with np.errstate(invalid="ignore"):
        missing = np.isnan(c) | np.isnan(d)
        bad = (d < c) | (s < c) | (d < s)
        unscheduled = np.isnan(s)
        censored = (d == trace_end) & (out["pod_phase"] == "Running").fillna(False).to_numpy(dtype=bool)
    status = np.select(
        [missing, bad, unscheduled, censored],
        ["missing_time", "bad_times", "never_scheduled", "running_at_trace_end"],
        default="completed",
    )
    usable = (status == "completed") | (status == "running_at_trace_end")
    out["status"] = pd.Series(status, dtype="string")
    for k, v in t.items():
        out[f"{k}_time_s"] = v
    for k, v in t.items():
        out[f"{k}_time_utc"] = times_at(anchor, v)
    out["wait_s"] = np.where(usable, s - c, np.nan)
    out["duration_s"] = np.where(usable, d - s, np.nan)
    out["gpu_hours"] = np.where(
        usable, gpu_fraction * (d - s) / 3600.0, np.where(status == "never_scheduled", 0, np.nan)
    )

    counts = {k: int(v) for k, v in out["status"].value_counts().items()}
    phases = {str(k): int(v) for k, v in out["pod_phase"].value_counts(dropna=False).items()}
    mixed = int(((num["num_gpu"] > 1) & (num["gpu_milli"] != 1000)).sum())
    gpu_less = int(((num["num_gpu"] == 0) & (num["gpu_milli"] > 0)).sum())
    running_done = int(
        ((out["pod_phase"] == "Running").fillna(False).to_numpy(dtype=bool) & (status == "completed")).sum()
    )
    gpu_hours = out["gpu_hours"].to_numpy()
    dup_names = int(out["name"].dropna().duplicated().sum())
    meta = SourceMeta(
        reader="alibaba_gpu_pods",
        paths=[str(path)],
        description="Alibaba PAI GPU-sharing cluster trace v2023 (openb): one row per pod (task)",
        resolution=None,
        source_time_convention="seconds from an unpublished trace start",
        units=POD_UNITS,
        conversions=[
            "*_time_utc = trace_start_utc + *_time_s",
            "gpu_fraction = num_gpu * gpu_milli / 1000 (GPU-equivalents requested)",
            "duration_s = deletion_time_s - scheduled_time_s; gpu_hours = gpu_fraction * duration_s / 3600",
        ],
        notes=[
            anchor_note(anchor, "the pod list"),
            f"pods per status: {counts}; per pod_phase: {phases}; repeated names: {dup_names}",
            f"trace end taken as the latest deletion time, {trace_end:.0f} s; {counts.get('running_at_trace_end', 0)} "
            "Running pods end there: their durations and GPU-hours are cut at the trace end",
            f"{running_done} pods have pod_phase Running but were deleted before the trace end (pod_phase is the "
            "last phase recorded, not a completion flag)",
            f"{counts.get('never_scheduled', 0)} pods were never scheduled: kept, duration_s NaN, gpu_hours 0",
            f"{counts.get('bad_times', 0)} pods with impossible times and {counts.get('missing_time', 0)} with "
            "missing creation/deletion time: kept, wait_s/duration_s/gpu_hours NaN",
            f"{int((out['gpu_spec'] == '').sum())} of {len(out)} pods have an empty gpu_spec (no GPU-type constraint)",
            f"{mixed} pods ask for several GPUs with gpu_milli != 1000 and {gpu_less} for gpu_milli > 0 with "
            "num_gpu 0 (the format does not foresee either; gpu_fraction is still num_gpu * gpu_milli / 1000)",
        ],
        attrs={
            "pods": len(out),
            "pods_by_status": counts,
            "trace_start_utc": anchor.isoformat(),
            "trace_end_s": trace_end,
            "total_gpu_hours": float(np.nansum(gpu_hours)),
        },
    )
    return finish_events(out, meta, ["creation_time_utc", "scheduled_time_utc", "deletion_time_utc"])


def read_alibaba_gpu_nodes(path: str | Path) -> tuple[pd.DataFrame, SourceMeta]:
    """Read the node list of the Alibaba GPU trace v2023 (``openb_node_list_*.csv``).

    Parameters
    ----------
    path
        The CSV (``sn,cpu_milli,memory_mib,gpu,model``).

    Returns
    -------
    frame
        One row per node: ``node``, ``cpu_milli``, ``memory_mib``, ``num_gpu``, ``gpu_model``. CPU-only nodes
        have an empty ``gpu_model``; a GPU node without a model is missing (<NA>).
    meta
        ``attrs`` holds the node count, total GPUs and GPUs per model (G1..G3 are undisclosed internal models).
    """
    path = Path(path)
    raw, line_of = read_cells(path, NODE_COLUMNS, "node list (Alibaba GPU trace v2023)")
    num = {c: number_column(raw, c, path, line_of, whole=True, nonneg=True) for c in ("cpu_milli", "memory_mib", "gpu")}
    model = raw["model"].astype("string").str.strip()
    out = pd.DataFrame({"node": text_column(raw["sn"])})
    for col, key in (("cpu_milli", "cpu_milli"), ("memory_mib", "memory_mib"), ("num_gpu", "gpu")):
        out[col] = whole_ints(num[key])
    out["gpu_model"] = model.mask((model == "") & (num["gpu"] > 0))
    per_model = out[out["num_gpu"] > 0].groupby("gpu_model", dropna=False)["num_gpu"].sum()
    meta = SourceMeta(
        reader="alibaba_gpu_nodes",
        paths=[str(path)],
        description="Alibaba PAI GPU cluster trace v2023 (openb): one row per node",
        resolution=None,
        source_time_convention="none (no times)",
        units={"cpu_milli": "milli-CPU", "memory_mib": "MiB", "num_gpu": "GPUs"},
        notes=[f"{int((num['gpu'] == 0).sum())} CPU-only nodes (empty gpu_model)"],
        attrs={
            "nodes": len(out),
            "total_gpus": int(np.nansum(num["gpu"])),
            "gpus_by_model": {str(k): int(v) for k, v in per_model.items()},
        },
    )
    meta.rows = len(out)
    meta.missing_values = {str(col): int(out[col].isna().sum()) for col in out.columns}
    return out, meta


# --- Azure LLM inference trace 2023 --------------------------------------------------------------------------------


def read_azure_llm_2023(path: str | Path) -> tuple[pd.DataFrame, SourceMeta]:
    """Read an Azure LLM inference trace 2023 (``AzureLLMInferenceTrace_{code,conv}.csv``, Patel et al., Splitwise).

    Parameters
    ----------
    path
        The CSV (``TIMESTAMP,ContextTokens,GeneratedTokens``), one row per request in arrival order.

    Returns
    -------
    frame
        One row per request: ``arrival_time_utc``, ``context_tokens`` (prompt), ``generated_tokens`` (output).
    meta
        ``attrs``: ``service`` (``"code"``/``"conversation"`` from the file name, else None), ``requests``,
        ``span_s`` (last minus first arrival) and ``mean_rate_rps`` (requests / span_s).

    Notes
    -----
    The timestamps carry no time zone and the dataset does not state one; they are read as UTC (an assumption).
    Arrivals must not go backwards (equal times are allowed); token counts must be whole numbers >= 0.
    """
    path = Path(path)
    raw, line_of = read_cells(path, AZURE_COLUMNS, "request trace (Azure LLM inference 2023)")
    stamp = raw["TIMESTAMP"].astype("string").str.strip()
    arrival = pd.to_datetime(stamp, format="ISO8601", errors="coerce", utc=True)
    fail_where(
        path, line_of, arrival.isna().to_numpy(), "TIMESTAMP", stamp, "a date and time like 2023-11-16 18:17:03.97"
    )
    check_time_order(pd.DatetimeIndex(arrival), path=path, line_of=line_of)
    tokens = {c: number_column(raw, c, path, line_of, whole=True, nonneg=True) for c in AZURE_COLUMNS[1:]}
    out = pd.DataFrame({"arrival_time_utc": arrival})
    out["context_tokens"] = whole_ints(tokens["ContextTokens"])
    out["generated_tokens"] = whole_ints(tokens["GeneratedTokens"])

    stem = path.name.lower()
    service = "code" if "_code" in stem else "conversation" if "_conv" in stem else None
    span_s = float((arrival.iloc[-1] - arrival.iloc[0]).total_seconds())
    meta = SourceMeta(
        reader="azure_llm_2023",
        paths=[str(path)],
        description=f"Azure LLM inference trace 2023, {service or 'unknown'} service: one row per request",
        resolution=None,
        source_time_convention="arrival date-time without time zone (read as UTC)",
        units={"arrival_time_utc": "UTC", "context_tokens": "tokens", "generated_tokens": "tokens"},
        conversions=["TIMESTAMP (no zone) localised to UTC; sub-microsecond digits kept to the nanosecond"],
        notes=["ASSUMPTION: the trace states no time zone; TIMESTAMP is read as UTC"],
        attrs={
            "service": service,
            "requests": len(out),
            "span_s": span_s,
            "mean_rate_rps": len(out) / span_s if span_s > 0 else float("nan"),
        },
    )
    return finish_events(out, meta, ["arrival_time_utc"])


# --- ServeGen per-client rates -------------------------------------------------------------------------------------


def read_servegen_client_rates(
    path: str | Path, trace_start_utc: str | pd.Timestamp = DEFAULT_TRACE_START
) -> tuple[pd.DataFrame, SourceMeta]:
    """Read ServeGen per-client request rates (``<category>_<model>_client_rates.csv[.gz]``, Alibaba Model Studio).

    Parameters
    ----------
    path
        CSV, optionally gzip-compressed: ``client_chunk,time_s,rate_rps,cv,iat_dist,param1,param2``, one row per
        client and 600-s window; ``time_s`` is the window start in seconds from the unpublished trace start.
    trace_start_utc
        Anchor for ``time_s`` (naive times are UTC). The default, :data:`DEFAULT_TRACE_START`, is an assumption.

    Returns
    -------
    frame
        One row per (client, window), in file order: ``client``, ``time_s``, ``time_utc`` (window start),
        ``rate_rps`` (mean requests/s), ``cv`` (inter-arrival coefficient of variation), ``iat_dist`` (fitted
        inter-arrival family, <NA> when the client was idle), ``param1``, ``param2`` (that family's parameters as
        ServeGen stores them).
    meta
        ``resolution`` 600 s; ``gaps`` are windows missing from the union of all clients; ``attrs`` holds the
        model, client and window counts, and the mean and peak of the total rate (:func:`servegen_total_rate`).

    Notes
    -----
    Within a client, ``time_s`` must strictly increase; ``rate_rps`` and ``cv`` must be >= 0.
    """
    path = Path(path)
    raw, line_of = read_cells(path, SERVEGEN_COLUMNS, "client-rate trace (ServeGen)")
    anchor = parse_anchor(trace_start_utc)
    client = number_column(raw, "client_chunk", path, line_of, whole=True, required="a client number")
    time_s = number_column(raw, "time_s", path, line_of, whole=True, required="seconds from the trace start")
    order = np.argsort(client, kind="stable")
    same = client[order][1:] == client[order][:-1]
    back = np.flatnonzero(same & (time_s[order][1:] <= time_s[order][:-1]))
    if back.size:
        i, j = int(order[back[0] + 1]), int(order[back[0]])
        raise DataFormatError(
            f"time_s {time_s[i]:.0f} of client {client[i]:.0f} does not come after {time_s[j]:.0f} on line "
            f"{line_of[j]} (expected each client's windows in strictly increasing time order)",
            path=path,
            row=int(line_of[i]),
            field="time_s",
        )
    out = pd.DataFrame({"client": client.astype(np.int64), "time_s": time_s.astype(np.int64)})
    out["time_utc"] = times_at(anchor, time_s)
    out["rate_rps"] = number_column(raw, "rate_rps", path, line_of, nonneg=True)
    out["cv"] = number_column(raw, "cv", path, line_of, nonneg=True)
    out["iat_dist"] = text_column(raw["iat_dist"])
    out["param1"] = number_column(raw, "param1", path, line_of)
    out["param2"] = number_column(raw, "param2", path, line_of)

    windows = pd.DatetimeIndex(out["time_utc"].drop_duplicates().sort_values())
    per_client = out.groupby("client").size()
    idle = out["iat_dist"].isna().to_numpy()
    busy = (out["rate_rps"] > 0).to_numpy()
    total = servegen_total_rate(out)
    match = re.search(r"([a-z]+)_(.+?)_client_rates", path.name)
    meta = SourceMeta(
        reader="servegen_client_rates",
        paths=[str(path)],
        description="ServeGen per-client LLM request rate, 600-s windows",
        resolution=SERVEGEN_WINDOW,
        source_time_convention="window start, seconds from an unpublished trace start",
        units={"time_s": "s", "time_utc": "UTC", "rate_rps": "requests/s", "cv": "1", "param1": "-", "param2": "-"},
        conversions=["time_utc = trace_start_utc + time_s"],
        notes=[
            anchor_note(anchor, "ServeGen") + " ServeGen's own examples read time_s modulo 86400 as local time "
            "of day (72000 s = 20:00), so DEFAULT_TRACE_START is a UTC+8 midnight.",
            f"iat_dist is empty on {int(idle.sum())} windows ({int((idle & ~busy).sum())} with rate_rps 0: idle; "
            f"{int((idle & busy).sum())} with traffic but no fitted distribution)",
            f"{int((per_client < len(windows)).sum())} clients lack some of the {len(windows)} windows",
            f"{int((out['time_s'] % 600 != 0).sum())} rows have a time_s that is not a multiple of 600 s",
        ],
        attrs={
            "category": match.group(1) if match else None,
            "model": match.group(2) if match else None,
            "clients": int(per_client.size),
            "windows": len(windows),
            "trace_start_utc": anchor.isoformat(),
            "mean_total_rate_rps": float(total.mean()),
            "peak_total_rate_rps": float(total.max()),
        },
    )
    meta.gaps = find_gaps(windows, SERVEGEN_WINDOW)
    return finish_events(out, meta, ["time_utc"])


def servegen_total_rate(frame: pd.DataFrame) -> pd.Series:
    """Sum ``rate_rps`` over clients per window: the model's total load curve.

    Parameters
    ----------
    frame
        A frame from :func:`read_servegen_client_rates` (needs ``time_utc`` and ``rate_rps``).

    Returns
    -------
    pandas.Series
        ``rate_rps`` (requests/s) indexed by ``time_utc`` (window start), sorted. A window where any client's rate
        is missing is NaN rather than a partial sum.
    """
    missing = [c for c in ("time_utc", "rate_rps") if c not in frame.columns]
    if missing:
        raise ValueError(f"frame lacks column(s) {missing} (expected a frame from read_servegen_client_rates)")
    keys = frame["time_utc"]
    total = frame["rate_rps"].groupby(keys, sort=True).sum()
    gaps = frame["rate_rps"].isna().groupby(keys, sort=True).any()
    total = total.mask(gaps)
    total.index = pd.DatetimeIndex(total.index, name="time_utc")
    return total.rename("rate_rps")


# --- file recognition ----------------------------------------------------------------------------------------------


def _header(head: str) -> set[str]:
    """Column names of the first non-empty line of ``head``."""
    for line in head.removeprefix("\ufeff").splitlines():
        if line.strip():
            return {cell.strip().strip('"') for cell in line.split(",")}
    return set()


def _has(columns: list[str]) -> Callable[[str], bool]:
    return lambda head: set(columns) <= _header(head)


SNIFFERS: dict[str, Callable[[str], bool]] = {
    "alibaba_gpu_pods": _has(POD_COLUMNS),
    "alibaba_gpu_nodes": _has(NODE_COLUMNS),
    "azure_llm_2023": _has(AZURE_COLUMNS),
    "servegen_client_rates": _has(SERVEGEN_COLUMNS),
}
"""Reader name -> does the start of this decoded file (gz already decompressed) look like that reader's input?"""

READERS: dict[str, Callable[..., tuple[pd.DataFrame, SourceMeta]]] = {
    "alibaba_gpu_pods": read_alibaba_gpu_pods,
    "alibaba_gpu_nodes": read_alibaba_gpu_nodes,
    "azure_llm_2023": read_azure_llm_2023,
    "servegen_client_rates": read_servegen_client_rates,
}
"""Reader name -> reader function, callable with just a path."""
