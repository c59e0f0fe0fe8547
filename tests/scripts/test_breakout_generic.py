"""The Breakout generic-pixel report script: one tiny run per encoder goes end to end."""

from __future__ import annotations

import importlib.util
import pathlib
import sys
from types import ModuleType

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "breakout_generic", ROOT / "scripts/breakout_generic.py"
    )
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules["breakout_generic"] = mod
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("encoder", ["pixels", "breakout_objects"])
def test_tiny_run_reports_final_weights_with_ties(encoder: str, tmp_path: pathlib.Path) -> None:
    bg = _script()
    sets = ["env_overrides={atari.frame_stack: 2, atari.stall_truncate_after: 200}"]
    row = bg.run(encoder, 3, 300, 1, tmp_path, sets)
    assert row["encoder"] == encoder and row["game_specific"] == (encoder == "breakout_objects")
    final = row["final"]
    assert len(final["returns"]) == 1 and final["tie_fraction"] is not None
    assert sum(final["action_counts"]) > 0


def test_unknown_encoder_is_refused(tmp_path: pathlib.Path) -> None:
    with pytest.raises(ValueError, match="unknown encoder"):
        _script().run("rgb", 3, 300, 1, tmp_path)
