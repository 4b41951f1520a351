"""The no_import_cycles contract type (scripts/import_cycles.py) that `make lint` runs: it breaks
on a cycle between modules, also one held together by an import inside a function, and names
each import of the cycle with its line; it keeps a package whose imports run one way."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from gov_common.testing import REPO_ROOT

LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")

CONFIG = """\
[tool.importlinter]
root_packages = ["shop"]
contract_types = ["no_import_cycles: scripts.import_cycles.NoImportCyclesContract"]

[[tool.importlinter.contracts]]
name = "no cycle in shop"
type = "no_import_cycles"
packages = ["shop"]
"""


# shop.orders.service reads shop.prices only when total() runs.
TOTAL_IMPORTS_VAT_INSIDE_A_FUNCTION = """\
    def total() -> int:
        from shop.prices import VAT

        return VAT
    """


def _package(root: Path, modules: dict[str, str]) -> None:
    (root / "shop" / "orders").mkdir(parents=True)
    (root / "shop" / "__init__.py").write_text("")
    (root / "shop" / "orders" / "__init__.py").write_text("")
    for name, source in modules.items():
        (root / "shop" / f"{name.replace('.', '/')}.py").write_text(textwrap.dedent(source))
    (root / "pyproject.toml").write_text(CONFIG)


def _lint(root: Path) -> subprocess.CompletedProcess[str]:
    # The repository on the path for the contract type, the temporary tree for the package.
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), str(REPO_ROOT)])}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_a_cycle_through_an_import_inside_a_function_breaks_the_contract(tmp_path: Path) -> None:
    _package(
        tmp_path,
        {
            "prices": "from shop.orders.service import total\n",
            "orders.service": TOTAL_IMPORTS_VAT_INSIDE_A_FUNCTION,
        },
    )
    result = _lint(tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    out = " ".join(result.stdout.split())
    assert "no cycle in shop BROKEN" in out
    assert "shop.prices -> shop.orders.service (l.1)" in out
    assert "shop.orders.service -> shop.prices (l.2)" in out


def test_a_cycle_of_three_modules_is_named_whole(tmp_path: Path) -> None:
    _package(
        tmp_path,
        {
            "a": "import shop.b\n",
            "b": "import shop.orders.c\n",
            "orders.c": "\n\nimport shop.a\n",
        },
    )
    result = _lint(tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    out = " ".join(result.stdout.split())
    assert "shop.a -> shop.b (l.1)" in out
    assert "shop.b -> shop.orders.c (l.1)" in out
    assert "shop.orders.c -> shop.a (l.3)" in out


def test_imports_that_run_one_way_keep_the_contract(tmp_path: Path) -> None:
    _package(
        tmp_path,
        {
            "prices": "VAT = 13\n",
            "orders.service": TOTAL_IMPORTS_VAT_INSIDE_A_FUNCTION,
        },
    )
    result = _lint(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no cycle in shop KEPT" in result.stdout
