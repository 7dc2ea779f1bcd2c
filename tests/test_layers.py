"""The import layers in pyproject.toml ([tool.importlinter]) hold: a back-import fails the suite.

The runtime (`model`) knows nothing of training or the service; only the command line imports training;
in the service the front ends (cli, api, web) sit on the shared HTTP types and request plumbing, those on
the domain and batch jobs, those on the store and the tables; no two modules import each other. The
contracts are run by import-linter's own command, as CI or a developer would run them.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"
LINT = shutil.which("lint-imports")
pytestmark = pytest.mark.skipif(LINT is None, reason="import-linter is not installed (pip install -e '.[dev]')")


def _lint(config: Path) -> subprocess.CompletedProcess[str]:
    assert LINT is not None
    command = [LINT, "--config", str(config), "--no-cache", "--no-logo"]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)


def test_every_contract_is_kept() -> None:
    run = _lint(PYPROJECT)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "0 broken" in run.stdout and "layers" in run.stdout.lower(), run.stdout


def test_a_layer_importing_one_above_it_breaks_the_contract(tmp_path: Path) -> None:
    """The check sees the installed package's modules (they are symlinked folders): with the store put
    above the domain on purpose, the domain's imports of the store are reported and the command fails."""
    config = tmp_path / "upside-down.toml"
    config.write_text(
        '[tool.importlinter]\nroot_package = "proposal_router"\n\n'
        '[[tool.importlinter.contracts]]\nname = "store above the domain"\ntype = "layers"\n'
        'layers = ["proposal_router.service.store", "proposal_router.service.domain"]\n',
        encoding="utf-8",
    )
    run = _lint(config)
    assert run.returncode != 0, run.stdout
    assert "BROKEN" in run.stdout and "proposal_router.service.domain" in run.stdout, run.stdout
