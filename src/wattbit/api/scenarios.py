"""Scenarios in the service: upload checks (size, file name, UTF-8, TOML, the schema, data paths) and summaries.

An uploaded scenario is checked exactly as ``wattbit scenario validate`` checks a file, and its errors carry the
same detail (file, field, value, expected). It may read data by ``builtin = "japan-2022:SITE"`` or by ``path``
inside the service's data roots (``wattbit serve --data-root DIR``); relative paths resolve against the first data
root, and a path that resolves outside every root (``../``, an absolute path elsewhere, a link out) is refused.
"""

from __future__ import annotations

import re
import secrets
import tomllib
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from wattbit.api.errors import ApiError, from_input_error
from wattbit.api.labels import area_label, site_label
from wattbit.errors import ScenarioError
from wattbit.scenario import BUILTIN_SCENARIOS, Scenario, load_scenario, parse_scenario

#: Upload limit [bytes] (a scenario is a few kB; its data travel separately).
MAX_UPLOAD_BYTES = 256 * 1024
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}\.toml$")
_TOML_LINE = re.compile(r"\(at line (\d+), column (\d+)\)")


def check_filename(filename: str) -> str:
    """A bare file name ending in ``.toml`` (no folders, no ``..``, no control characters)."""
    if not _NAME.match(filename) or ".." in filename:
        raise ApiError(
            400,
            "bad_filename",
            f"{filename!r} is not an acceptable file name",
            field="filename",
            value=filename[:200],
            expected="a bare name of letters, digits, '.', '_' or '-' ending in .toml (no folders, no '..')",
        )
    return filename


def check_size(data: bytes, limit: int = MAX_UPLOAD_BYTES) -> bytes:
    """``data`` if it is at most ``limit`` bytes, else a 413."""
    if len(data) > limit:
        raise ApiError(
            413,
            "too_large",
            f"the upload has {len(data):,} bytes; the limit is {limit:,}",
            value=len(data),
            expected=f"at most {limit:,} bytes",
        )
    return data


def parse_upload(filename: str, data: bytes, data_roots: list[Path]) -> tuple[Scenario, str, Path]:
    """Check an uploaded scenario; returns it, its text and the folder its relative paths resolve against.

    Raises
    ------
    ApiError
        400 for a bad file name, 413 for an oversized file, 422 for text that is not UTF-8, not TOML or not a valid
        scenario (every bad field with its value and what was expected), or data paths outside the data roots.
    """
    check_filename(filename)
    check_size(data)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ApiError(
            422, "not_utf8", f"the file is not UTF-8 text (byte {exc.start})", file=filename, expected="UTF-8 text"
        ) from None
    base = data_roots[0] if data_roots else Path("/nonexistent-data-root")
    try:
        scenario = parse_scenario(text, base / filename)
    except ScenarioError as exc:
        raise scenario_error(exc, filename) from None
    check_paths(scenario, filename, data_roots)
    return scenario, text, base


def scenario_error(exc: ScenarioError, filename: str) -> ApiError:
    """A scenario's validation error with one problem per bad field (or the TOML line)."""
    cause = exc.__cause__
    if isinstance(cause, tomllib.TOMLDecodeError):
        m = _TOML_LINE.search(str(cause))
        return ApiError(
            422,
            "invalid_toml",
            f"{filename}: not valid TOML: {cause}",
            file=filename,
            row=int(m.group(1)) if m else None,
            expected="TOML (https://toml.io)",
        )
    if isinstance(cause, ValidationError):
        problems = []
        for err in cause.errors():
            parts = [p for p in err["loc"] if not (isinstance(p, str) and "[" in p)]
            field = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts).lstrip(".")
            value = None if err["type"] == "missing" else err.get("input")
            problems.append({"field": field, "value": _jsonable(value), "message": err["msg"]})
        first = problems[0] if problems else {}
        return ApiError(
            422,
            "invalid_scenario",
            str(exc).replace(str(exc.path), filename, 1) if exc.path else str(exc),
            file=filename,
            field=first.get("field"),
            value=first.get("value"),
            expected=first.get("message"),
            problems=problems,
        )
    return from_input_error(exc, 422, "invalid_scenario")


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value if not isinstance(value, str) else value[:200]
    text = repr(value)
    return text if len(text) <= 200 else text[:197] + "..."


def check_paths(scenario: Scenario, filename: str, data_roots: list[Path]) -> None:
    """Refuse data paths outside the data roots (after resolving ``..`` and links)."""
    roots = [r.resolve() for r in data_roots]
    for i, site in enumerate(scenario.sites):
        for kind in ("weather", "carbon", "price", "curtailment"):
            source = getattr(site.data, kind, None)
            for p in getattr(source, "path", None) or []:
                _inside(Path(p), roots, filename, f"sites[{i}].data.{kind}.path")
    for i, trace in enumerate(scenario.workload.traces):
        if trace.path is not None:
            _inside(Path(trace.path), roots, filename, f"workload.traces[{i}].path")


def _inside(path: Path, roots: list[Path], filename: str, field: str) -> None:
    resolved = path.resolve()
    if not any(resolved.is_relative_to(r) for r in roots):
        where = ", ".join(str(r) for r in roots) or "(none: the service was started without --data-root)"
        raise ApiError(
            422,
            "path_outside_data_root",
            f"{filename}: field '{field}': data paths must lie inside the service's data roots",
            file=filename,
            field=field,
            value=path.name,
            expected=f'a path inside {where}, or builtin = "japan-2022:SITE"',
        )


def summary(scenario: Scenario) -> dict[str, Any]:
    """What the API shows of a scenario without loading its data."""
    p = scenario.period
    return {
        "name": scenario.name,
        "description": scenario.scenario.description,
        "period": {"start": p.start.isoformat(), "end": p.end.isoformat(), "step": p.step, "timezone": p.timezone},
        "steps": len(p.index_utc()),
        "has_plan": scenario.plan is not None,
        "sites": [
            {
                "id": s.name,
                "label": site_label(s.name),
                "area": area_label(s.grid_area),
                "latitude_deg": s.latitude_deg,
                "longitude_deg": s.longitude_deg,
                "gpu_model": s.it.gpu_model,
                "gpus": s.it.gpu_count,
            }
            for s in scenario.sites
        ],
    }


def builtin_rows() -> list[tuple[str, str, Scenario]]:
    """``(id, file name, scenario)`` of every built-in scenario."""
    return [(f"builtin-{name}", f"{name}.toml", load_scenario(name)) for name in BUILTIN_SCENARIOS]


def load_stored(source: str, filename: str, text: str, base_dir: str | None) -> Scenario:
    """A stored scenario as a run loads it (built-ins by name; uploads parsed against their data root)."""
    if source == "builtin":
        return load_scenario(filename.removesuffix(".toml"))
    base = Path(base_dir) if base_dir else Path("/nonexistent-data-root")
    return parse_scenario(text, base / filename)


def new_id() -> str:
    """A scenario id."""
    return "s-" + secrets.token_hex(6)
