"""Package-level promises: a light import, no torchvision, presets shipped, typed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_import_spikerl_is_light() -> None:
    code = (
        "import sys, spikerl; spikerl.Network; "
        "heavy = [m for m in ('wandb', 'ale_py', 'matplotlib', 'gymnasium', 'torchvision', "
        "'stable_baselines3', 'cv2') if m in sys.modules]; print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"heavy modules imported by `import spikerl`: {out.stdout}"


def test_no_torchvision_anywhere() -> None:
    offenders = [
        str(p.relative_to(ROOT))
        for folder in ("spikerl", "scripts", "tests")
        for p in (ROOT / folder).rglob("*.py")
        if p.name != "test_package.py"
        and any(
            line.lstrip().startswith(("import torchvision", "from torchvision"))
            for line in p.read_text().splitlines()
        )
    ]
    assert offenders == []


def test_package_is_typed_and_presets_exist() -> None:
    assert (ROOT / "spikerl" / "py.typed").is_file()
    assert sorted(p.stem for p in (ROOT / "envs").glob("*.yaml")) == [
        "Acrobot",
        "Breakout",
        "CartPole",
        "MountainCar",
        "Pendulum",
        "Pong",
        "SpaceInvaders",
    ]
    assert any((ROOT / "agents").glob("*.yaml"))


def test_constraints_pin_cpu_torch() -> None:
    lines = (ROOT / "requirements" / "constraints.txt").read_text().splitlines()
    assert "torch==2.13.0" in lines
    assert not any(line.startswith("torchvision") for line in lines)
