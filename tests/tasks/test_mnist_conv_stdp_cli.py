"""``spikerl mnist --mode conv-stdp`` end to end on a tiny subset, and its errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from spikerl.cli import main as cli_main
from spikerl.core.io import safe_torch_load
from spikerl.tasks.mnist import parse_args


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SPIKERL_DATA", raising=False)
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


def test_conv_stdp_cli_end_to_end(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], shared_mnist: Path
) -> None:
    out = tmp_path / "run"
    argv = ["mnist", "--mode", "conv-stdp", "--stdp-images", "40", "--limit", "60"]
    argv += ["--test-limit", "30", "--epochs", "2", "--data", str(shared_mnist)]
    argv += ["--out", str(out), "--quiet", "--set", "conv_stdp.maps=[6, 8]"]
    argv += ["--set", "readout.per_class=2"]
    assert cli_main(argv) == 0
    printed = json.loads(capsys.readouterr().out)
    saved = json.loads((out / "mnist_conv_stdp.json").read_text())
    assert printed["test_accuracy"] == saved["test_accuracy"]
    assert saved["task"] == "mnist_conv_stdp"
    assert 0.0 <= saved["test_accuracy"] <= 1.0 and 0.0 <= saved["linear_test_accuracy"] <= 1.0
    assert saved["n_train"] == 60 and saved["n_test"] == 30
    assert saved["stdp_images_per_layer"] == 40
    assert len(saved["readout_train_hit_rate_per_epoch"]) == 2
    conf = saved["test"]["confusion_matrix"]
    assert len(conf) == 10 and sum(map(sum, conf)) == 30
    # The resolved settings are saved with the run, nested configs included.
    assert saved["settings"]["conv_stdp"]["maps"] == [6, 8]
    assert saved["settings"]["readout"]["per_class"] == 2
    # 6 maps * (3x3 pooled tap of 12x12 -> 4x4) + 8 maps * 5x5 (layer 2, 1x1 tap).
    assert saved["n_features"] == 6 * 16 + 8 * 25
    state = safe_torch_load(out / "mnist_conv_stdp.pt")["state_dict"]
    assert state["layers.0.weight"].shape == (6, 2, 5, 5)
    assert state["readout.weight"].shape == (6 * 16 + 8 * 25, 20)
    png = out / "mnist_conv_stdp_kernels.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(out.glob(".*.tmp"))


def test_conv_stdp_defaults() -> None:
    s = parse_args(["--mode", "conv-stdp"])
    assert (s.epochs, s.batch, s.stdp_images) == (10, 16, 2000)
    assert s.conv_stdp.maps == (30, 64) and s.readout.per_class == 10


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--neurons", "100"], "--neurons does not apply to --mode conv-stdp"),
        (["--time", "100"], "--time does not apply"),
        (["--track"], "--track does not apply"),
        (["--stdp-images", "0"], "--stdp-images must be >= 1"),
        (["--device", "cuda"], "conv-stdp mode runs on the CPU only"),
        (["--set", "conv_stdp.maps=[4]"], "kernels: expected 1 entries"),
        (["--set", "conv_stdp.mapz=[4]"], "did you mean 'maps'"),
        (["--set", "readout.per_class=two"], "readout.per_class: expected an integer"),
        (["--set", "readout.gamma=-1"], "readout.gamma: -1.0 is outside the allowed range"),
        (["--set", "readout.per_class=0"], "per_class must be >= 1"),
        (["--set", "readout.decision=vote"], "readout.decision: 'vote' is not one of"),
        (["--set", "conv_stdp.thresholds=[0, 1]"], "thresholds: every entry must be finite"),
    ],
)
def test_conv_stdp_bad_arguments(
    argv: list[str], needle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        parse_args(["--mode", "conv-stdp", *argv])
    assert exc.value.code == 2
    assert needle in capsys.readouterr().err
