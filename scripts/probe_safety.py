"""Probe how `spikerl` answers hostile or bad input, for a before/after comparison.

Runs the ``spikerl`` CLI of the source tree given as argument (``PYTHONPATH=<tree>``) on
one small CartPole run and on crafted inputs, and prints one JSON object: per input class
the exit status, whether a pickle payload ran (it would create a marker file), whether a
traceback was printed, and the last stderr line. Compare two trees, e.g.::

    git archive <old-commit> | tar -x -C /tmp/old
    python scripts/probe_safety.py /tmp/old <old-commit> > results/security_probe_before.json
    python scripts/probe_safety.py . HEAD > results/security_probe_after.json
"""

from __future__ import annotations

import base64
import json
import os
import pathlib
import pickle
import subprocess
import sys
import tempfile
import zipfile
from typing import Any

import cloudpickle

FAST = ["--quiet", "--set", "eval_freq=100", "--set", "eval_episodes=1"]
FAST += ["--set", "final_eval_episodes=1", "--set", "checkpoint_freq=100"]


class Payload:
    """Unpickling it creates the marker file (stands in for any code)."""

    def __init__(self, marker: pathlib.Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return (pathlib.Path.touch, (self.marker,))


def cli(tree: str, *args: str) -> dict[str, Any]:
    """Run ``spikerl`` from ``tree``: exit status, traceback?, last stderr line, stdout."""
    env = dict(os.environ, PYTHONPATH=str(pathlib.Path(tree).resolve()))
    cmd = [sys.executable, "-m", "spikerl.cli", *args]
    cwd = tempfile.gettempdir()  # not the tree's root: ``-m`` would import from there
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600, cwd=cwd)
    lines = r.stderr.strip().splitlines()
    return {
        "rc": r.returncode,
        "traceback": "Traceback" in r.stderr,
        "msg": lines[-1][:200] if lines else "",
        "stdout": r.stdout,
    }


def probe(tree: str) -> dict[str, Any]:
    """All input classes; see the module docstring."""
    tmp = pathlib.Path(tempfile.mkdtemp())
    marker = tmp / "pwned"
    out: dict[str, Any] = {}

    def ran() -> bool:
        hit = marker.exists()
        marker.unlink(missing_ok=True)
        return hit

    runs = tmp / "runs"
    cli(tree, "train", "--env", "CartPole", "--timesteps", "200", "--runs-dir", str(runs), *FAST)
    run = next(runs.iterdir())

    with zipfile.ZipFile(run / "final.zip") as zf:
        entries = {n: zf.read(n) for n in zf.namelist()}
    data = json.loads(entries["data"])
    blob = base64.b64encode(cloudpickle.dumps(Payload(marker))).decode()
    data["evil"] = {":type:": "x", ":serialized:": blob}
    entries["data"] = json.dumps(data).encode()
    with zipfile.ZipFile(tmp / "bad.zip", "w") as zf:
        for name, content in entries.items():
            zf.writestr(name, content)
    r = cli(tree, "eval", str(tmp / "bad.zip"), "--env", "CartPole", "--episodes", "1")
    out["cloudpickle payload in a model zip (eval)"] = {**r, "payload_ran": ran()}

    ckpt = run / "checkpoints"
    for name in ("env_state.pkl", "env_state.zip"):
        (ckpt / name).write_bytes(pickle.dumps(Payload(marker)))
    r = cli(tree, "train", "--resume", str(run), "--timesteps", "300", "--quiet")
    out["pickle payload as env state (--resume)"] = {**r, "payload_ran": ran()}

    r = cli(tree, "eval", str(run / "final.zip"), "--env", "CartPole", "--episodes", "0")
    out["eval --episodes 0"] = {**r, "stdout_has_NaN": "NaN" in r["stdout"]}

    def train(folder: str, *extra: str) -> dict[str, Any]:
        args = ["train", "--env", "CartPole", "--runs-dir", str(tmp / folder), "--quiet"]
        return cli(tree, *args, "--set", "eval_freq=0", "--set", "final_eval_episodes=1", *extra)

    r = train("r2", "--timesteps", "200", "--set", "rstdp.learn.lr_actor=.nan")
    out["--set rstdp.learn.lr_actor=.nan"] = {**r, "run_folder_left": (tmp / "r2").exists()}
    r = train("r3", "--timesteps", "60", "--set", "checkpoint_freq=-1")
    n = len(list((tmp / "r3").glob("*/checkpoints/rstdp_*_steps.zip")))
    out["checkpoint_freq=-1"] = {**r, "numbered_checkpoints": n}
    train("r4", "--timesteps", "60")
    meta = next((tmp / "r4").glob("*/checkpoints/meta.json")).read_text()
    out["meta.json of a run without evaluations"] = {"has_Infinity": "Infinity" in meta}
    r = train("r5", "--set", "timesteps=1.0e9")
    out["timesteps=1.0e9 (a string in YAML 1.1)"] = r

    (run / "config.yaml").write_text(f"!!python/object/apply:pathlib.Path.touch [{marker}]\n")
    r = cli(tree, "train", "--resume", str(run), "--quiet")
    out["config.yaml with a python tag (--resume)"] = {**r, "payload_ran": ran()}
    (run / "config.yaml").write_text("")
    out["empty config.yaml (eval)"] = cli(tree, "eval", str(run), "--episodes", "1")
    r = cli(tree, "eval", str(run / "final.zip"), "--env", "Acrobot", "--episodes", "1")
    out["eval on an env of another observation space"] = r
    for value in out.values():
        value.pop("stdout", None)
    return out


if __name__ == "__main__":
    tree = sys.argv[1] if len(sys.argv) > 1 else "."
    label = sys.argv[2] if len(sys.argv) > 2 else tree  # e.g. the commit the tree holds
    print(json.dumps({"tree": label, "results": probe(tree)}, indent=1))
