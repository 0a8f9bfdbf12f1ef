"""A real GPU, read-only: NVML (``pynvml`` from the ``nvidia-ml-py`` package) rendered under the DCGM names.

:class:`NvmlSource` reads each GPU's power, energy, temperatures, utilisation, SM clock, power limit, clock-event
reasons, ECC counters, remapped rows, PCIe replays and NVLink CRC errors, and returns them as a one-step
:class:`~wattbit.ops.telemetry.model.GpuFrame`, which :class:`~wattbit.ops.telemetry.exposition.DcgmRenderer`
renders exactly as it renders the twin. A value the GPU does not support is left out of the output, as
dcgm-exporter leaves out blank fields. XIDs need an NVML event set and are not read (the XID series report 0).

It never changes a GPU: every NVML call goes through :func:`_call`, which refuses any function whose name is not a
query (``nvmlInit``, ``nvmlShutdown``, ``nvmlSystemGet*``, ``nvmlDeviceGet*``); ``tests/ops/test_nvml.py`` checks
that this module names no other NVML function.
"""

from __future__ import annotations

import math
import socket
from collections.abc import Callable
from typing import Any

import numpy as np

from wattbit.ops.telemetry.inventory import Inventory
from wattbit.ops.telemetry.model import GpuFrame
from wattbit.ops.telemetry.names import COUNTER_KEYS

#: NVML functions a read-only source may call (prefixes).
ALLOWED = ("nvmlInit", "nvmlShutdown", "nvmlSystemGet", "nvmlDeviceGet")


class NvmlUnavailable(RuntimeError):
    """NVML (the driver's library) or pynvml is not available on this machine."""


def _nvml() -> Any:
    try:
        import pynvml
    except ImportError as exc:  # pragma: no cover - the nvml extra is part of the dev extra
        raise NvmlUnavailable("pynvml is not installed: pip install 'wattbit[nvml]' (nvidia-ml-py)") from exc
    return pynvml


def _call(name: str, *args: Any) -> Any:
    """Call NVML function ``name`` if it is a query; raise ``PermissionError`` for anything else."""
    if not name.startswith(ALLOWED):
        raise PermissionError(f"{name} is not a read-only NVML query; wattbit never changes a GPU setting")
    return getattr(_nvml(), name)(*args)


def _maybe(fn: Callable[[], Any]) -> float:
    """A reading, or NaN where the GPU does not support it."""
    nv = _nvml()
    try:
        return float(fn())
    except nv.NVMLError:
        return math.nan


class NvmlSource:
    """The GPUs of this machine, read through NVML (read-only).

    Raises
    ------
    NvmlUnavailable
        When pynvml or the NVIDIA driver's library is missing, or NVML fails to start.
    """

    def __init__(self, hostname: str | None = None) -> None:
        nv = _nvml()
        try:
            _call("nvmlInit")
        except nv.NVMLError as exc:
            raise NvmlUnavailable(f"NVML could not start ({exc}): no NVIDIA driver or GPU on this machine?") from exc
        self.handles = [_call("nvmlDeviceGetHandleByIndex", i) for i in range(int(_call("nvmlDeviceGetCount")))]
        self.hostname = hostname or socket.gethostname()
        self.names = [_text(_call("nvmlDeviceGetName", h)) for h in self.handles]
        self.uuids = [_text(_call("nvmlDeviceGetUUID", h)) for h in self.handles]
        self.buses = [_text(_call("nvmlDeviceGetPciInfo", h).busId) for h in self.handles]
        self.driver = _text(_call("nvmlSystemGetDriverVersion"))

    def close(self) -> None:
        """Shut NVML down."""
        _call("nvmlShutdown")

    def inventory(self) -> Inventory:
        """This machine's GPUs as an inventory (one site, ``local``; one node, this host)."""
        from wattbit.ops.telemetry.inventory import Inventory

        n = len(self.handles)
        return Inventory(
            site_names=("local",),
            models=(_LocalModel(self.names[0] if n else "unknown"),),  # type: ignore[arg-type]
            liquid=np.array([False]),
            site_offsets=np.array([0]),
            site_gpus=np.array([n]),
            site=np.zeros(n, dtype=np.int16),
            node=np.zeros(n, dtype=np.int64),
            gpu_index=np.arange(n, dtype=np.int64),
            node_site=np.zeros(1, dtype=np.int16),
            hostnames=np.array([self.hostname]),
            uuid=np.array(self.uuids),
            pci_bus_id=np.array(self.buses),
        )

    def read(self, t_s: float = 0.0) -> GpuFrame:
        """One reading of every GPU (arrays of shape (1, GPUs); NaN where a value is not supported)."""
        rows: dict[str, list[float]] = {k: [] for k in _KEYS}
        for h in self.handles:
            r = _reading(h)
            for k in _KEYS:
                rows[k].append(r[k])
        arr = {k: np.array([v]) for k, v in rows.items()}
        n = len(self.handles)
        return GpuFrame(
            t0_s=t_s,
            step_s=1.0,
            present=np.ones((1, n), dtype=bool),
            state=np.zeros((1, n), dtype=np.int8),
            power_w=arr["power_w"],
            power_limit_w=arr["power_limit_w"],
            gpu_temp_c=arr["gpu_temp_c"],
            mem_temp_c=arr["mem_temp_c"],
            util_pct=arr["util_pct"],
            sm_clock_mhz=arr["sm_clock_mhz"],
            clock_events=arr["clock_events"].astype(np.float64),
            xid_last=np.zeros((1, n), dtype=np.int64),
            counters={k: arr[k] for k in COUNTER_KEYS},
            row_remap_failure=arr["row_remap_failure"],
            xid_step=np.empty(0, dtype=np.int64),
            xid_gpu=np.empty(0, dtype=np.int64),
            xid_code=np.empty(0, dtype=np.int64),
            flow_fraction=np.ones((1, 1)),
        )


def _reading(h: Any) -> dict[str, float]:
    """Every reading of one GPU handle (NaN where not supported)."""
    nv = _nvml()
    return {
        "power_w": _maybe(lambda: _call("nvmlDeviceGetPowerUsage", h) / 1000.0),
        "energy_mj": _maybe(lambda: _call("nvmlDeviceGetTotalEnergyConsumption", h)),
        "gpu_temp_c": _maybe(lambda: _call("nvmlDeviceGetTemperature", h, nv.NVML_TEMPERATURE_GPU)),
        "mem_temp_c": _maybe(lambda: _field(h, nv.NVML_FI_DEV_MEMORY_TEMP)),
        "util_pct": _maybe(lambda: _call("nvmlDeviceGetUtilizationRates", h).gpu),
        "sm_clock_mhz": _maybe(lambda: _call("nvmlDeviceGetClockInfo", h, nv.NVML_CLOCK_SM)),
        "power_limit_w": _maybe(lambda: _call("nvmlDeviceGetPowerManagementLimit", h) / 1000.0),
        "clock_events": _maybe(lambda: _clock_events(h)),
        "ecc_sbe": _maybe(lambda: _ecc(h, nv.NVML_MEMORY_ERROR_TYPE_CORRECTED)),
        "ecc_dbe": _maybe(lambda: _ecc(h, nv.NVML_MEMORY_ERROR_TYPE_UNCORRECTED)),
        "rows_correctable": _maybe(lambda: _call("nvmlDeviceGetRemappedRows", h)[0]),
        "rows_uncorrectable": _maybe(lambda: _call("nvmlDeviceGetRemappedRows", h)[1]),
        "row_remap_failure": _maybe(lambda: _call("nvmlDeviceGetRemappedRows", h)[3]),
        "pcie_replay": _maybe(lambda: _call("nvmlDeviceGetPcieReplayCounter", h)),
        "nvlink_crc": _maybe(lambda: _nvlink_crc(h)),
    }


_KEYS = ("power_w", "energy_mj", "gpu_temp_c", "mem_temp_c", "util_pct", "sm_clock_mhz", "power_limit_w",
         "clock_events", "ecc_sbe", "ecc_dbe", "rows_correctable", "rows_uncorrectable", "row_remap_failure",
         "pcie_replay", "nvlink_crc")  # fmt: skip


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _field(handle: Any, field_id: int) -> float:
    value = _call("nvmlDeviceGetFieldValues", handle, [field_id])[0]
    if value.nvmlReturn != 0:
        raise _nvml().NVMLError(value.nvmlReturn)
    return float(
        value.value.siVal if value.valueType == _nvml().NVML_VALUE_TYPE_SIGNED_LONG_LONG else value.value.uiVal
    )


def _clock_events(handle: Any) -> float:
    nv = _nvml()
    if hasattr(nv, "nvmlDeviceGetCurrentClocksEventReasons"):
        return float(_call("nvmlDeviceGetCurrentClocksEventReasons", handle))
    return float(_call("nvmlDeviceGetCurrentClocksThrottleReasons", handle))


def _ecc(handle: Any, kind: int) -> float:
    return float(_call("nvmlDeviceGetTotalEccErrors", handle, kind, _nvml().NVML_VOLATILE_ECC))


def _nvlink_crc(handle: Any) -> float:
    nv = _nvml()
    total, any_link = 0.0, False
    for link in range(int(getattr(nv, "NVML_NVLINK_MAX_LINKS", 18))):
        try:
            total += float(_call("nvmlDeviceGetNvLinkErrorCounter", handle, link, nv.NVML_NVLINK_ERROR_DL_CRC_FLIT))
            any_link = True
        except nv.NVMLError:
            continue
    if not any_link:
        raise nv.NVMLError(nv.NVML_ERROR_NOT_SUPPORTED)
    return total


class _LocalModel:
    """The few facts the renderer needs of a GPU model read from NVML (its product name)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.gpus_per_node = 8
