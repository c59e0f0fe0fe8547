"""`spikerl sweep` on a real local Ray (2 CPUs): Optuna TPE + ASHA, a best preset that
trains, resuming an interrupted sweep, and bad input as one clear line."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from spikerl.cli import main

SPACE = {
    "rstdp.learn.lr_actor": {"loguniform": [0.001, 3.0]},
    "rstdp.snn.noise_std": {"uniform": [0.3, 4.0]},
}
#: SPACE and the competition's strength: strong inhibition makes a 2000-step trial play one
#: action (return 9), weak inhibition leaves ties and mixed play, so ASHA has returns to rank
#: and stops trials (SPACE alone: every trial runs to the end, so one can be cut mid-way)
RANKED = {**SPACE, "rstdp.snn.w_inh": {"uniform": [0.0, 2.0]}}
BUDGET = [
    "--env",
    "CartPole",
    "--timesteps",
    "2000",
    "--set",
    "eval_freq=400",
    "--set",
    "eval_episodes=2",
    "--set",
    "final_eval_episodes=2",
    "--set",
    "checkpoint_freq=400",
    # the sweep machinery needs trials that differ within 2000 steps; the preset's
    # weight normalisation makes every such short trial play one action (return 9)
    "--set",
    "rstdp.learn.weight_norm=false",
    # and with the preset's timing and rule (input one step late, per-step eligibility
    # decay) every 2000-step trial plays one action too (returns 9-10 whatever the rates),
    # so ASHA has nothing to rank: the machinery is tested with input in its own window and
    # the windowed rule, whose short trials differ
    "--set",
    "rstdp.snn.input_lead=true",
    "--set",
    "rstdp.learn.eligibility=window",
]


def _space(tmp_path: Path, data: object = SPACE) -> Path:
    path = tmp_path / "space.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_sweep_stops_bad_trials_and_writes_a_preset_that_trains(tmp_path: Path) -> None:
    argv = ["sweep", *BUDGET, "--space", str(_space(tmp_path, RANKED)), "--trials", "4"]
    assert main([*argv, "--max-concurrent", "1", "--runs-dir", str(tmp_path / "sw")]) == 0
    (sweep,) = (tmp_path / "sw").iterdir()
    summary = json.loads((sweep / "summary.json").read_text())
    assert summary["done"] == 4 and not summary["interrupted"] and summary["errored"] == 0
    assert summary["stopped_early"] >= 1, summary["trials"]
    assert summary["finished"] >= 1
    for row in summary["trials"]:  # every trial is a normal run folder
        run = Path(row["run_dir"])
        assert (run / "config.yaml").is_file() and (run / "evaluations.npz").is_file()
        if row["state"] == "stopped":
            assert row["timesteps"] < 2000 and not (run / "final.zip").exists()
        else:
            assert row["state"] == "finished" and (run / "eval.json").is_file()
            final = json.loads((run / "eval.json").read_text())["final"]["mean_reward"]
            assert row["eval_return"] == pytest.approx(final)
    best = summary["best"]
    assert best["eval_return"] == max(
        r["eval_return"] for r in summary["trials"] if r["state"] == "finished"
    )
    # the preset: only what differs from the CartPole preset, no run budget
    preset = yaml.safe_load((sweep / "best_config.yaml").read_text())
    assert set(preset) == {"rstdp"}
    assert preset["rstdp"]["learn"]["lr_actor"] == best["params"]["rstdp.learn.lr_actor"]
    assert preset["rstdp"]["snn"]["noise_std"] == best["params"]["rstdp.snn.noise_std"]
    runs = tmp_path / "runs"
    cfg_file = str(sweep / "best_config.yaml")
    train = ["train", *BUDGET, "--config", cfg_file, "--quiet", "--runs-dir", str(runs)]
    assert main(train) == 0
    (run,) = runs.iterdir()
    cfg = yaml.safe_load((run / "config.yaml").read_text())
    assert cfg["rstdp"]["learn"]["lr_actor"] == best["params"]["rstdp.learn.lr_actor"]
    assert (run / "final.zip").is_file()


def test_interrupted_sweep_resumes_and_finishes(tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "spikerl.cli", "sweep", *BUDGET, "--space", str(_space(tmp_path))]
    cmd += ["--trials", "3", "--max-concurrent", "1", "--runs-dir", str(tmp_path / "sw")]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 600

    def ledger() -> list[dict]:
        found = list((tmp_path / "sw").glob("*/trials.json"))
        try:
            return list(json.loads(found[0].read_text())["trials"].values()) if found else []
        except (OSError, ValueError):  # never partial (atomic), but may vanish mid-rename
            return []

    def cut_point() -> bool:  # one trial done and the next one past its first checkpoint
        trials = ledger()
        done = sum(t["state"] in ("finished", "stopped") for t in trials)
        return done >= 1 and any(t["state"] == "running" and t["reports"] for t in trials)

    while time.time() < deadline and not cut_point() and proc.poll() is None:
        time.sleep(0.2)
    assert proc.poll() is None, "the sweep ended before it could be interrupted"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=300)
    (sweep,) = (tmp_path / "sw").iterdir()
    first = json.loads((sweep / "trials.json").read_text())["trials"]
    assert proc.returncode == 130, err.decode()[-2000:]
    n_done = sum(t["state"] in ("finished", "stopped") for t in first.values())
    assert 1 <= n_done < 3

    assert main(["sweep", "--resume", str(sweep)]) == 0
    summary = json.loads((sweep / "summary.json").read_text())
    assert summary["done"] == 3 and not summary["interrupted"] and summary["errored"] == 0
    after = json.loads((sweep / "trials.json").read_text())["trials"]
    for k, t in first.items():  # done trials are kept as they were, not run again
        if t["state"] in ("finished", "stopped"):
            assert after[k] == t
    # the trial cut off mid-way ran again with the same values in the same run folder,
    # continuing from its checkpoint (its first report after resuming is past the cut)
    (cut,) = [t for t in after.values() if t["state"] == "restarted"]
    again = [u for u in after.values() if u is not cut and u["params"] == cut["params"]]
    assert len(again) == 1 and again[0]["run_dir"] == cut["run_dir"]
    assert again[0]["state"] in ("finished", "stopped")
    assert again[0]["reports"][0][0] > cut["reports"][0][0]


@pytest.mark.parametrize(
    ("space", "extra", "needle"),
    [
        ({}, [], "empty"),
        ({"rstdp.learn.nope": {"uniform": [0, 1]}}, [], "rstdp.learn.nope"),
        (SPACE, ["--trials", "0"], "--trials 0"),
        (SPACE, ["--address", "127.0.0.1:1"], "127.0.0.1:1"),
        (SPACE, ["--address", "ray://127.0.0.1:1"], "ray://127.0.0.1:1"),
        (SPACE, ["--set", "eval_freq=0"], "eval_freq"),
    ],
)
def test_wrong_sweep_input_is_one_line(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    space: object,
    extra: list[str],
    needle: str,
) -> None:
    argv = ["sweep", *BUDGET, "--space", str(_space(tmp_path, space)), "--trials", "2", *extra]
    assert main([*argv, "--runs-dir", str(tmp_path / "sw")]) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and len(err.splitlines()) == 1, err
    assert not (tmp_path / "sw").exists()  # refused before anything was written


def test_resume_of_a_folder_that_is_no_sweep(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["sweep", "--resume", str(tmp_path)]) == 2
    assert "not a sweep folder" in capsys.readouterr().err
