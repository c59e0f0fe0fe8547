"""``spikerl mnist`` end to end on a tiny limit, and its errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from spikerl.core.io import safe_torch_load
from spikerl.tasks.mnist import main, parse_args


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SPIKERL_DATA", raising=False)
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


@pytest.mark.parametrize("mode", ["unsupervised", "supervised"])
def test_cli_end_to_end(
    mode: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], shared_mnist: Path
) -> None:
    root = shared_mnist
    out = tmp_path / "run"
    argv = ["--mode", mode, "--neurons", "10", "--time", "100", "--limit", "20"]
    argv += ["--test-limit", "20", "--label-images", "20", "--data", str(root)]
    argv += ["--out", str(out), "--quiet"]
    assert main(argv) == 0
    printed = json.loads(capsys.readouterr().out)
    saved = json.loads((out / f"mnist_{mode}.json").read_text())
    assert printed["test_accuracy"] == saved["test_accuracy"]
    assert 0.0 <= saved["test_accuracy"] <= 1.0
    assert saved["n_train"] == 20 and saved["n_test"] == 20
    assert len(saved["test"]["per_class_accuracy"]) == 10
    conf = saved["test"]["confusion_matrix"]
    assert len(conf) == 10 and sum(map(sum, conf)) == 20
    ckpt = safe_torch_load(out / f"mnist_{mode}.pt")
    assert ckpt["epoch"] == 1 and ckpt["state_dict"]["projection.weight"].shape == (784, 10)
    png = out / f"mnist_{mode}_fields.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(out.glob(".*.tmp"))


def test_cli_missing_data(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "nothing"
    empty.mkdir()
    assert main(["--data", str(empty), "--out", str(tmp_path / "o"), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "not found" in err and "train-images-idx3-ubyte" in err


def test_cli_bad_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        parse_args(["--mode", "hebbian"])
    assert exc.value.code == 2
    assert "invalid choice" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parse_args(["--neurons", "0"])
    with pytest.raises(SystemExit):
        parse_args(["--mode", "supervised", "--neurons", "15"])
    s = parse_args(["--mode", "surrogate"])
    assert (s.neurons, s.epochs, s.batch, s.time) == (800, 10, 100, 6.0)
    s = parse_args([])
    assert (s.mode, s.neurons, s.epochs, s.batch, s.time) == ("unsupervised", 100, 1, 1, 350.0)
    assert s.theta_plus is None  # the paper's 0.05
    assert parse_args(["--theta-plus", "0.2"]).theta_plus == 0.2
    for bad in ("-1", "nan"):
        with pytest.raises(SystemExit):
            parse_args(["--theta-plus", bad])
    assert "--theta-plus must be" in capsys.readouterr().err


def test_cli_surrogate_mode(tmp_path: Path, shared_mnist: Path) -> None:
    root = shared_mnist
    out = tmp_path / "sur"
    argv = ["--mode", "surrogate", "--neurons", "20", "--time", "2", "--limit", "100"]
    argv += ["--test-limit", "50", "--epochs", "1", "--data", str(root), "--out", str(out)]
    assert main([*argv, "--quiet"]) == 0
    saved = json.loads((out / "mnist_surrogate.json").read_text())
    assert saved["n_test"] == 50 and len(saved["test"]["confusion_matrix"]) == 10
    assert "fc1.weight" in safe_torch_load(out / "mnist_surrogate.pt")["state_dict"]
    assert (out / "mnist_surrogate_fields.png").is_file()


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--mode", "unsupervised", "--device", "cuda"], "CPU only"),
        (["--mode", "surrogate", "--device", "tpu"], "not a torch device"),
    ],
)
def test_cli_device_errors(
    argv: list[str], needle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        parse_args(argv)
    assert exc.value.code == 2
    assert needle in capsys.readouterr().err


def test_cli_cuda_without_gpu_is_refused_clearly(capsys: pytest.CaptureFixture[str]) -> None:
    import torch

    if torch.cuda.is_available():
        assert parse_args(["--mode", "surrogate", "--device", "cuda"]).device == "cuda"
        return
    with pytest.raises(SystemExit):
        parse_args(["--mode", "surrogate", "--device", "cuda"])
    assert "CUDA is not available" in capsys.readouterr().err


def test_cli_surrogate_cpu_device(tmp_path: Path, shared_mnist: Path) -> None:
    out = tmp_path / "s"
    argv = ["--mode", "surrogate", "--neurons", "16", "--epochs", "1", "--limit", "100"]
    argv += ["--test-limit", "50", "--data", str(shared_mnist), "--out", str(out)]
    assert main([*argv, "--quiet", "--device", "cpu"]) == 0
    saved = json.loads((out / "mnist_surrogate.json").read_text())
    assert saved["settings"]["device"] == "cpu" and saved["n_test"] == 50
