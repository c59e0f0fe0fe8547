"""`spikerl` CLI end to end: train, resume, eval, presets, bad input, offline wandb."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import yaml

from spikerl.cli import main

FAST = [
    "--set",
    "eval_freq=200",
    "--set",
    "eval_episodes=1",
    "--set",
    "final_eval_episodes=2",
    "--set",
    "checkpoint_freq=200",
    "--quiet",
]


def _train(tmp_path: Path, *extra: str) -> Path:
    assert main(["train", "--runs-dir", str(tmp_path / "runs"), *extra]) == 0
    (run,) = (tmp_path / "runs").iterdir()
    return run


def test_train_cartpole_writes_run_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = _train(
        tmp_path,
        "--env",
        "CartPole",
        "--timesteps",
        "400",
        "--seed",
        "3",
        *FAST,
        "--set",
        "rstdp.learn.lr_actor=0.7",
    )
    assert run.name.startswith("CartPole__rstdp__3__")
    cfg = yaml.safe_load((run / "config.yaml").read_text())
    assert cfg["timesteps"] == 400 and cfg["rstdp"]["learn"]["lr_actor"] == 0.7
    for name in (
        "best_model.zip",
        "final.zip",
        "eval.json",
        "evaluations.npz",
        "progress.csv",
        "checkpoints/last.zip",
        "checkpoints/env_state.zip",
        "checkpoints/meta.json",
        "checkpoints/rstdp_200_steps.zip",
    ):
        assert (run / name).is_file(), name
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["episodes"] == 2 and len(result["action_distribution"]) == 2

    # eval a run folder and a bare zip
    assert main(["eval", str(run), "--episodes", "2"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["episodes"] == 2
    assert main(["eval", str(run / "final.zip"), "--episodes", "1"]) == 0

    # resume: continues from the last checkpoint up to the new total
    assert main(["train", "--resume", str(run), "--timesteps", "600", "--quiet"]) == 0
    meta = json.loads((run / "checkpoints/meta.json").read_text())
    assert meta["num_timesteps"] == 600


def test_train_breakout_few_hundred_steps(tmp_path: Path) -> None:
    run = _train(
        tmp_path,
        "--env",
        "Breakout",
        "--timesteps",
        "300",
        "--set",
        "eval_freq=0",
        "--set",
        "final_eval_episodes=1",
        "--set",
        "checkpoint_freq=300",
        "--quiet",
        "--set",
        "env_overrides={atari.frame_stack: 2, atari.stall_truncate_after: 200}",
    )
    result = json.loads((run / "eval.json").read_text())
    assert len(result["action_distribution"]) == 4
    assert (run / "final.zip").is_file()


def test_track_offline_wandb_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    run = _train(
        tmp_path,
        "--env",
        "CartPole",
        "--timesteps",
        "400",
        "--track",
        *FAST,
        "--set",
        "rstdp.log_every=100",
    )
    keys = (
        b"rollout/ep_rew_mean",
        b"time/fps",
        b"eval/mean_reward",
        b"snn/firing_rate/actions",
        b"rstdp/modulation",
        b"rstdp/mean_abs_dw",
        b"weights/input->action",
        b"eval/episode_spikes",
        b"eval/episode_video",
    )
    missing: list[bytes] = list(keys)
    deadline = time.time() + 60  # wandb's writer process may still be flushing
    while missing and time.time() < deadline:
        files = {f.resolve() for f in (run / "wandb").rglob("*.wandb")}
        blob = b"".join(f.read_bytes() for f in files)
        missing = [k for k in keys if k not in blob]
        if missing:
            time.sleep(0.5)
    assert not missing, missing
    assert list((run / "wandb").rglob("*.mp4")), "no episode video in the run's media"
    meta = json.loads((run / "checkpoints/meta.json").read_text())
    assert meta["wandb_id"]


def test_presets_lists(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["presets"]) == 0
    out = capsys.readouterr().out
    assert "CartPole" in out and "Breakout" in out and "rstdp" in out


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--env", "NoSuchEnv"], "CartPole"),
        (["--env", "CartPole", "--agent", "nosuchagent"], "rstdp"),
        (["--env", "CartPole", "--set", "rstdp.learn.nope=1"], "rstdp.learn.nope"),
        (["--env", "CartPole", "--set", "rstdp.snn.sim_steps=abc"], "rstdp.snn.sim_steps"),
        (["--env", "CartPole", "--set", "novalue"], "novalue"),
        (["--env", "CartPole", "--set", "rstdp.features.kind=weird"], "weird"),
    ],
)
def test_bad_input_names_the_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], needle: str
) -> None:
    assert main(["train", "--runs-dir", str(tmp_path), *args]) == 2
    err = capsys.readouterr().err
    assert needle in err, err


def test_malformed_config_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("rstdp: [unclosed\n")
    assert (
        main(["train", "--env", "CartPole", "--config", str(bad), "--runs-dir", str(tmp_path)]) == 2
    )
    assert "bad.yaml" in capsys.readouterr().err
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text("rstdp:\n  snn:\n    tau_mem_typo: 3\n")
    assert (
        main(["train", "--env", "CartPole", "--config", str(wrong), "--runs-dir", str(tmp_path)])
        == 2
    )
    assert "rstdp.snn.tau_mem_typo" in capsys.readouterr().err


def test_eval_corrupted_zip(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "m.zip"
    bad.write_bytes(b"PK\x03\x04garbage")
    assert main(["eval", str(bad), "--env", "CartPole"]) == 2
    assert "corrupted" in capsys.readouterr().err


def test_ctrl_c_saves_final_checkpoint(tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys

    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "spikerl.cli",
            "train",
            "--env",
            "CartPole",
            "--timesteps",
            "10000000",
            "--quiet",
            "--runs-dir",
            str(tmp_path / "runs"),
            "--set",
            "checkpoint_freq=100000000",
            "--set",
            "eval_freq=0",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.time() + 120
    while time.time() < deadline and not list((tmp_path / "runs").glob("*/config.yaml")):
        time.sleep(0.2)
    time.sleep(3.0)  # let it train a little
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err.decode()
    (run,) = (tmp_path / "runs").iterdir()
    meta = json.loads((run / "checkpoints/meta.json").read_text())
    assert meta["num_timesteps"] > 0
    assert (run / "checkpoints/last.zip").is_file()


def test_non_cpu_device_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        main(["train", "--env", "CartPole", "--device", "cuda", "--runs-dir", str(tmp_path)]) == 2
    )
    assert "cpu" in capsys.readouterr().err
