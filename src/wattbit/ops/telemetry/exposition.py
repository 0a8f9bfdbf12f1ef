"""The Prometheus text exposition of the twin, written byte for byte as dcgm-exporter writes it.

dcgm-exporter (NVIDIA/dcgm-exporter, ``internal/pkg/rendermetrics/render_metrics.go``, read at release
4.5.3-4.8.2) renders each field as::

    # HELP DCGM_FI_DEV_GPU_TEMP GPU temperature (in C).
    # TYPE DCGM_FI_DEV_GPU_TEMP gauge
    DCGM_FI_DEV_GPU_TEMP{gpu="0",UUID="GPU-…",pci_bus_id="00000000:18:00.0",device="nvidia0",modelName="NVIDIA …",
    Hostname="fukushima-n0001",DCGM_FI_DRIVER_VERSION="550.90.07"} 52        (one line)

with int64 fields printed with Go's ``%d`` and doubles with ``%f`` (six decimals); label fields (the driver
version) follow the fixed labels, then the attributes: ``err_code`` and ``err_msg`` on ``DCGM_FI_DEV_XID_ERRORS``.
``DCGM_EXP_XID_ERRORS_COUNT`` has one line per XID code seen within its window (``window_size_in_ms``, ``xid``
labels) and a single 0 line for a GPU without XIDs. The release of May 2026 renamed ``Hostname`` to ``hostname``;
both are offered (``hostname_label``). A GPU the exporter cannot read (fallen off the bus) is left out.

Speed: the label text of every GPU is built once; a scrape formats values through lookup tables and joins
preformatted byte strings, one metric at a time (``benchmarks/bench_ops.py`` measures 100,000 GPUs).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from numpy.typing import NDArray

from wattbit.ops.telemetry.inventory import Inventory
from wattbit.ops.telemetry.model import GpuFrame
from wattbit.ops.telemetry.names import DCGM_FIELDS, DOUBLE_FIELDS, FIELD_KEYS, XID_COUNT, XID_TEXT, MetricSpec

_INT_TABLE = 4096
_W_TABLE = 4096


def header(spec: MetricSpec) -> bytes:
    """The ``# HELP`` and ``# TYPE`` lines of a metric."""
    return f"# HELP {spec.name} {spec.help}\n# TYPE {spec.name} {spec.kind}\n".encode()


def format_double(value: float) -> str:
    """Go's ``%f``: six decimals, ``NaN``/``+Inf``/``-Inf`` spelt as Go spells them."""
    if np.isnan(value):
        return "NaN"
    if np.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return f"{value:f}"


class DcgmRenderer:
    """Renders :class:`~wattbit.ops.telemetry.model.GpuFrame` rows in dcgm-exporter's text format.

    Parameters
    ----------
    inventory
        The GPUs to render (their labels are built once here).
    hostname_label
        ``"Hostname"`` (dcgm-exporter up to 4.5.3-4.8.2) or ``"hostname"`` (later releases).
    driver_version
        Value of the ``DCGM_FI_DRIVER_VERSION`` label.
    xid_window_ms
        ``window_size_in_ms`` of ``DCGM_EXP_XID_ERRORS_COUNT`` (the twin counts the XIDs of the current step).
    """

    def __init__(
        self,
        inventory: Inventory,
        hostname_label: str = "Hostname",
        driver_version: str = "550.90.07",
        xid_window_ms: int = 900_000,
    ) -> None:
        if hostname_label not in ("Hostname", "hostname"):
            raise ValueError(f"hostname_label must be 'Hostname' or 'hostname', got {hostname_label!r}")
        inv = inventory
        models = [inv.model_name(s) for s in range(len(inv.site_names))]
        host = inv.hostnames[inv.node]
        self.labels: list[bytes] = [
            (
                f'{{gpu="{g}",UUID="{u}",pci_bus_id="{p}",device="nvidia{g}",modelName="{models[s]}",'
                f'{hostname_label}="{h}",DCGM_FI_DRIVER_VERSION="{driver_version}"'
            ).encode()
            for g, u, p, s, h in zip(
                inv.gpu_index.tolist(),
                inv.uuid.tolist(),
                inv.pci_bus_id.tolist(),
                inv.site.tolist(),
                host.tolist(),
                strict=True,
            )
        ]
        self.n = inv.n_gpus
        self._int = np.array([b"} %d\n" % i for i in range(_INT_TABLE)], dtype=object)
        self._watt = np.array([b"} %d." % i for i in range(_W_TABLE)], dtype=object)
        self._milli = np.array([b"%03d000\n" % i for i in range(1000)], dtype=object)
        self._xid = {c: f',err_code="{c}",err_msg="{t}"}} {c}\n'.encode() for c, t in XID_TEXT.items()}
        self._window = f',window_size_in_ms="{xid_window_ms}"'.encode()
        self._headers = {spec.name: header(spec) for spec in (*DCGM_FIELDS, XID_COUNT)}

    # ----------------------------------------------------------------------------------------------- values
    def _ints(self, values: NDArray[np.generic]) -> list[bytes]:
        v = np.asarray(values, dtype=np.int64)
        small = (v >= 0) & (v < _INT_TABLE)
        if small.all():
            return self._int[v].tolist()
        out = np.empty(v.shape[0], dtype=object)
        out[small] = self._int[v[small]]
        out[~small] = [b"} %d\n" % x for x in v[~small].tolist()]
        return out.tolist()

    def _doubles(self, values: NDArray[np.generic]) -> list[bytes]:
        """``} %f\\n`` of values in watts; exact for readings in whole milliwatts (NVML's resolution)."""
        v = np.asarray(values, dtype=np.float64)
        milli = np.round(v * 1000.0)
        ok = np.isfinite(v) & (milli >= 0) & (milli < _W_TABLE * 1000)
        m = np.where(ok, milli, 0).astype(np.int64)
        whole = self._watt[m // 1000]
        frac = self._milli[m % 1000]
        out = (whole + frac).astype(object)  # bytes + bytes, element-wise
        if not ok.all():
            out[~ok] = [f"}} {format_double(x)}\n".encode() for x in v[~ok].tolist()]
        return out.tolist()

    # ----------------------------------------------------------------------------------------------- render
    def iter_render(self, frame: GpuFrame, row: int = -1) -> Iterator[bytes]:
        """One scrape of step ``row`` of ``frame``, one metric at a time (write each chunk as it comes).

        Chunks of a few tens of MB at 100,000 GPUs: joining and sending them one by one reuses the same memory,
        where one ~400 MB body would be written to fresh pages (slow on small virtual machines).
        """
        present = frame.present[row]
        idx = np.flatnonzero(present)
        everyone = idx.shape[0] == self.n
        labels = self.labels if everyone else [self.labels[i] for i in idx.tolist()]
        for spec in DCGM_FIELDS:
            key = FIELD_KEYS[spec.name]
            arr = frame.counters[key][row] if key in frame.counters else getattr(frame, key)[row]
            if not everyone:
                arr = arr[idx]
            labs = labels
            finite = np.isfinite(arr)
            if not finite.all():  # a field the GPU does not report is left out, as dcgm-exporter skips blanks
                labs = [lab for lab, ok in zip(labels, finite.tolist(), strict=True) if ok]
                arr = arr[finite]
            if spec.name == "DCGM_FI_DEV_XID_ERRORS":
                vals = [self._xid.get(c) or self._unknown_xid(c) for c in np.asarray(arr, dtype=np.int64).tolist()]
            elif spec.name in DOUBLE_FIELDS:
                vals = self._doubles(arr)
            else:
                vals = self._ints(arr)
            yield self._headers[spec.name]
            yield b"".join(_interleave(spec.name.encode(), labs, vals))
        yield b"".join(self._xid_counts(frame, row, present))

    def render(self, frame: GpuFrame, row: int = -1) -> bytes:
        """One scrape of step ``row`` of ``frame``, as one bytes object."""
        return b"".join(self.iter_render(frame, row))

    def _unknown_xid(self, code: int) -> bytes:
        return f',err_code="{code}",err_msg="Unknown Error"}} {code}\n'.encode()

    def _xid_counts(self, frame: GpuFrame, row: int, present: NDArray[np.bool_]) -> list[bytes]:
        name = XID_COUNT.name.encode()
        step = row if row >= 0 else frame.steps + row
        sel = frame.xid_step == step
        counts: dict[int, dict[int, int]] = {}
        for g, c in zip(frame.xid_gpu[sel].tolist(), frame.xid_code[sel].tolist(), strict=True):
            counts.setdefault(g, {}).setdefault(c, 0)
            counts[g][c] += 1
        idx = np.flatnonzero(present)
        values = [self._window + b"} 0\n"] * idx.shape[0]
        where = {g: i for i, g in enumerate(idx.tolist()) if g in counts}
        for g, i in where.items():
            lines = [self._window + b',xid="%d"} %d\n' % (c, n) for c, n in sorted(counts[g].items())]
            values[i] = (name + self.labels[g]).join(lines)
        labels = self.labels if idx.shape[0] == self.n else [self.labels[i] for i in idx.tolist()]
        return [self._headers[XID_COUNT.name], *_interleave(name, labels, values)]


def _interleave(name: bytes, labels: list[bytes], values: list[bytes]) -> list[bytes]:
    """``[name, labels[0], values[0], name, labels[1], ...]``."""
    parts: list[bytes] = [name] * (3 * len(labels))
    parts[1::3] = labels
    parts[2::3] = values
    return parts


#: SiteSnapshot field of each per-site metric (``None``: rendered from elsewhere).
_SITE_FIELDS = {
    "wattbit_site_facility_power_watts": "facility_w",
    "wattbit_site_it_power_watts": "it_w",
    "wattbit_site_cooling_power_watts": "cooling_w",
    "wattbit_site_loss_power_watts": "loss_w",
    "wattbit_site_pue": "pue",
    "wattbit_site_facility_energy_joules_total": "facility_energy_j",
    "wattbit_site_coolant_supply_temperature_celsius": "supply_c",
    "wattbit_site_coolant_return_temperature_celsius": "return_c",
    "wattbit_site_coolant_flow_cubic_meters_per_second": "flow_m3_per_s",
    "wattbit_site_coolant_pumps_running": "pumps_running",
    "wattbit_site_heat_rejection_fan_speed_ratio": "fan_ratio",
    "wattbit_site_battery_state_of_charge_ratio": "soc_ratio",
    "wattbit_site_battery_power_watts": "battery_w",
    "wattbit_site_grid_import_watts": "grid_w",
    "wattbit_site_grid_import_energy_joules_total": "grid_energy_j",
    "wattbit_site_pv_power_watts": "pv_w",
    "wattbit_site_wind_power_watts": "wind_w",
    "wattbit_site_grid_carbon_intensity_grams_per_kilowatt_hour": "carbon_g_per_kwh",
    "wattbit_site_electricity_price_yen_per_megawatt_hour": "price_jpy_per_mwh",
    "wattbit_site_grid_curtailment_watts": "curtailment_w",
}
GPU_STATES = ("training", "inference", "idle", "out")


def prom_float(value: float) -> str:
    """A sample value as Prometheus' own clients write it (``repr``; ``NaN``, ``+Inf``, ``-Inf``)."""
    if np.isnan(value):
        return "NaN"
    if np.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


def render_sites(
    values: dict[str, NDArray[np.generic]], gpus: NDArray[np.int64], site_names: tuple[str, ...], areas: tuple[str, ...]
) -> bytes:
    """The per-site metrics (:data:`~wattbit.ops.telemetry.names.SITE_METRICS`) of one step.

    ``values`` maps the fields named in ``_SITE_FIELDS`` to arrays over sites; ``gpus`` is (sites, 4) GPUs by state.
    """
    from wattbit.ops.telemetry.names import SITE_METRICS

    lines: list[str] = []
    for spec in SITE_METRICS:
        lines.append(f"# HELP {spec.name} {spec.help}\n# TYPE {spec.name} {spec.kind}")
        for i, (site, area) in enumerate(zip(site_names, areas, strict=True)):
            base = f'site="{site}",area="{area}"'
            if spec.name == "wattbit_site_gpus":
                lines.extend(f'{spec.name}{{{base},state="{st}"}} {int(gpus[i, j])}' for j, st in enumerate(GPU_STATES))
            else:
                lines.append(f"{spec.name}{{{base}}} {prom_float(float(values[_SITE_FIELDS[spec.name]][i]))}")
    return ("\n".join(lines) + "\n").encode()
