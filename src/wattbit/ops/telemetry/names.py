"""Metric names, types and help texts: the DCGM fields dcgm-exporter serves, and wattbit's per-site metrics.

The DCGM names, types and help texts are those of dcgm-exporter's ``etc/default-counters.csv`` (NVIDIA/dcgm-exporter,
read at release 4.5.3-4.8.2, 2026-05), where counters keep DCGM's names without a ``_total`` suffix. The per-site
metrics follow Prometheus' naming conventions (base units in the name, ``_total`` on counters).

XID texts are NVIDIA's (docs.nvidia.com/deploy/xid-errors, as dcgm-exporter's ``xid_errors.go`` copies them) for the
codes the twin emits. Clock-event reason bits are NVML's ``nvmlClocksEventReason*`` constants.
"""

from __future__ import annotations

from typing import NamedTuple


class MetricSpec(NamedTuple):
    """One exported metric: name, Prometheus type and help text."""

    name: str
    kind: str  # "gauge" or "counter"
    help: str


#: The per-GPU DCGM fields the twin serves, in the order it renders them.
DCGM_FIELDS: tuple[MetricSpec, ...] = (
    MetricSpec("DCGM_FI_DEV_SM_CLOCK", "gauge", "SM clock frequency (in MHz)."),
    MetricSpec("DCGM_FI_DEV_MEMORY_TEMP", "gauge", "Memory temperature (in C)."),
    MetricSpec("DCGM_FI_DEV_GPU_TEMP", "gauge", "GPU temperature (in C)."),
    MetricSpec("DCGM_FI_DEV_POWER_USAGE", "gauge", "Power draw (in W)."),
    MetricSpec("DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", "counter", "Total energy consumption since boot (in mJ)."),
    MetricSpec("DCGM_FI_DEV_POWER_MGMT_LIMIT", "gauge", "Power management limit (in W)."),
    MetricSpec("DCGM_FI_DEV_PCIE_REPLAY_COUNTER", "counter", "Total number of PCIe retries."),
    MetricSpec("DCGM_FI_DEV_GPU_UTIL", "gauge", "GPU utilization (in %)."),
    MetricSpec("DCGM_FI_DEV_CLOCKS_EVENT_REASONS", "gauge", "Current clock event reasons (bitmask of NVML reasons)."),
    MetricSpec("DCGM_FI_DEV_XID_ERRORS", "gauge", "Value of the last XID error encountered."),
    MetricSpec("DCGM_FI_DEV_ECC_SBE_VOL_TOTAL", "counter", "Total number of single-bit volatile ECC errors."),
    MetricSpec("DCGM_FI_DEV_ECC_DBE_VOL_TOTAL", "counter", "Total number of double-bit volatile ECC errors."),
    MetricSpec(
        "DCGM_FI_DEV_NVLINK_CRC_FLIT_ERROR_COUNT_TOTAL", "counter", "Total number of NVLink flow-control CRC errors."
    ),
    MetricSpec(
        "DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS", "counter", "Number of remapped rows for uncorrectable errors"
    ),
    MetricSpec("DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS", "counter", "Number of remapped rows for correctable errors"),
    MetricSpec("DCGM_FI_DEV_ROW_REMAP_FAILURE", "gauge", "Whether remapping of rows has failed"),
)
#: dcgm-exporter's own XID counter (``DCGM_EXP_XID_ERRORS_COUNT``): XIDs seen per code within the last window.
XID_COUNT = MetricSpec("DCGM_EXP_XID_ERRORS_COUNT", "counter", "reported XIDs during last window")

#: Short keys of the per-GPU series inside wattbit (arrays of a :class:`~wattbit.ops.telemetry.model.GpuFrame`).
FIELD_KEYS: dict[str, str] = {
    "DCGM_FI_DEV_SM_CLOCK": "sm_clock_mhz",
    "DCGM_FI_DEV_MEMORY_TEMP": "mem_temp_c",
    "DCGM_FI_DEV_GPU_TEMP": "gpu_temp_c",
    "DCGM_FI_DEV_POWER_USAGE": "power_w",
    "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION": "energy_mj",
    "DCGM_FI_DEV_POWER_MGMT_LIMIT": "power_limit_w",
    "DCGM_FI_DEV_PCIE_REPLAY_COUNTER": "pcie_replay",
    "DCGM_FI_DEV_GPU_UTIL": "util_pct",
    "DCGM_FI_DEV_CLOCKS_EVENT_REASONS": "clock_events",
    "DCGM_FI_DEV_XID_ERRORS": "xid_last",
    "DCGM_FI_DEV_ECC_SBE_VOL_TOTAL": "ecc_sbe",
    "DCGM_FI_DEV_ECC_DBE_VOL_TOTAL": "ecc_dbe",
    "DCGM_FI_DEV_NVLINK_CRC_FLIT_ERROR_COUNT_TOTAL": "nvlink_crc",
    "DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS": "rows_uncorrectable",
    "DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS": "rows_correctable",
    "DCGM_FI_DEV_ROW_REMAP_FAILURE": "row_remap_failure",
}
#: Fields DCGM reports as doubles (rendered with Go's ``%f``); the others are int64 (``%d``).
DOUBLE_FIELDS = frozenset({"DCGM_FI_DEV_POWER_USAGE", "DCGM_FI_DEV_POWER_MGMT_LIMIT"})
#: The counters among the per-GPU series (monotone until the GPU or its driver resets).
COUNTER_KEYS = (
    "energy_mj",
    "pcie_replay",
    "ecc_sbe",
    "ecc_dbe",
    "nvlink_crc",
    "rows_uncorrectable",
    "rows_correctable",
)

#: XID codes the twin emits and NVIDIA's text for each.
XID_TEXT: dict[int, str] = {
    0: "No Error",
    13: "Graphics Engine Exception",
    31: "GPU memory page fault",
    43: "GPU stopped processing",
    48: "Double Bit ECC Error",
    63: "ECC page retirement or row remapping recording event",
    64: "ECC page retirement or row remapper recording failure",
    74: "NVLINK Error",
    79: "GPU has fallen off the bus",
    92: "High single-bit ECC error rate",
    94: "Contained ECC error",
    95: "Uncontained ECC error",
    119: "GSP RPC Timeout",
    120: "GSP Error",
}

# NVML clock-event reasons (nvmlClocksEventReason*), the bits of DCGM_FI_DEV_CLOCKS_EVENT_REASONS.
CLOCK_GPU_IDLE = 0x1
CLOCK_SW_POWER_CAP = 0x4
CLOCK_HW_SLOWDOWN = 0x8
CLOCK_SW_THERMAL = 0x20
CLOCK_HW_THERMAL = 0x40
CLOCK_HW_POWER_BRAKE = 0x80

#: Product names NVML reports (``modelName``) per catalog GPU (S: nvidia-smi output as commonly seen; AMD's MI300X
#: is not a DCGM device, its name is given for completeness).
MODEL_NAMES: dict[str, str] = {
    "H100-SXM": "NVIDIA H100 80GB HBM3",
    "H200": "NVIDIA H200",
    "B200": "NVIDIA B200",
    "GB200": "NVIDIA GB200",
    "A100-SXM": "NVIDIA A100-SXM4-80GB",
    "MI300X": "AMD Instinct MI300X",
}
#: Highest SM clock per catalog GPU [MHz] (S: vendor datasheets' boost clocks; U for GB200 and MI300X).
MAX_SM_CLOCK_MHZ: dict[str, float] = {
    "H100-SXM": 1980.0,
    "H200": 1980.0,
    "B200": 1965.0,
    "GB200": 2062.0,
    "A100-SXM": 1410.0,
    "MI300X": 2100.0,
}
#: SM clock of an idle GPU [MHz] (U: typical idle clocks of data-centre parts).
IDLE_SM_CLOCK_MHZ = 345.0

#: Per-site metrics, Prometheus style (label ``site``; ``area`` the grid area).
SITE_METRICS: tuple[MetricSpec, ...] = (
    MetricSpec("wattbit_site_facility_power_watts", "gauge", "Facility power drawn by the site (W)."),
    MetricSpec("wattbit_site_it_power_watts", "gauge", "IT power at the IT equipment input (W)."),
    MetricSpec("wattbit_site_cooling_power_watts", "gauge", "Cooling plant power (W)."),
    MetricSpec("wattbit_site_loss_power_watts", "gauge", "Power-chain conversion and distribution losses (W)."),
    MetricSpec("wattbit_site_pue", "gauge", "Power usage effectiveness this step (facility / IT)."),
    MetricSpec("wattbit_site_facility_energy_joules_total", "counter", "Facility energy drawn since the twin started."),
    MetricSpec("wattbit_site_coolant_supply_temperature_celsius", "gauge", "Coolant (or supply air) temperature."),
    MetricSpec("wattbit_site_coolant_return_temperature_celsius", "gauge", "Coolant (or return air) temperature."),
    MetricSpec("wattbit_site_coolant_flow_cubic_meters_per_second", "gauge", "Coolant flow through the IT loops."),
    MetricSpec("wattbit_site_coolant_pumps_running", "gauge", "Coolant pumps running."),
    MetricSpec("wattbit_site_heat_rejection_fan_speed_ratio", "gauge", "Heat-rejection fan speed, share of full."),
    MetricSpec("wattbit_site_battery_state_of_charge_ratio", "gauge", "Battery state of charge (0-1)."),
    MetricSpec("wattbit_site_battery_power_watts", "gauge", "Battery power, positive when discharging to the site."),
    MetricSpec("wattbit_site_grid_import_watts", "gauge", "Power imported from the grid (W)."),
    MetricSpec("wattbit_site_grid_import_energy_joules_total", "counter", "Grid energy imported since start."),
    MetricSpec("wattbit_site_pv_power_watts", "gauge", "On-site PV output (W)."),
    MetricSpec("wattbit_site_wind_power_watts", "gauge", "On-site wind output (W)."),
    MetricSpec(
        "wattbit_site_grid_carbon_intensity_grams_per_kilowatt_hour", "gauge", "Grid carbon intensity (gCO2/kWh)."
    ),
    MetricSpec("wattbit_site_electricity_price_yen_per_megawatt_hour", "gauge", "Wholesale price (JPY/MWh)."),
    MetricSpec("wattbit_site_grid_curtailment_watts", "gauge", "Renewable output curtailed in the grid area (W)."),
    MetricSpec("wattbit_site_gpus", "gauge", "GPUs by state (training, inference, idle, out)."),
)
