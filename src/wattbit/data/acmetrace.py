"""AcmeTrace measured GPU power distributions (Hu et al., NSDI 2024; InternLM/AcmeTrace, CC BY 4.0).

The repository publishes, for its two LLM development clusters (Seren: mixed development; Kalos: pre-training;
NVIDIA A100-SXM, 400 W), the CDF of per-GPU power samples at 1,000 percentiles (``gpu_power_<cluster>.csv``:
``value`` [W], ``cdf_percent`` [%]). They are distributions, not time series. :func:`read_acmetrace_power_cdf`
returns one as ``power_w`` and ``cdf`` (0-1); the built-in demo extract ships both files unmodified (gzip), and
:func:`builtin_acmetrace_power_cdfs` reads them.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from wattbit.data._base import SourceMeta, check_plausible, read_csv_text, read_text, require_columns, to_float
from wattbit.errors import DataFormatError

#: The clusters of the AcmeTrace power CDFs and what runs on them (Hu et al. 2024).
CLUSTERS = {"kalos": "Kalos (pre-training)", "seren": "Seren (mixed development: fine-tuning, evaluation)"}
#: GPU of both clusters.
GPU_MODEL = "A100-SXM"
CITATION = (
    "Hu et al., 'Characterization of Large Language Model Development in the Datacenter', NSDI 2024; "
    "github.com/InternLM/AcmeTrace (CC BY 4.0)"
)


def read_acmetrace_power_cdf(path: str | Path) -> tuple[pd.DataFrame, SourceMeta]:
    """Read one AcmeTrace GPU power CDF (``gpu_power_kalos.csv`` or ``gpu_power_seren.csv``, gzip allowed).

    Returns
    -------
    frame : pandas.DataFrame
        ``power_w`` [W] and ``cdf`` [0-1], non-decreasing in both.
    meta : SourceMeta
        ``attrs["cluster"]`` and ``attrs["gpu_model"]``.

    Raises
    ------
    DataFormatError
        If a column is missing, a value is not a number, or the CDF is not non-decreasing within 0-100 %.
    """
    p = Path(path)
    text, _ = read_text(p, ("utf-8",))
    table = read_csv_text(text, p, dtype=str)
    require_columns(table.columns, ["value", "cdf_percent"], p, "AcmeTrace GPU power CDF")
    line_of = np.arange(len(table)) + 2
    power = to_float(table["value"], path=p, column="value", line_of=line_of)
    cdf = to_float(table["cdf_percent"], path=p, column="cdf_percent", line_of=line_of) / 100.0
    if np.any(np.isnan(power) | np.isnan(cdf)) or np.any(np.diff(cdf) < 0) or np.any(np.diff(power) < 0):
        raise DataFormatError("expected a CDF: values and percentiles non-decreasing, no blanks", path=p)
    if cdf.min() < 0 or cdf.max() > 1 + 1e-9:
        raise DataFormatError(
            "cdf_percent outside 0-100 (expected percentages from 0 to 100)", path=p, field="cdf_percent"
        )
    cluster = next((c for c in CLUSTERS if c in p.name.lower()), "unknown")
    meta = SourceMeta(
        reader="acmetrace_power_cdf",
        paths=[str(p)],
        description=f"AcmeTrace GPU power CDF, {CLUSTERS.get(cluster, cluster)}, {GPU_MODEL}",
        resolution=None,
        source_time_convention="none (a distribution)",
        units={"power_w": "W", "cdf": "share of GPU samples at or below"},
        attrs={"cluster": cluster, "gpu_model": GPU_MODEL, "citation": CITATION},
    )
    frame = pd.DataFrame({"power_w": power, "cdf": cdf})
    check_plausible(frame, path=p, line_of=line_of, source_columns={"power_w": "value", "cdf": "cdf_percent"})
    return frame, meta


def builtin_acmetrace_power_cdfs(name: str = "japan-2022") -> dict[str, pd.DataFrame]:
    """Both AcmeTrace power CDFs as shipped in a built-in demo extract, by cluster."""
    folder = Path(str(resources.files("wattbit").joinpath(f"demo/{name}/workload")))
    return {c: read_acmetrace_power_cdf(folder / f"acmetrace_gpu_power_{c}.csv.gz")[0] for c in CLUSTERS}
