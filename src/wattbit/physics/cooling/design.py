"""Cooling designs: the four system types, their parameters, defaults and validation.

Every default carries a status, as in ``../shared/design/REFERENCE.md``: **V** seen in a primary source or model
code, **S** secondary (re-check), **U** assumption. ``docs/models/cooling.md`` lists them with their sources.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Literal, get_args

from wattbit.errors import WattbitInputError
from wattbit.units import check_number

CoolingType = Literal["air_chiller", "liquid_dry_cooler", "liquid_tower", "immersion"]
HeatRejection = Literal["tower", "dry_cooler"]

COOLING_TYPES: tuple[str, ...] = get_args(CoolingType)

#: ASHRAE TC 9.9 (2021) liquid-cooling classes: maximum facility supply water temperature [°C] (S).
#: ``W+`` is "above 45 °C"; we cap it at 60 °C.
ASHRAE_W_CLASSES: dict[str, float] = {
    "W17": 17.0,
    "W27": 27.0,
    "W32": 32.0,
    "W40": 40.0,
    "W45": 45.0,
    "W+": 60.0,
}
#: Lowest facility supply temperature of every W class [°C] (ASHRAE 2021, S).
W_CLASS_MIN_C = 2.0
#: Chilled-water supply range accepted for air cooling [°C] (U: below 4 °C freezing risk, above 25 °C the supply
#: air cannot stay inside the ASHRAE recommended 18-27 °C envelope).
CHILLED_WATER_RANGE_C = (4.0, 25.0)


@dataclass(frozen=True)
class CoolingDesign:
    """A cooling plant: its type and parameters. Build it with :func:`default_design`.

    The plant has up to two water loops. The **main loop** runs at ``supply_temp_c``: chilled water for
    ``air_chiller``, facility water (ASHRAE W class) for the liquid types and immersion. Liquid and immersion
    designs carry the share ``air_share`` of the heat that stays in room air on an **air loop** (CRAH fans and
    chilled water at ``air_loop_supply_c``). Each loop rejects heat through an economizer (cooling tower + plate
    heat exchanger, or dry cooler, possibly with adiabatic pre-cooling) and a chiller in series that trims what the
    economizer cannot carry: water-cooled on tower water, air-cooled with dry coolers.

    Attributes
    ----------
    cooling_type
        ``"air_chiller"``, ``"liquid_dry_cooler"``, ``"liquid_tower"`` or ``"immersion"``.
    supply_temp_c
        Main-loop supply setpoint [°C].
    w_class
        ASHRAE liquid class (``"W17"`` … ``"W45"``, ``"W+"``) bounding ``supply_temp_c``; ``None`` for air.
    loop_delta_t_k
        Main-loop return − supply temperature difference [K].
    heat_rejection
        ``"tower"`` (evaporative cooling tower, water-cooled chiller) or ``"dry_cooler"`` (air-cooled chiller).
    tower_approach_k, hx_approach_k
        Tower leaving water − wet bulb, and economizer plate heat exchanger approach [K].
    dry_cooler_approach_k
        Dry-cooler leaving water − entering air at design load and full fan speed [K].
    dry_cooler_fan_w_per_w, tower_fan_w_per_w
        Fan power at design per W of heat rejected at design [W/W].
    dry_cooler_air_rise_k
        Air temperature rise through the dry-cooler coil at design [K] (sets the air flow wetted by the spray).
    adiabatic_effectiveness
        Saturation effectiveness of the dry cooler's evaporative pre-cooler [-]; 0 means no adiabatic assist.
    cycles_of_concentration
        Cycles of concentration of evaporative water (tower basin or adiabatic pads) [-], > 1.
    drift_fraction
        Tower drift as a fraction of circulating water [-].
    chiller_rated_cop
        Chiller COP at its design temperatures [-].
    chiller_design_cond_c, chiller_design_evap_c
        Chiller design condenser entering and evaporator leaving temperatures [°C].
    chiller_min_part_load
        Chiller minimum unloading ratio of the plant [-].
    chiller_false_load
        Below the minimum unloading ratio, hold the compressor at its minimum power (hot-gas bypass) instead of
        cycling it.
    air_share
        Share of the IT heat removed by room air [-]: 1 for ``air_chiller``, 0.10-0.25 for direct-to-chip.
    air_loop_supply_c, air_loop_delta_t_k
        Air loop chilled-water supply [°C] and its return − supply difference [K] (liquid and immersion designs).
    crah_fan_w_per_w
        CRAH/CRAC fan power at design per W of air-side heat [W/W].
    crah_idle_airflow
        Airflow the room units supply with the IT idle, as a share of design [-] (server fans at minimum speed).
    fan_min_speed
        Lowest speed of tower and dry-cooler fans, as a share of design [-]; below it they cycle.
    pump_min_flow
        Lowest flow of the chilled-water, facility-water and CDU pumps, as a share of design [-] (chiller evaporator
        and coil minimum flows).
    cw_pump_min_flow
        Lowest flow of the condenser (tower) water pumps, as a share of design [-]; 1 = constant flow whenever the
        tower runs (constant-speed condenser pumps, one per chiller).
    loop_pump_head_pa, air_loop_pump_head_pa, cw_pump_head_pa
        Pump heads of the main loop, the air loop and the tower's condenser-water loop [Pa].
    cw_delta_t_k
        Condenser/tower water range [K].
    pump_efficiency
        Pump wire-to-water efficiency [-].
    tcs_pump_head_pa, tcs_delta_t_k, tcs_density_kg_m3, tcs_cp_j_per_kg_k
        Technology cooling system (cold-plate or immersion coolant loop behind the CDU): pump head [Pa], temperature
        difference [K], coolant density [kg/m³] and specific heat [J/(kg·K)].
    """

    cooling_type: CoolingType
    supply_temp_c: float
    w_class: str | None
    loop_delta_t_k: float
    heat_rejection: HeatRejection
    tower_approach_k: float = 3.9
    hx_approach_k: float = 2.2
    dry_cooler_approach_k: float = 6.0
    dry_cooler_fan_w_per_w: float = 0.02
    dry_cooler_air_rise_k: float = 10.0
    adiabatic_effectiveness: float = 0.85
    tower_fan_w_per_w: float = 0.0133
    cycles_of_concentration: float = 5.0
    drift_fraction: float = 2e-5
    chiller_rated_cop: float = 6.0
    chiller_design_cond_c: float = 29.44
    chiller_design_evap_c: float = 6.67
    chiller_min_part_load: float = 0.15
    chiller_false_load: bool = True
    air_share: float = 1.0
    air_loop_supply_c: float = 20.0
    air_loop_delta_t_k: float = 6.0
    crah_fan_w_per_w: float = 0.08
    crah_idle_airflow: float = 0.35
    fan_min_speed: float = 0.2
    pump_min_flow: float = 0.3
    cw_pump_min_flow: float = 1.0
    loop_pump_head_pa: float = 300e3
    air_loop_pump_head_pa: float = 300e3
    cw_pump_head_pa: float = 300e3
    cw_delta_t_k: float = 5.6
    pump_efficiency: float = 0.75
    tcs_pump_head_pa: float = 200e3
    tcs_delta_t_k: float = 10.0
    tcs_density_kg_m3: float = 1020.0
    tcs_cp_j_per_kg_k: float = 3900.0

    def __post_init__(self) -> None:
        if self.cooling_type not in COOLING_TYPES:
            raise WattbitInputError(
                f"unknown cooling type {self.cooling_type!r}; expected one of {', '.join(COOLING_TYPES)}",
                field="cooling_type",
            )
        if self.heat_rejection not in ("tower", "dry_cooler"):
            raise WattbitInputError(
                f"unknown heat rejection {self.heat_rejection!r}; expected 'tower' or 'dry_cooler'",
                field="heat_rejection",
            )
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in _BOUNDS:
                lo, hi, lo_open = _BOUNDS[f.name]
                check_number(value, f.name, lo, hi, lo_open=lo_open)
        if not isinstance(self.chiller_false_load, bool):
            raise WattbitInputError(
                f"chiller_false_load must be true or false, got {self.chiller_false_load!r}", field="chiller_false_load"
            )
        self._check_type_rules()
        lo, hi = supply_range_c(self)
        check_number(self.supply_temp_c, "supply_temp_c", lo, hi)
        check_number(self.air_loop_supply_c, "air_loop_supply_c", *CHILLED_WATER_RANGE_C)

    def _check_type_rules(self) -> None:
        kind = self.cooling_type
        required = {"air_chiller": "tower", "liquid_dry_cooler": "dry_cooler", "liquid_tower": "tower"}
        if kind in required and self.heat_rejection != required[kind]:
            raise WattbitInputError(
                f"{kind} rejects heat through '{required[kind]}', not {self.heat_rejection!r}",
                field="heat_rejection",
            )
        if kind == "air_chiller":
            if self.air_share != 1.0:
                raise WattbitInputError(
                    f"air_chiller carries all heat in air: expected 1.0, got {self.air_share}", field="air_share"
                )
            if self.w_class is not None:
                raise WattbitInputError(
                    f"air_chiller has no liquid class; expected None, got {self.w_class!r}", field="w_class"
                )
        else:
            if self.w_class not in ASHRAE_W_CLASSES:
                raise WattbitInputError(
                    f"unknown ASHRAE liquid class {self.w_class!r}; expected one of {', '.join(ASHRAE_W_CLASSES)}",
                    field="w_class",
                )
            if not self.air_share < 1.0:
                raise WattbitInputError(f"air share {self.air_share} of a liquid design must be < 1", field="air_share")


#: (lower, upper, lower bound exclusive) for every numeric field but the setpoints.
_BOUNDS: dict[str, tuple[float, float, bool]] = {
    "loop_delta_t_k": (0.0, 30.0, True),
    "tower_approach_k": (0.5, 15.0, False),
    "hx_approach_k": (0.0, 10.0, False),
    "dry_cooler_approach_k": (0.5, 25.0, False),
    "dry_cooler_fan_w_per_w": (0.0, 0.5, False),
    "dry_cooler_air_rise_k": (0.0, 40.0, True),
    "adiabatic_effectiveness": (0.0, 1.0, False),
    "tower_fan_w_per_w": (0.0, 0.5, False),
    "cycles_of_concentration": (1.0, 50.0, True),
    "drift_fraction": (0.0, 0.01, False),
    "chiller_rated_cop": (0.0, 20.0, True),
    "chiller_design_cond_c": (0.0, 60.0, False),
    "chiller_design_evap_c": (-10.0, 30.0, False),
    "chiller_min_part_load": (0.0, 1.0, False),
    "air_share": (0.0, 1.0, False),
    "air_loop_delta_t_k": (0.0, 30.0, True),
    "crah_fan_w_per_w": (0.0, 0.5, False),
    "crah_idle_airflow": (0.0, 1.0, False),
    "fan_min_speed": (0.0, 1.0, False),
    "pump_min_flow": (0.0, 1.0, False),
    "cw_pump_min_flow": (0.0, 1.0, False),
    "loop_pump_head_pa": (0.0, 2e6, False),
    "air_loop_pump_head_pa": (0.0, 2e6, False),
    "cw_pump_head_pa": (0.0, 2e6, False),
    "cw_delta_t_k": (0.0, 30.0, True),
    "pump_efficiency": (0.0, 1.0, True),
    "tcs_pump_head_pa": (0.0, 2e6, False),
    "tcs_delta_t_k": (0.0, 40.0, True),
    "tcs_density_kg_m3": (0.0, 3000.0, True),
    "tcs_cp_j_per_kg_k": (0.0, 10_000.0, True),
}


def supply_range_c(design: CoolingDesign) -> tuple[float, float]:
    """Allowed main-loop supply setpoints [°C]: the chilled-water range for air, ``2 °C .. class max`` for liquid."""
    if design.w_class is None:
        return CHILLED_WATER_RANGE_C
    return W_CLASS_MIN_C, ASHRAE_W_CLASSES[design.w_class]


_AIR_COOLED_CHILLER = {"chiller_rated_cop": 3.0, "chiller_design_cond_c": 35.0}

_DEFAULTS: dict[str, dict[str, Any]] = {
    "air_chiller": {
        "supply_temp_c": 7.0,
        "w_class": None,
        "loop_delta_t_k": 6.0,
        "heat_rejection": "tower",
        "air_share": 1.0,
    },
    "liquid_dry_cooler": {
        "supply_temp_c": 45.0,
        "w_class": "W45",
        "loop_delta_t_k": 10.0,
        "heat_rejection": "dry_cooler",
        "air_share": 0.15,
        **_AIR_COOLED_CHILLER,
    },
    "liquid_tower": {
        "supply_temp_c": 45.0,
        "w_class": "W45",
        "loop_delta_t_k": 10.0,
        "heat_rejection": "tower",
        "air_share": 0.15,
    },
    "immersion": {
        "supply_temp_c": 40.0,
        "w_class": "W40",
        "loop_delta_t_k": 10.0,
        "heat_rejection": "dry_cooler",
        "air_share": 0.0,
        "tcs_pump_head_pa": 150e3,
        "tcs_density_kg_m3": 800.0,
        "tcs_cp_j_per_kg_k": 2100.0,
        **_AIR_COOLED_CHILLER,
    },
}


def default_design(cooling_type: str, **overrides: Any) -> CoolingDesign:
    """The documented default design of a cooling type, with parameters replaced by ``overrides``.

    Giving ``w_class`` without ``supply_temp_c`` sets the supply to the class maximum. Switching an immersion
    design to ``heat_rejection="tower"`` also switches its chiller to the water-cooled defaults unless the chiller
    parameters are given.

    Parameters
    ----------
    cooling_type
        ``"air_chiller"``, ``"liquid_dry_cooler"``, ``"liquid_tower"`` or ``"immersion"``.
    **overrides
        Any :class:`CoolingDesign` attribute.

    Raises
    ------
    WattbitInputError
        For an unknown type or attribute, or a parameter outside its range (the message names the field).
    """
    if cooling_type not in _DEFAULTS:
        raise WattbitInputError(
            f"unknown cooling type {cooling_type!r}; expected one of {', '.join(COOLING_TYPES)}",
            field="cooling_type",
        )
    known = {f.name for f in fields(CoolingDesign)} - {"cooling_type"}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise WattbitInputError(
            f"unknown cooling design parameter(s) {unknown}; expected some of {sorted(known)}", field=unknown[0]
        )
    params = dict(_DEFAULTS[cooling_type])
    if "w_class" in overrides and "supply_temp_c" not in overrides:
        w_class = overrides["w_class"]
        if w_class in ASHRAE_W_CLASSES:
            params["supply_temp_c"] = ASHRAE_W_CLASSES[w_class]
    if overrides.get("heat_rejection") == "tower" and cooling_type == "immersion":
        params.pop("chiller_rated_cop", None)
        params.pop("chiller_design_cond_c", None)
    params.update(overrides)
    return CoolingDesign(cooling_type=cooling_type, **params)  # type: ignore[arg-type]
