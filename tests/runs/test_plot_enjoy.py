"""``spikerl plot`` and ``spikerl enjoy`` on tiny CartPole run folders: files are written
and hold what the runs did."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from spikerl.cli import main

FAST = ["--timesteps", "300", "--quiet"]
for _kv in ("eval_freq=150", "eval_episodes=2", "final_eval_episodes=1", "rstdp.log_every=50"):
    FAST += ["--set", _kv]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    root = tmp_path_factory.mktemp("runs")
    for seed in ("0", "1"):
        assert (
            main(["train", "--runs-dir", str(root), "--env", "CartPole", "--seed", seed, *FAST])
            == 0
        )
    return sorted(root.iterdir())


def test_plot_two_runs(
    runs: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "curves.png"
    assert main(["plot", *map(str, runs), "--out", str(out)]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [r["run"] for r in printed["runs"]] == [r.name for r in runs]
    for row, run in zip(printed["runs"], runs):
        with np.load(run / "evaluations.npz") as data:
            means = data["results"].mean(axis=1)
        assert row["eval_mean_last"] == pytest.approx(means[-1], abs=1e-3)
        assert row["eval_mean_best"] == pytest.approx(means.max(), abs=1e-3)
        assert row["steps"] == 300


def test_plot_group_folder_and_default_path(
    runs: list[Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """A folder of run folders stands for its runs; one argument -> <folder>/curves.png."""
    assert main(["plot", str(runs[0].parent)]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert len(printed["runs"]) == 2
    assert Path(printed["figure"]) == runs[0].parent / "curves.png"


def test_plot_no_run_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plot", str(tmp_path)]) == 2
    assert "no progress.csv or evaluations.npz" in capsys.readouterr().err


def test_enjoy_video_and_figure(
    runs: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import imageio.v3 as iio

    video, fig = tmp_path / "cartpole.mp4", tmp_path / "spikes.png"
    argv = ["enjoy", str(runs[0]), "--video", str(video), "--figure", str(fig)]
    assert main([*argv, "--episodes", "2"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["model"].endswith("best_model.zip")
    frames = iio.imread(video)
    # a frame at each reset and after every step of both episodes
    assert frames.shape[0] == sum(printed["lengths"]) + 2
    assert frames.shape[-1] == 3
    assert printed["returns"] == [float(n) for n in printed["lengths"]]  # CartPole: +1 a step
    assert fig.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_enjoy_live_without_display_says_what_to_do(
    runs: list[Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    assert main(["enjoy", str(runs[0])]) == 2
    assert "--video" in capsys.readouterr().err
