"""The layer contract (``[tool.importlinter]`` in pyproject.toml, run by ``make lint``): the tree keeps it, and an
import that points up, sideways or at the CLI's libraries breaks it with a message naming the contract."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    """``lint-imports`` on the package under ``root/src`` with the contracts of ``root/pyproject.toml``."""
    if not LINT_IMPORTS.exists():
        pytest.fail(f"{LINT_IMPORTS} not found: install the dev extras (make test does)")
    env = {**os.environ, "PYTHONPATH": str(root / "src")}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo", str(root / "pyproject.toml")],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_tree_keeps_the_layer_contract() -> None:
    result = lint_imports(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "wattbit layers (imports point down only) KEPT" in result.stdout
    assert "only the CLI uses typer and rich KEPT" in result.stdout


@pytest.fixture(scope="module")
def copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of ``src/wattbit`` (Python files only) and ``pyproject.toml``, for a test to break."""
    root = tmp_path_factory.mktemp("tree")
    shutil.copytree(
        REPO / "src" / "wattbit",
        root / "src" / "wattbit",
        ignore=lambda folder, names: [n for n in names if n in ("__pycache__", "demo") or n.endswith(".pyc")],
    )
    shutil.copy(REPO / "pyproject.toml", root / "pyproject.toml")
    return root


@pytest.mark.parametrize(
    ("module", "line", "contract", "message"),
    [
        (  # up: physics under the CLI
            "physics/gpu.py",
            "import wattbit.cli",
            "wattbit layers (imports point down only) BROKEN",
            "wattbit.physics is not allowed to import wattbit.cli:\n\n- wattbit.physics.gpu -> wattbit.cli",
        ),
        (  # up, through a function-level import: the engine reaching for the planner
            "sim/engine.py",
            "def _planner():\n    from wattbit.plan import planner\n\n    return planner",
            "wattbit layers (imports point down only) BROKEN",
            "wattbit.sim is not allowed to import wattbit.plan:\n\n- wattbit.sim.engine -> wattbit.plan.planner",
        ),
        (  # sideways: independent siblings
            "control/greedy.py",
            "from wattbit.plan import planner",
            "wattbit layers (imports point down only) BROKEN",
            "wattbit.control is not allowed to import wattbit.plan:\n\n"
            "- wattbit.control.greedy -> wattbit.plan.planner",
        ),
        (  # a CLI library below the CLI
            "report/html.py",
            "import typer",
            "only the CLI uses typer and rich BROKEN",
            "wattbit.report.html -> typer",
        ),
    ],
)
def test_an_import_against_the_contract_breaks_it(
    copy: Path, module: str, line: str, contract: str, message: str
) -> None:
    path = copy / "src" / "wattbit" / module
    original = path.read_text(encoding="utf-8")
    path.write_text(original + "\n\n" + line + "\n", encoding="utf-8")
    try:
        result = lint_imports(copy)
    finally:
        path.write_text(original, encoding="utf-8")
    assert result.returncode == 1, result.stdout + result.stderr
    assert contract in result.stdout and "1 broken" in result.stdout
    assert message in result.stdout


def test_a_new_top_level_package_needs_a_layer(copy: Path) -> None:
    new = copy / "src" / "wattbit" / "extras.py"
    new.write_text('"""Something new, in no layer yet."""\n', encoding="utf-8")
    try:
        result = lint_imports(copy)
    finally:
        new.unlink()
    assert result.returncode == 1
    assert "The following modules are not listed as layers:\n\n- wattbit.extras\n" in result.stdout
