"""Resume keeps everything: history files, the schedule rule, kill -9 at any moment, disk full."""

from __future__ import annotations

import csv
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from agents.parts import window_preset
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.env_util import make_vec_env

from spikerl.agents import RSTDP
from spikerl.agents.callbacks import (
    ENV_STATE,
    LAST,
    META,
    CheckpointWriteError,
    load_resumable,
    read_meta,
    save_resumable,
    schedule_note,
)
from spikerl.cli import main
from spikerl.envs.state import read_env_state

FAST = ["--set", "eval_episodes=1", "--set", "final_eval_episodes=1", "--quiet"]
FAST += ["--set", "rstdp.log_every=50"]


def _steps(run: Path) -> list[float]:
    with open(run / "progress.csv") as f:
        return [float(r["time/total_timesteps"]) for r in csv.DictReader(f)]


def test_resume_appends_progress_and_evaluations(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    argv = ["train", "--env", "CartPole", "--timesteps", "400", "--runs-dir", str(runs)]
    assert main([*argv, "--set", "eval_freq=100", "--set", "checkpoint_freq=100", *FAST]) == 0
    (run,) = runs.iterdir()
    first_rows = (run / "progress.csv").read_text().splitlines()
    first_evals = np.load(run / "evaluations.npz")["timesteps"].tolist()
    assert first_evals == [100, 200, 300, 400]
    assert main(["train", "--resume", str(run), "--timesteps", "700", "--quiet"]) == 0
    rows = (run / "progress.csv").read_text().splitlines()
    assert rows[: len(first_rows)] == first_rows  # the history before the resume is kept
    steps = _steps(run)
    assert max(steps) == 700 and min(steps) <= 100
    assert steps == sorted(steps)
    evals = np.load(run / "evaluations.npz", allow_pickle=False)
    assert evals["timesteps"].tolist() == [100, 200, 300, 400, 500, 600, 700]
    assert evals["results"].shape == (7, 1)


def test_csv_rows_after_the_checkpoint_are_dropped(tmp_path: Path) -> None:
    """A run killed after its last checkpoint logged rows the resumed run logs again: they
    are dropped (and a torn last line), so each step appears once."""
    from spikerl.agents.callbacks import ResumedCSVOutputFormat

    path = tmp_path / "progress.csv"
    path.write_text("a,time/total_timesteps\n1,100\n2,200\n3,300\n4,4")
    fmt = ResumedCSVOutputFormat(path, resume_step=200)
    fmt.write({"a": 9, "time/total_timesteps": 250, "b": 1}, {}, 250)
    fmt.close()
    assert path.read_text().splitlines() == [
        "a,time/total_timesteps,b",
        "1,100,",
        "2,200,",
        "9,250,1",
    ]


class Progress(BaseCallback):
    """Record ``_current_progress_remaining`` (what the learning-rate factor reads) per step."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: dict[int, float] = {}

    def _on_step(self) -> bool:
        self.seen[self.num_timesteps] = self.model._current_progress_remaining
        return True


def _model() -> RSTDP:
    venv = make_vec_env("CartPole-v1", n_envs=1, seed=4)
    return RSTDP("SpikingPolicy", venv, window_preset("CartPole"), seed=4)


def test_longer_resume_follows_the_longer_schedule(tmp_path: Path) -> None:
    """The documented rule: a run of 600 steps resumed to 1200 uses, from step 600 on, the
    schedule of a straight 1200-step run (progress 1 - t/1200, so the rate jumps up at the
    resume); the first part followed 1 - t/600. A note on resume says so."""
    straight, p_straight = _model(), Progress()
    straight.learn(1200, callback=p_straight)
    first, p_first = _model(), Progress()
    first.learn(600, callback=p_first)
    assert p_first.seen[600] == pytest.approx(0.0)
    save_resumable(first, tmp_path)
    meta = read_meta(tmp_path)
    assert meta["total_timesteps"] == 600
    note = schedule_note(meta, 1200)
    assert note is not None and "straight 1200-step run" in note
    assert schedule_note(meta, 600) is None
    resumed, p_resumed = load_resumable(tmp_path, _model().get_env()), Progress()
    resumed.learn(600, reset_num_timesteps=False, callback=p_resumed)
    assert sorted(p_resumed.seen) == list(range(601, 1201))
    for t, p in p_resumed.seen.items():
        assert p == pytest.approx(p_straight.seen[t], abs=1e-12), t
        assert p == pytest.approx(1 - t / 1200, abs=1e-12)
    assert p_first.seen[300] == pytest.approx(1 - 300 / 600)
    # the weights differ from the straight run: its first 600 steps had another schedule
    w = "input->action"
    assert not np.array_equal(resumed.plastic_weights()[w], straight.plastic_weights()[w])


def _train_cmd(runs: Path, timesteps: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "spikerl.cli",
        "train",
        "--env",
        "CartPole",
        "--timesteps",
        str(timesteps),
        "--runs-dir",
        str(runs),
        "--set",
        "checkpoint_freq=50",
        "--set",
        "eval_freq=500",
        *FAST,
    ]


def _check_loadable(run: Path) -> int:
    ckpt = run / "checkpoints"
    assert not [p.name for p in ckpt.iterdir() if p.name.startswith(".")]  # after cleaning
    model = RSTDP.load(ckpt / LAST)
    read_env_state(ckpt / ENV_STATE)
    meta = read_meta(ckpt)
    # renames go env state, model, meta: a kill between the last two leaves the meta one
    # checkpoint (50 steps) behind the model, never ahead (the resume reads the model's step)
    assert model.num_timesteps - int(meta.get("num_timesteps", 0)) in (0, 50)
    return int(model.num_timesteps)


@pytest.mark.slow
def test_kill_9_at_random_moments_then_resume(tmp_path: Path) -> None:
    """Four SIGKILLs at random moments of `spikerl train` (CartPole), each followed by a
    resume that is killed in turn; every checkpoint left behind loads, and the last resume
    finishes the run with an intact history."""
    rng = random.Random(14)
    runs = tmp_path / "runs"
    total = 4000
    proc = subprocess.Popen(_train_cmd(runs, total), stderr=subprocess.PIPE)
    run: Path | None = None
    reached = []
    for kill in range(4):
        deadline = time.time() + 120
        while time.time() < deadline:
            found = list(runs.glob(f"*/checkpoints/{LAST}"))
            if found and proc.poll() is None:
                run = found[0].parent.parent
                break
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            time.sleep(0.05)
        time.sleep(rng.uniform(0.0, 1.5))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        assert run is not None
        for leftover in (run / "checkpoints").glob(".*"):  # what a kill mid-write leaves
            assert ".pending." in leftover.name or ".tmp" in leftover.name
        from spikerl.agents.callbacks import clean_pending

        clean_pending(run / "checkpoints")
        reached.append(_check_loadable(run))
        cmd = [sys.executable, "-m", "spikerl.cli", "train", "--resume", str(run), "--quiet"]
        if kill < 3:
            proc = subprocess.Popen(cmd, stderr=subprocess.PIPE)
    assert run is not None
    done = subprocess.run(cmd, capture_output=True, timeout=300)
    assert done.returncode == 0, done.stderr.decode()
    assert _check_loadable(run) == total
    steps = _steps(run)
    assert steps == sorted(steps) and steps[-1] == total
    assert reached == sorted(reached)


# -- disk full ----------------------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 4 MiB tmpfs (skipped where it cannot be mounted: not root, no tmpfs)."""
    mnt = tmp_path / "disk"
    mnt.mkdir()
    res = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mnt)], capture_output=True
    )
    if res.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {res.stderr.decode().strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def _fill(disk: Path) -> Path:
    filler = disk / "filler"
    with open(filler, "wb", buffering=0) as f:
        try:
            while True:
                f.write(b"\0" * 4096)
        except OSError:
            pass
    return filler


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_disk_full_keeps_the_previous_checkpoint(small_disk: Path) -> None:
    model = _model()
    model.learn(200)
    ckpt = small_disk / "ckpt"
    save_resumable(model, ckpt)
    before = _snapshot(ckpt)
    model.learn(200, reset_num_timesteps=False)
    filler = _fill(small_disk)
    with pytest.raises(CheckpointWriteError, match="No space left on device") as info:
        save_resumable(model, ckpt)
    assert "\n" not in str(info.value) and "previous checkpoint is kept" in str(info.value)
    assert _snapshot(ckpt) == before  # intact, and no temporary files
    filler.unlink()
    assert load_resumable(ckpt, _model().get_env()).num_timesteps == 200


def test_disk_full_cli_one_message_exit_1(
    small_disk: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runs = small_disk / "runs"
    argv = ["train", "--env", "CartPole", "--timesteps", "200", "--runs-dir", str(runs)]
    assert main([*argv, "--set", "checkpoint_freq=100", "--set", "eval_freq=100", *FAST]) == 0
    (run,) = runs.iterdir()
    before = _snapshot(run / "checkpoints")
    capsys.readouterr()
    filler = _fill(small_disk)
    assert main(["train", "--resume", str(run), "--timesteps", "2000", "--quiet"]) == 1
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("spikerl: error: ")]
    assert len(errors) == 1 and errors[0].startswith("spikerl: error: cannot write"), err
    assert all(ln.startswith("spikerl: ") for ln in lines), err  # the schedule note and it
    assert "No space left on device" in err and "Traceback" not in err
    assert _snapshot(run / "checkpoints") == before
    assert read_meta(run / "checkpoints")["num_timesteps"] == 200
    filler.unlink()
    assert main(["train", "--resume", str(run), "--timesteps", "300", "--quiet"]) == 0
    assert read_meta(run / "checkpoints")["num_timesteps"] == 300
    assert (run / "checkpoints" / META).is_file()


def test_torn_checkpoint_resumes_with_fresh_episodes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A kill between the renames of a checkpoint leaves an env state of another step than
    the model: the resume notices, says so and restarts the episodes (still loadable)."""
    model = _model()
    model.learn(100)
    save_resumable(model, tmp_path)
    old_env_state = (tmp_path / ENV_STATE).read_bytes()
    model.learn(100, reset_num_timesteps=False)
    save_resumable(model, tmp_path)
    (tmp_path / ENV_STATE).write_bytes(old_env_state)  # the state of step 100, model of 200
    resumed = load_resumable(tmp_path, _model().get_env())
    assert resumed.num_timesteps == 200 and resumed._last_obs is None  # episodes restart
    assert "environment state of step 100, model of step 200" in capsys.readouterr().err
    resumed.learn(50, reset_num_timesteps=False)
    assert resumed.num_timesteps == 250
