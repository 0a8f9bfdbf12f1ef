"""GPU and IT power: a catalog of accelerators, power versus utilisation, power capping and fleet IT power.

Reference point
---------------
All powers here are **DC power delivered to the IT electronics** (GPU boards, CPUs, memory, NICs, fans) at the
rack/server power bus, i.e. *after* the server PSU (415 V AC) or the rack DC-DC shelf (800 V DC). This is the load
that :mod:`wattbit.physics.power_chain` feeds, so the PSU loss is counted once, in the chain, and the two power
architectures are compared at the same point. GPU TDPs are board powers and already sit at this point. Nameplate
*input* powers of whole systems (DGX H100 10.2 kW) are converted to it with the Titanium PSU efficiency at the
N+N loading of those systems (≈ 0.96, see ``docs/models/power_chain.md``).

Models (equations and sources in ``docs/models/gpu.md``; status V/S/U as in ``REFERENCE.md``)
------------------------------------------------------------------------------------------
* GPU power: ``P(u) = P_idle + (P_tdp - P_idle) u^a`` clipped at the power cap, ``a = 1`` by default (linear, the
  utilisation model of Fan, Weber and Barroso 2007 for servers; U for GPUs). ``u`` is the *load* fraction (share of
  peak dynamic power), not nvidia-smi's "GPU utilisation", which counts busy time.
* Throughput under a cap: ``f(p) = 1 - k max(0, d - p)^2`` with ``p = cap / TDP`` and ``d`` the share of TDP the
  workload draws uncapped; training ``k = 1.5, d = 1`` (REFERENCE.md §1 default, U), memory-bound decode
  ``k = 2.0, d = 0.7`` (U, after POLCA arXiv 2308.12908 and MIT LLSC arXiv 2402.18593).
* Fleet IT power: GPUs + node overhead (linear between idle and full load with utilisation) + network switches.
  Node overhead at full load is the *measured* operating value where one exists (DGX/HGX H100: Latif et al., IEEE
  Access 13:61740, 2025, 8.48 kW peak of a 10.2 kW rating), the nameplate-derived one otherwise; ratings (rack
  density, plant sizing) use the nameplate. Server fans (:attr:`GpuModel.fan_share` of an air-cooled node's power)
  are removed in proportion to the share of the heat a liquid plant takes from the chips.
* Per-job power by kind and phase, and the fleet's power distribution: :mod:`wattbit.physics.gpu_load`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from wattbit.errors import WattbitInputError
from wattbit.units import check_range, checking

Cooling = Literal["air", "liquid", "either"]
WorkloadKind = Literal["training", "inference_decode"]

#: Network switches and optics per GPU [W] (compute fabric: two-tier fat tree, 3/64 64-port 400G switch per GPU
#: at ≈1.2-1.7 kW each, plus front-end/storage Ethernet). NICs are in the node overhead. U.
NETWORK_W_PER_GPU = 70.0

#: Titanium PSU efficiency at the ≈50 % loading of N+N server supplies; converts nameplate AC input to DC (S).
_PSU_ETA_NAMEPLATE = 0.96

#: Server fans as a share of an air-cooled GPU node's IT power: NVIDIA and Vertiv's ASME study of moving 75 % of a
#: hall's heat to direct-to-chip liquid found total power -10.2 % at PUE -3.3 % (REFERENCE.md §2, S), i.e. IT power
#: -7.1 %; 7.1 % / 0.75 = 9.5 % of IT power in fans when all heat leaves through air (derived, S/U).
SERVER_FAN_SHARE = 0.095

#: Throughput-under-cap parameters per workload kind: (k, d = uncapped power as a share of TDP). All U.
THROUGHPUT_PARAMS: dict[str, tuple[float, float]] = {
    "training": (1.5, 1.0),
    "inference_decode": (2.0, 0.7),
}


@dataclass(frozen=True)
class GpuModel:
    """One accelerator model and the node (server or compute tray) it is sold in.

    Attributes
    ----------
    name
        Catalog name, e.g. ``"H100-SXM"``.
    tdp_w
        Thermal design / total graphics power, the default and highest power limit [W].
    idle_w
        Power of an idle GPU [W].
    memory_gib
        HBM capacity [GiB] (vendors' "GB" for HBM stacks).
    cap_min_w
        Lowest settable power limit [W]; must lie in ``[idle_w, tdp_w]``.
    gpus_per_node
        GPUs per server (or per compute tray for rack-scale systems).
    node_overhead_w
        Everything in a node but the GPUs (CPUs, memory, NICs, fans, storage, NVSwitch) at full load [W, DC].
    node_idle_overhead_w
        The same with the node idle [W, DC].
    cooling
        ``"air"``, ``"liquid"`` or ``"either"``.
    rack_kw_typical
        Typical IT power of a rack of these nodes [kW].
    sources
        Where the numbers come from, with status V/S/U.
    rack_gpus
        For rack-scale systems sold as whole racks (GB200 NVL72: 72), the GPUs per rack; else ``None``.
    training_speed
        Training throughput relative to an H100 SXM (job durations are H100-hours): the ratio of dense BF16 peak
        tensor throughput (vendor datasheets, S), used as the speed ratio (U: achieved speed-ups differ by model,
        software and scale; see ``docs/models/gpu.md``). Default: :data:`TRAINING_SPEED` for the catalog name.
    node_overhead_operating_w
        Measured node overhead with every GPU at full load [W, DC], where a measurement exists; ``None`` uses
        ``node_overhead_w`` (the nameplate-derived value). Energy uses it; ratings use the nameplate.
    fan_share
        Server fans as a share of the node's IT power when air-cooled [-] (removed by liquid cooling); 0 for systems
        whose figures are already liquid-cooled.
    """

    name: str
    tdp_w: float
    idle_w: float
    memory_gib: float
    cap_min_w: float
    gpus_per_node: int
    node_overhead_w: float
    node_idle_overhead_w: float
    cooling: Cooling
    rack_kw_typical: float
    sources: str
    rack_gpus: int | None = None
    training_speed: float = 1.0
    node_overhead_operating_w: float | None = None
    fan_share: float = 0.0

    def __post_init__(self) -> None:
        operating = self.node_overhead_operating_w
        checks = [
            ("training_speed", self.training_speed > 0),
            ("node_overhead_operating_w", operating is None or self.node_idle_overhead_w <= operating),
            ("fan_share", 0.0 <= self.fan_share < 0.5),
            ("tdp_w", self.tdp_w > 0),
            ("idle_w", 0 <= self.idle_w < self.tdp_w),
            ("memory_gib", self.memory_gib > 0),
            ("cap_min_w", self.idle_w <= self.cap_min_w <= self.tdp_w),
            ("gpus_per_node", isinstance(self.gpus_per_node, int) and self.gpus_per_node >= 1),
            ("node_overhead_w", self.node_overhead_w >= self.node_idle_overhead_w),
            ("node_idle_overhead_w", self.node_idle_overhead_w >= 0),
            ("cooling", self.cooling in ("air", "liquid", "either")),
            ("rack_kw_typical", self.rack_kw_typical > 0),
            ("rack_gpus", self.rack_gpus is None or (self.rack_gpus > 0 and self.rack_gpus % self.gpus_per_node == 0)),
        ]
        for field, ok in checks:
            if not ok:  # NaN fails every comparison, so it lands here too
                raise WattbitInputError(
                    f"GPU model {self.name!r}: invalid {field}={getattr(self, field)!r} (tdp_w > 0, "
                    "0 <= idle_w < tdp_w, idle_w <= cap_min_w <= tdp_w, gpus_per_node >= 1, "
                    "node_overhead_w >= node_idle_overhead_w >= 0, cooling air/liquid/either, rack_gpus a multiple "
                    "of gpus_per_node, training_speed > 0)",
                    field=field,
                )

    @property
    def node_power_w(self) -> float:
        """IT power of one node at full load, uncapped, at its nameplate rating [W, DC] (air-cooled)."""
        return self.gpus_per_node * self.tdp_w + self.node_overhead_w

    @property
    def operating_overhead_w(self) -> float:
        """Node overhead with every GPU at full load, as measured where known [W, DC]."""
        return self.node_overhead_w if self.node_overhead_operating_w is None else self.node_overhead_operating_w


def _overhead_from_nameplate(system_input_w: float, gpus: int, tdp_w: float) -> float:
    """Node overhead [W, DC] from a system's nameplate AC input power and its GPUs' TDP."""
    return round(system_input_w * _PSU_ETA_NAMEPLATE - gpus * tdp_w, -1)


_H100_OVERHEAD_W = _overhead_from_nameplate(10_200.0, 8, 700.0)  # DGX H100/H200
_B200_OVERHEAD_W = _overhead_from_nameplate(14_300.0, 8, 1_000.0)  # DGX B200
_A100_OVERHEAD_W = _overhead_from_nameplate(6_500.0, 8, 400.0)  # DGX A100
#: DGX/HGX H100 measured: 8.48 kW peak (GPU-burn and training, Latif et al. 2025, S) x 0.96 - 8 x 700 W at the peak
#: (U: the GPUs at their TDP at that moment) -> 2.54 kW of node overhead at full load, against 4.19 kW from the
#: 10.2 kW nameplate.
_H100_OPERATING_OVERHEAD_W = round(8_480.0 * _PSU_ETA_NAMEPLATE - 8 * 700.0, -1)

#: Where each catalog entry's numbers come from, with status V/S/U.
_SOURCES = {
    "H100-SXM": "TDP 700 W S (huggingface.co/hardware/h100); DGX H100 10.2 kW max input S (DGX user guide via "
    "REFERENCE.md) x 0.96 PSU -> overhead 4.19 kW; idle 75 W U (60-120 W range); min power limit 200 W S (NVIDIA "
    "DGX user guide, Redfish PowerLimitWatts AllowableMin); idle overhead 1.2 kW U (scaled from AcmeTrace A100 "
    "servers); rack 40 kW (4 DGX) U",
    "H200": "TGP 700 W V (MLCommons inference v4.1 H200-SXM-141GBx8); DGX H200 10.2 kW max S; idle 74 W U (one "
    "vendor measurement); min limit 200 W S (as H100); overheads and rack as H100 U",
    "B200": "TDP ~1,000 W S (awesomeagents.ai); DGX B200 ~14.3 kW max S, 6x3.3 kW PSUs V "
    "(docs.nvidia.com/dgx/dgxb200-user-guide); idle 120 W U; min limit 300 W U; idle overhead 1.5 kW U; rack 60 kW "
    "(4 DGX) U",
    "GB200": "GB200 NVL72: GPU 1,200 W S (arXiv 2605.24461 via supercomputing.news); rack ~120 kW, liquid only S "
    "(introl.com); node = compute tray of 4 GPUs + 2 Grace, 18 per rack; overhead (120 kW x 0.96 - 72 x 1.2 kW) / "
    "18 = 1.6 kW incl. NVLink-switch trays S/U; idle 120 W, idle overhead 0.5 kW, min limit 400 W U",
    "MI300X": "TDP 750 W V (MLCommons inference v4.1 8xMI300X); 192 GB HBM3 S; host overhead as DGX H100 U; idle "
    "90 W U; min limit 300 W U; rack 45 kW U",
    "A100-SXM": "TDP 400 W S (NVIDIA A100 datasheet, not re-read; AcmeTrace A100 power p90 395 W); DGX A100 6.5 kW "
    "max S, matching the AcmeTrace server maximum 6.55 kW; idle 64 W (the idle mode of the AcmeTrace GPU power "
    "CDFs, fitted) and idle overhead 0.9 kW from AcmeTrace (Hu et al., NSDI'24) A100 GPU and server power "
    "distributions S; min limit 100 W U; rack 25 kW U",
}

# fmt: off
_ROWS: list[tuple[str, float, float, float, float, int, float, float, Cooling, float, int | None]] = [
    # name,     tdp_w,   idle_w, mem_gib, cap_min_w, gpus/node, overhead_w, idle_ovh_w, cooling, rack_kw, rack_gpus
    ("H100-SXM",   700.0,  75.0,  80.0, 200.0, 8, _H100_OVERHEAD_W, 1_200.0, "either",  40.0, None),
    ("H200",       700.0,  74.0, 141.0, 200.0, 8, _H100_OVERHEAD_W, 1_200.0, "either",  40.0, None),
    ("B200",     1_000.0, 120.0, 180.0, 300.0, 8, _B200_OVERHEAD_W, 1_500.0, "either",  60.0, None),
    ("GB200",    1_200.0, 120.0, 186.0, 400.0, 4,          1_600.0,   500.0, "liquid", 120.0, 72),
    ("MI300X",     750.0,  90.0, 192.0, 300.0, 8,          4_200.0, 1_200.0, "either",  45.0, None),
    ("A100-SXM",   400.0,  64.0,  80.0, 100.0, 8, _A100_OVERHEAD_W,   900.0, "either",  25.0, None),
]
# fmt: on

#: Dense BF16 peak tensor throughput [TFLOP/s] per GPU, vendor datasheets (S): A100 SXM 312; H100 SXM and H200
#: 989; B200 (HGX) 2,250; GB200 (per GPU of an NVL72) 2,500; MI300X 1,307.
DENSE_BF16_TFLOPS: dict[str, float] = {
    "H100-SXM": 989.0,
    "H200": 989.0,
    "B200": 2_250.0,
    "GB200": 2_500.0,
    "MI300X": 1_307.0,
    "A100-SXM": 312.0,
}
#: Training speed relative to an H100 SXM: the peak ratio (U, see :attr:`GpuModel.training_speed`).
TRAINING_SPEED: dict[str, float] = {k: v / DENSE_BF16_TFLOPS["H100-SXM"] for k, v in DENSE_BF16_TFLOPS.items()}

#: The accelerators wattbit knows, by name; values and status in ``docs/models/gpu.md``.
#: Measured full-load node overheads [W, DC] (others: the nameplate-derived value, see ``docs/models/gpu.md``).
_OPERATING_OVERHEAD_W: dict[str, float] = {"H100-SXM": _H100_OPERATING_OVERHEAD_W, "H200": _H100_OPERATING_OVERHEAD_W}

GPU_CATALOG: dict[str, GpuModel] = {
    row[0]: GpuModel(
        *row[:10],
        sources=_SOURCES[row[0]],
        rack_gpus=row[10],
        training_speed=TRAINING_SPEED[row[0]],
        node_overhead_operating_w=_OPERATING_OVERHEAD_W.get(row[0]),
        fan_share=0.0 if row[8] == "liquid" else SERVER_FAN_SHARE,
    )
    for row in _ROWS
}


def get_gpu(name: str) -> GpuModel:
    """Look up a :data:`GPU_CATALOG` entry by name, ignoring case.

    Raises
    ------
    WattbitInputError
        If the name is unknown; the message lists the known models.
    """
    for key, model in GPU_CATALOG.items():
        if key.lower() == str(name).strip().lower():
            return model
    raise WattbitInputError(f"unknown GPU model {name!r}; known models: {', '.join(GPU_CATALOG)}", field="gpu_model")


def _checked_cap(model: GpuModel, cap_w: ArrayLike) -> NDArray[np.float64]:
    return check_range("cap_w", cap_w, model.cap_min_w, model.tdp_w)


def gpu_power_w(
    model: GpuModel, utilization: ArrayLike, cap_w: ArrayLike | None = None, *, exponent: float = 1.0
) -> NDArray[np.float64]:
    """Power of one GPU versus its load, clipped at the power cap.

    ``P = min(P_idle + (P_tdp - P_idle) u^a, cap)`` (linear for ``a = 1``; Fan, Weber and Barroso, "Power
    provisioning for a warehouse-sized computer", ISCA 2007, for servers; the exponent is U for GPUs).

    Parameters
    ----------
    model
        The GPU model.
    utilization
        Load fraction 0..1 (share of peak dynamic power the work would draw uncapped).
    cap_w
        Power limit [W] in ``[model.cap_min_w, model.tdp_w]``, scalar or array broadcast with ``utilization``;
        ``None`` for no cap (the TDP).
    exponent
        Exponent ``a`` of the utilisation term, > 0.

    Returns
    -------
    numpy.ndarray
        GPU power [W, DC].

    Raises
    ------
    WattbitInputError
        If utilisation is NaN or outside 0..1, or the cap is outside the settable range.
    """
    u = check_range("utilization", utilization, 0.0, 1.0)
    if not exponent > 0:
        raise WattbitInputError(f"exponent {exponent} must be > 0", field="exponent")
    load = u if exponent == 1.0 else u**exponent
    power = model.idle_w + (model.tdp_w - model.idle_w) * load
    if cap_w is not None:
        power = np.minimum(power, _checked_cap(model, cap_w))
    return power


def _throughput_params(kind: str) -> tuple[float, float]:
    if kind not in THROUGHPUT_PARAMS:
        raise WattbitInputError(
            f"unknown workload kind {kind!r}; expected one of {list(THROUGHPUT_PARAMS)}", field="kind"
        )
    return THROUGHPUT_PARAMS[kind]


def throughput_factor(model: GpuModel, cap_w: ArrayLike, kind: WorkloadKind = "training") -> NDArray[np.float64]:
    """Throughput of a fully loaded GPU under a power cap, relative to uncapped.

    ``f(p) = 1 - k max(0, d - p)^2``, ``p = cap / TDP``. Training is compute-bound and draws the TDP (``d = 1``,
    ``k = 1.5``: REFERENCE.md §1 default, U; an energy-optimal cap near 58 % of TDP). Decode is memory-bound and
    draws ≈70 % of TDP uncapped, so caps above that cost nothing and lower ones little (``d = 0.7``, ``k = 2.0``,
    U). Both are assumptions to calibrate with Zeus (``ZeusMonitor``) or NLR H100 traces (arXiv 2604.07345);
    qualitative support: MIT LLSC caps at ~60-80 % of TDP with minimal impact (arXiv 2402.18593), POLCA
    (arXiv 2308.12908) on inference rarely reaching TDP. Below ``p = 0.5`` it is an extrapolation.

    Parameters
    ----------
    model
        The GPU model.
    cap_w
        Power limit [W] in ``[model.cap_min_w, model.tdp_w]``.
    kind
        ``"training"`` or ``"inference_decode"``.

    Returns
    -------
    numpy.ndarray
        Throughput factor, 1 at the TDP, non-increasing as the cap falls.
    """
    k, demand = _throughput_params(kind)
    p = _checked_cap(model, cap_w) / model.tdp_w
    return 1.0 - k * np.maximum(demand - p, 0.0) ** 2


def energy_per_work_factor(model: GpuModel, cap_w: ArrayLike, kind: WorkloadKind = "training") -> NDArray[np.float64]:
    """GPU energy per unit of work under a cap, relative to uncapped (same workload kind).

    ``e = [min(cap, d TDP) / (d TDP)] / f(cap)``: the power ratio over the throughput ratio, for the GPU alone
    (node overhead and idle GPUs not included; they move the fleet optimum to higher caps).

    Parameters
    ----------
    model
        The GPU model.
    cap_w
        Power limit [W].
    kind
        ``"training"`` or ``"inference_decode"``.

    Returns
    -------
    numpy.ndarray
        Energy-per-work factor; below 1 where capping saves energy.
    """
    _, demand = _throughput_params(kind)
    cap = _checked_cap(model, cap_w)
    demand_w = demand * model.tdp_w
    return (np.minimum(cap, demand_w) / demand_w) / throughput_factor(model, cap, kind)


def _checked_count(gpu_count: ArrayLike) -> NDArray[np.float64]:
    count = check_range("gpu_count", gpu_count, 0.0)
    if checking() and not np.all(count == np.floor(count)):
        raise WattbitInputError("GPU counts must be whole numbers", field="gpu_count")
    return count


def it_power_w(
    model: GpuModel,
    gpu_count: ArrayLike,
    utilization: ArrayLike,
    cap_w: ArrayLike | None = None,
    network_w_per_gpu: float = NETWORK_W_PER_GPU,
    *,
    exponent: float = 1.0,
    liquid_share: float = 0.0,
    nameplate: bool = False,
) -> NDArray[np.float64]:
    """IT power of a fleet of powered-on GPUs: GPUs + node overhead + network.

    ``P_IT = [n P_gpu(u, cap) + ceil(n / g) (O_idle + (O_full - O_idle) u)] (1 - f_fan l) + n P_net`` with ``n``
    GPUs, ``g`` GPUs per node, ``O`` the node overhead, ``f_fan`` the node's fan share and ``l`` the share of the
    heat a liquid plant takes from the chips. All GPUs run at the fleet-average utilisation ``u`` (exact for the
    linear model). Network power is taken as load-independent (U).

    Parameters
    ----------
    model
        The GPU model.
    gpu_count
        Powered-on GPUs, whole numbers >= 0; scalar or array broadcast with ``utilization``.
    utilization
        Fleet-average load fraction 0..1, e.g. a time series.
    cap_w
        Power limit per GPU [W], or ``None``.
    network_w_per_gpu
        Switches and optics per GPU [W]; default :data:`NETWORK_W_PER_GPU` (U).
    exponent
        Exponent of the GPU utilisation term (see :func:`gpu_power_w`).
    liquid_share
        Share of the node heat taken by liquid (cold plates, immersion), 0..1; removes that share of the fans.
    nameplate
        Use the nameplate-derived full-load node overhead (for ratings) instead of the measured operating one.

    Returns
    -------
    numpy.ndarray
        IT power [W, DC at the rack/server bus], the load of :func:`wattbit.physics.power_chain.power_chain_losses_w`.
    """
    count = _checked_count(gpu_count)
    u = check_range("utilization", utilization, 0.0, 1.0)
    if not network_w_per_gpu >= 0:
        raise WattbitInputError(f"network power {network_w_per_gpu} must be >= 0", field="network_w_per_gpu")
    liquid = check_range("liquid_share", liquid_share, 0.0, 1.0)
    full_overhead = model.node_overhead_w if nameplate else model.operating_overhead_w
    nodes = np.ceil(count / model.gpus_per_node)
    node_slope_w = nodes * (full_overhead - model.node_idle_overhead_w)
    if cap_w is None and exponent == 1.0:  # fast path: everything is linear in u
        node_w = count * model.idle_w + nodes * model.node_idle_overhead_w
        node_w = node_w + u * (count * (model.tdp_w - model.idle_w) + node_slope_w)
    else:
        dynamic_w = gpu_power_w(model, u, cap_w, exponent=exponent) - model.idle_w
        node_w = count * model.idle_w + nodes * model.node_idle_overhead_w + count * dynamic_w + node_slope_w * u
    return node_w * (1.0 - model.fan_share * liquid) + count * network_w_per_gpu


def it_power_from_gpu_w(
    model: GpuModel,
    gpu_count: ArrayLike,
    gpu_power_w: ArrayLike,
    network_w_per_gpu: float = NETWORK_W_PER_GPU,
    *,
    liquid_share: float = 0.0,
) -> NDArray[np.float64]:
    """IT power of a group of GPUs given their total GPU power (phase mixes, caps already applied) [W, DC].

    The node overhead follows the group's mean GPU load ``u = (P_gpu / n - P_idle) / (P_TDP - P_idle)``, as in
    :func:`it_power_w`, with the measured operating overhead at full load; fans are removed by ``liquid_share``.

    Parameters
    ----------
    model
        The GPU model.
    gpu_count
        GPUs in the group, whole numbers >= 0 (e.g. a series).
    gpu_power_w
        Their total GPU power [W], broadcast with ``gpu_count``, between idle and TDP per GPU.
    network_w_per_gpu
        Switches and optics per GPU [W].
    liquid_share
        Share of the heat taken by liquid, 0..1.
    """
    count = _checked_count(gpu_count)
    power = check_range("gpu_power_w", gpu_power_w, 0.0)
    liquid = check_range("liquid_share", liquid_share, 0.0, 1.0)
    span = model.tdp_w - model.idle_w
    with np.errstate(invalid="ignore", divide="ignore"):
        u = np.where(count > 0, np.clip((power / np.maximum(count, 1.0) - model.idle_w) / span, 0.0, 1.0), 0.0)
    nodes = np.ceil(count / model.gpus_per_node)
    overhead_w = nodes * (model.node_idle_overhead_w + (model.operating_overhead_w - model.node_idle_overhead_w) * u)
    return (power + overhead_w) * (1.0 - model.fan_share * liquid) + count * network_w_per_gpu


def nodes_per_rack(model: GpuModel, rack_kw: float | None = None) -> int:
    """How many nodes fit in a rack of ``rack_kw`` IT power at full load (whole racks for rack-scale systems).

    Raises
    ------
    WattbitInputError
        If not even one node (or, for rack-scale systems, the whole rack) fits in ``rack_kw``.
    """
    kw = model.rack_kw_typical if rack_kw is None else rack_kw
    if not kw > 0:
        raise WattbitInputError(f"rack power {kw} kW must be > 0", field="rack_kw")
    if model.rack_gpus is not None:
        n = model.rack_gpus // model.gpus_per_node
        if n * model.node_power_w > kw * 1000.0 * (1 + 1e-9):
            raise WattbitInputError(
                f"{model.name} comes as whole racks of {n * model.node_power_w / 1000:.1f} kW; {kw} kW is too little",
                field="rack_kw",
            )
        return n
    n = int(np.floor(kw * 1000.0 * (1 + 1e-9) / model.node_power_w))
    if n < 1:
        raise WattbitInputError(
            f"a {model.name} node draws {model.node_power_w / 1000:.2f} kW; a {kw} kW rack holds none", field="rack_kw"
        )
    return n


def racks_needed(model: GpuModel, gpu_count: ArrayLike, rack_kw: float | None = None) -> NDArray[np.int64]:
    """Racks to house ``gpu_count`` GPUs, with whole nodes per rack and racks of at most ``rack_kw`` [kW].

    Parameters
    ----------
    model
        The GPU model.
    gpu_count
        Number of GPUs, whole numbers >= 0.
    rack_kw
        IT power per rack [kW]; default ``model.rack_kw_typical``.

    Returns
    -------
    numpy.ndarray
        Racks (integers).
    """
    count = _checked_count(gpu_count)
    nodes = np.ceil(count / model.gpus_per_node)
    return np.ceil(nodes / nodes_per_rack(model, rack_kw)).astype(np.int64)


def rack_power_kw(model: GpuModel, rack_kw: float | None = None) -> float:
    """IT power of a full rack at full load [kW]: nodes per rack times node power (the real rack density)."""
    return nodes_per_rack(model, rack_kw) * model.node_power_w / 1000.0
