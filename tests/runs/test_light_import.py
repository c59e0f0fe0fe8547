"""`import spikerl` stays light: Ray, Optuna and rliable load only inside the Ray commands."""

from __future__ import annotations

import subprocess
import sys


def test_import_spikerl_and_cli_does_not_import_ray() -> None:
    code = (
        "import sys, spikerl, spikerl.cli, spikerl.runs, spikerl.runs.train, spikerl.runs.seeds,"
        " spikerl.runs.space, spikerl.runs.cluster, spikerl.runs.aggregate\n"
        "print(sorted(m for m in ('ray', 'optuna', 'rliable', 'arch', 'pandas')"
        " if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300
    )
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
