"""Where an unknown scenario field belongs: the schema searched for a field of that name elsewhere.

pydantic says only "Extra inputs are not permitted" for a field in the wrong table. :func:`where_it_belongs` looks the
name up in the whole scenario schema and says where it is a field (``tax_rate`` is a field of ``[plan.finance]``), or
how to write it (``itc_fraction`` is ``fraction`` in ``[plan.finance.itc]``; ``pv_capex`` names its currency:
``pv_capex_jpy_per_mw``), or the closest names in the table it was found in.
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Iterator
from functools import lru_cache
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel


def _models_in(annotation: Any) -> Iterator[tuple[type[BaseModel], str]]:
    """Models an annotation holds, with the path step they add (``""``, ``"[]"`` for list items)."""
    origin = get_origin(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation, ""
    elif origin in (list, tuple):
        for arg in get_args(annotation):
            for model, step in _models_in(arg):
                yield model, "[]" + step
    elif origin is dict:
        for model, step in _models_in(get_args(annotation)[-1]):
            yield model, "{}" + step
    elif origin in (Union, types.UnionType, typing.Annotated):
        for arg in get_args(annotation):
            yield from _models_in(arg)


@lru_cache(maxsize=8)
def _tables(root: type[BaseModel]) -> dict[str, type[BaseModel]]:
    """Every table of the schema under ``root``: display path (``plan.finance.itc``, ``sites[]``) -> model."""
    out: dict[str, type[BaseModel]] = {"": root}
    todo = [("", root)]
    while todo:
        path, model = todo.pop()
        for name, info in model.model_fields.items():
            for sub, step in _models_in(info.annotation):
                sub_path = f"{path}.{name}{step}".lstrip(".")
                if sub_path not in out:
                    out[sub_path] = sub
                    todo.append((sub_path, sub))
    return out


def _display(loc: tuple[int | str, ...]) -> str:
    """A location as a table path: list indices as ``[]``, mapping keys as ``{}``."""
    out = ""
    for part in loc:
        out += "[]" if isinstance(part, int) else f".{part}"
    return out.lstrip(".")


def _table_at(root: type[BaseModel], loc: tuple[int | str, ...]) -> tuple[str, type[BaseModel] | None]:
    path = _display(loc)
    return path, _tables(root).get(path)


def _label(path: str) -> str:
    """A table path as TOML writes its header: ``[plan.finance]``, ``[[sites]]``, ``[sites.it]``."""
    if path.endswith("[]"):
        return f"[[{path[:-2].replace('[]', '')}]]"
    return f"[{path.replace('[]', '')}]"


def _fields(model: type[BaseModel]) -> list[str]:
    return list(model.model_fields)


def where_it_belongs(root: type[BaseModel], table_loc: tuple[int | str, ...], name: str) -> str:
    """A sentence on where the unknown field ``name`` of the table at ``table_loc`` belongs.

    Parameters
    ----------
    root
        The schema's root model (``Scenario``).
    table_loc
        pydantic's location of the table the field was found in (without the field).
    name
        The unknown field.

    Returns
    -------
    str
        For example ``"not a field of [plan]; it belongs in [plan.finance]"``.
    """
    here, model = _table_at(root, table_loc)
    label = _label(here) if here else "the top level"
    tables = _tables(root)
    if model is None:
        return f"not a field of {label}"
    fields = _fields(model)
    money = [f for f in fields if f.startswith(f"{name}_jpy") or f.startswith(f"{name}_usd")]
    if money:
        return f"not a field of {label}; every money amount names its currency: write `{money[0]}` or `{money[1]}`"
    elsewhere = [path for path, m in tables.items() if name in m.model_fields and path != here]
    shown = " or ".join(_label(p) for p in elsewhere[:3])
    close = difflib.get_close_matches(name, fields, n=3, cutoff=0.75)
    if close:
        also = f" (`{name}` is a field of {shown})" if elsewhere else ""
        return f"not a field of {label}; did you mean " + " or ".join(f"`{c}`" for c in close) + f"?{also}"
    if elsewhere:
        own = f" (the fields of {label}: {', '.join(fields)})" if len(fields) <= 8 else ""
        return f"not a field of {label}; it belongs in {shown}{own}"
    split = _split_match(tables, here, name)
    if split:
        return f"not a field of {label}; {split}"
    close = difflib.get_close_matches(name, fields, n=3, cutoff=0.6)
    if close:
        return f"not a field of {label}; did you mean " + " or ".join(f"`{c}`" for c in close) + "?"
    return f"not a field of {label}; its fields are: {', '.join(fields)}"


def _split_match(tables: dict[str, type[BaseModel]], here: str, name: str) -> str:
    """``itc_fraction`` -> "write it as `fraction` in [plan.finance.itc]": a sub-table's field with its table's name
    in front (a sub-table of this table first, then any table of that name)."""
    parts = name.split("_")
    for k in range(1, len(parts)):
        table, field = "_".join(parts[:k]), "_".join(parts[k:])
        candidates = [f"{here}.{table}".lstrip(".")] + [p for p in tables if p.split(".")[-1] == table]
        for path in candidates:
            sub = tables.get(path)
            if sub is not None and field in sub.model_fields:
                return f"write it as `{field}` in {_label(path)}"
    return ""
