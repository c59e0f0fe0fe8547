"""Crafted files: pickle payloads in every file of a run folder never execute.

Each payload, if unpickled, would create a marker file (its ``__reduce__`` calls
``pathlib.Path.touch``); every test asserts the marker does not exist and that the refusal
is one clear line (``spikerl: error: ...``, exit 2 on the command line), not a traceback.
"""

from __future__ import annotations

import base64
import io
import json
import pathlib
import pickle
import shutil
import zipfile
from pathlib import Path
from typing import Any

import cloudpickle
import numpy as np
import pytest
import torch
from stable_baselines3.common.env_util import make_vec_env

from spikerl.agents import RSTDP, CheckpointError
from spikerl.agents.persistence import load_model, save_model
from spikerl.cli import main
from spikerl.envs.state import EnvStateError, read_env_state


class Payload:
    """Unpickling this creates ``marker`` (stands in for any code)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return (pathlib.Path.touch, (pathlib.Path(self.marker),))


def _serialized(marker: Path) -> dict[str, str]:
    """An SB3 ``data`` value as SB3's own save writes it: base64 cloudpickle."""
    blob = base64.b64encode(cloudpickle.dumps(Payload(marker))).decode()
    return {":type:": "<class 'Payload'>", ":serialized:": blob}


def _rewrite(src: Path, dst: Path, change: dict[str, bytes | None]) -> None:
    """Copy zip ``src`` to ``dst`` with entries replaced, added or (None) removed."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for name in zin.namelist():
            if name in change:
                continue
            zout.writestr(name, zin.read(name))
        for name, blob in change.items():
            if blob is not None:
                zout.writestr(name, blob)


def _data(path: Path) -> dict[str, Any]:
    with zipfile.ZipFile(path) as zf:
        return dict(json.loads(zf.read("data")))


@pytest.fixture(scope="module")
def model_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("model")
    model = RSTDP("SpikingPolicy", make_vec_env("CartPole-v1", n_envs=1, seed=0), seed=0)
    model.learn(50)
    model.save(folder / "m.zip")
    return folder / "m.zip"


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small finished CartPole run (every file a run folder holds)."""
    runs = tmp_path_factory.mktemp("runs")
    args = ["train", "--env", "CartPole", "--timesteps", "200", "--runs-dir", str(runs)]
    args += ["--set", "eval_freq=100", "--set", "eval_episodes=1", "--set", "checkpoint_freq=100"]
    args += ["--set", "final_eval_episodes=1", "--quiet"]
    assert main(args) == 0
    (run,) = runs.iterdir()
    return run


@pytest.fixture
def run_copy(run_folder: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "run"
    shutil.copytree(run_folder, dst)
    return dst


def _cli_refuses(
    argv: list[str], capsys: pytest.CaptureFixture[str], marker: Path, needle: str
) -> str:
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert lines and lines[-1].startswith("spikerl: error: "), err
    assert "Traceback" not in err
    assert needle in err, err
    assert not marker.exists(), "the payload ran"
    return err


# -- model zips ---------------------------------------------------------------------------


def test_serialized_value_in_data_is_refused(model_zip: Path, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    data = _data(model_zip)
    data["evil"] = _serialized(marker)
    _rewrite(model_zip, tmp_path / "bad.zip", {"data": json.dumps(data).encode()})
    with pytest.raises(CheckpointError, match=r"key 'evil'.*pickled.*custom_objects"):
        RSTDP.load(tmp_path / "bad.zip")
    assert not marker.exists()
    # custom_objects replaces the key without reading it
    loaded = RSTDP.load(tmp_path / "bad.zip", custom_objects={"evil": 1})
    assert loaded.evil == 1  # type: ignore[attr-defined]
    assert not marker.exists()


def test_serialized_value_nested_is_refused(model_zip: Path, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    data = _data(model_zip)
    data["policy_kwargs"] = {"net": [_serialized(marker)]}
    _rewrite(model_zip, tmp_path / "bad.zip", {"data": json.dumps(data).encode()})
    with pytest.raises(CheckpointError, match=r"policy_kwargs\.net\[0\]"):
        RSTDP.load(tmp_path / "bad.zip")
    assert not marker.exists()


def test_sb3_written_zip_is_refused_not_unpickled(tmp_path: Path) -> None:
    """A zip from SB3's own ``save`` (cloudpickled policy_class) is refused by name."""
    from stable_baselines3 import PPO
    from stable_baselines3.common.base_class import BaseAlgorithm

    ppo = PPO("MlpPolicy", make_vec_env("CartPole-v1", n_envs=1), n_steps=64, batch_size=32)
    BaseAlgorithm.save(ppo, tmp_path / "sb3.zip")
    with pytest.raises(CheckpointError, match=r"key .(policy_class|clip_range|lr_schedule)."):
        load_model(PPO, tmp_path / "sb3.zip")
    save_model(ppo, tmp_path / "safe.zip")  # the pickle-free format round-trips PPO
    again = load_model(PPO, tmp_path / "safe.zip")
    obs = np.zeros((1, 4), dtype=np.float32)
    assert again.predict(obs, deterministic=True)[0] == ppo.predict(obs, deterministic=True)[0]
    assert again.clip_range(0.5) == ppo.clip_range(0.5)


@pytest.mark.parametrize(
    ("entry", "match"),
    [("payload.pkl", "unknown zip entry 'payload.pkl'"), ("policy.pth", "not a plain tensor file")],
)
def test_pickle_entries_are_refused(
    model_zip: Path, tmp_path: Path, entry: str, match: str
) -> None:
    marker = tmp_path / "pwned"
    _rewrite(model_zip, tmp_path / "bad.zip", {entry: pickle.dumps(Payload(marker))})
    with pytest.raises(CheckpointError, match=match):
        RSTDP.load(tmp_path / "bad.zip")
    assert not marker.exists()


def test_torch_file_with_payload_is_refused(model_zip: Path, tmp_path: Path) -> None:
    """``torch.save`` of an object (a real .pth layout) is refused by weights_only."""
    marker = tmp_path / "pwned"
    buf = io.BytesIO()
    torch.save({"net.weight": Payload(marker)}, buf)
    _rewrite(model_zip, tmp_path / "bad.zip", {"policy.pth": buf.getvalue()})
    with pytest.raises(CheckpointError, match=r"policy\.pth"):
        RSTDP.load(tmp_path / "bad.zip")
    assert not marker.exists()


def test_object_array_in_npz_is_refused(model_zip: Path, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    buf = io.BytesIO()
    np.savez(buf, a0=np.array([Payload(marker)], dtype=object), allow_pickle=True)
    _rewrite(model_zip, tmp_path / "bad.zip", {"arrays.npz": buf.getvalue()})
    with pytest.raises(CheckpointError, match=r"arrays\.npz"):
        RSTDP.load(tmp_path / "bad.zip")
    assert not marker.exists()


@pytest.mark.parametrize(
    ("value", "match"),
    [
        ({"__class__": "os.system"}, "outside the trusted packages"),
        ({"__object__": "subprocess.Popen", "attrs": {}}, "outside the trusted packages"),
        ({"__dataclass__": "builtins.eval", "fields": {}}, "outside the trusted packages"),
        ({"__object__": "spikerl.agents.rstdp.RSTDP", "attrs": {}}, "may not be loaded"),
        ({"__class__": "spikerl.cli.main"}, "not a class"),
        ({"__reduce__": "x"}, "unknown entry '__reduce__'"),
        ({"__ndarray__": "missing"}, "missing array"),
    ],
)
def test_untrusted_tags_are_refused(
    model_zip: Path, tmp_path: Path, value: dict[str, Any], match: str
) -> None:
    data = _data(model_zip)
    data["extra"] = value
    _rewrite(model_zip, tmp_path / "bad.zip", {"data": json.dumps(data).encode()})
    with pytest.raises(CheckpointError, match=match):
        RSTDP.load(tmp_path / "bad.zip")


def test_eval_refuses_payload_zip(
    model_zip: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    marker = tmp_path / "pwned"
    data = _data(model_zip)
    data["evil"] = _serialized(marker)
    _rewrite(model_zip, tmp_path / "bad.zip", {"data": json.dumps(data).encode()})
    _cli_refuses(["eval", str(tmp_path / "bad.zip"), "--env", "CartPole"], capsys, marker, "'evil'")


# -- every file of a run folder -----------------------------------------------------------


@pytest.mark.parametrize("name", ["best_model.zip", "final.zip", "checkpoints/last.zip"])
def test_run_folder_model_payloads(
    run_copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    marker = tmp_path / "pwned"
    data = _data(run_copy / name)
    data["evil"] = _serialized(marker)
    bad = tmp_path / "x.zip"
    _rewrite(run_copy / name, bad, {"data": json.dumps(data).encode()})
    bad.replace(run_copy / name)
    if name == "checkpoints/last.zip":
        argv = ["train", "--resume", str(run_copy), "--timesteps", "300", "--quiet"]
    else:
        for other in ("best_model.zip", "final.zip"):
            if other != name:
                (run_copy / other).unlink()
        argv = ["eval", str(run_copy), "--episodes", "1"]
    _cli_refuses(argv, capsys, marker, "'evil'")


def test_legacy_pickled_env_state_is_never_read(
    run_copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    marker = tmp_path / "pwned"
    (run_copy / "checkpoints/env_state.zip").unlink()
    (run_copy / "checkpoints/env_state.pkl").write_bytes(pickle.dumps(Payload(marker)))
    assert main(["train", "--resume", str(run_copy), "--timesteps", "300", "--quiet"]) == 0
    assert "never read" in capsys.readouterr().err
    assert not marker.exists()


@pytest.mark.parametrize(
    ("entry", "make", "needle"),
    [
        ("data", lambda m: pickle.dumps(Payload(m)), "malformed JSON"),
        ("arrays.npz", lambda m: pickle.dumps(Payload(m)), "arrays.npz"),
        ("evil.pkl", lambda m: pickle.dumps(Payload(m)), "evil.pkl"),
    ],
)
def test_env_state_payloads(
    run_copy: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    entry: str,
    make: Any,
    needle: str,
) -> None:
    marker = tmp_path / "pwned"
    path = run_copy / "checkpoints/env_state.zip"
    _rewrite(path, tmp_path / "e.zip", {entry: make(marker)})
    (tmp_path / "e.zip").replace(path)
    with pytest.raises(EnvStateError, match=needle.replace(".", r"\.")):
        read_env_state(path)
    argv = ["train", "--resume", str(run_copy), "--timesteps", "300", "--quiet"]
    _cli_refuses(argv, capsys, marker, needle)


def test_env_state_serialized_value(
    run_copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    marker = tmp_path / "pwned"
    path = run_copy / "checkpoints/env_state.zip"
    with zipfile.ZipFile(path) as zf:
        state = json.loads(zf.read("data"))
    state["envs"][0][0]["attrs"]["rewards"] = _serialized(marker)
    _rewrite(path, tmp_path / "e.zip", {"data": json.dumps(state).encode()})
    (tmp_path / "e.zip").replace(path)
    argv = ["train", "--resume", str(run_copy), "--timesteps", "300", "--quiet"]
    _cli_refuses(argv, capsys, marker, "pickled")


def test_env_state_cannot_shadow_methods(
    run_copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = run_copy / "checkpoints/env_state.zip"
    with zipfile.ZipFile(path) as zf:
        state = json.loads(zf.read("data"))
    state["envs"][0][0]["attrs"]["step"] = 1
    _rewrite(path, tmp_path / "e.zip", {"data": json.dumps(state).encode()})
    (tmp_path / "e.zip").replace(path)
    argv = ["train", "--resume", str(run_copy), "--timesteps", "300", "--quiet"]
    _cli_refuses(argv, capsys, tmp_path / "none", "'step' is not a state attribute")


@pytest.mark.parametrize("command", ["resume", "eval"])
@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("!!python/object/apply:pathlib.Path.touch [MARKER]\n", "never Python objects"),
        ("env: !!python/object/apply:pathlib.Path.touch [MARKER]\n", "never Python objects"),
        ("", "empty"),
        ("- a\n- b\n", "mapping"),
        ("env: [unclosed\n", "malformed YAML"),
        ("just text\n", "mapping"),
    ],
)
def test_config_yaml(
    run_copy: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    command: str,
    text: str,
    needle: str,
) -> None:
    marker = tmp_path / "pwned"
    (run_copy / "config.yaml").write_text(text.replace("MARKER", str(marker)))
    if command == "resume":
        argv = ["train", "--resume", str(run_copy), "--quiet"]
    else:
        argv = ["eval", str(run_copy), "--episodes", "1"]
    _cli_refuses(argv, capsys, marker, needle)


@pytest.mark.parametrize(
    ("blob", "needle"),
    [(b"\x80\x04garbage", "malformed JSON"), (b"[1, 2]", "JSON object"), (b"{", "malformed")],
)
def test_meta_json(
    run_copy: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path, blob: bytes, needle: str
) -> None:
    marker = tmp_path / "pwned"
    (run_copy / "checkpoints/meta.json").write_bytes(blob)
    argv = ["train", "--resume", str(run_copy), "--timesteps", "300", "--quiet"]
    _cli_refuses(argv, capsys, marker, needle)


def test_evaluations_npz_with_pickle(
    run_copy: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    marker = tmp_path / "pwned"
    np.savez(
        run_copy / "evaluations.npz",
        timesteps=np.array([Payload(marker)], dtype=object),
        allow_pickle=True,
    )
    argv = ["train", "--resume", str(run_copy), "--timesteps", "300", "--quiet"]
    _cli_refuses(argv, capsys, marker, "evaluations.npz")


def test_run_folder_files_are_pickle_free(run_folder: Path) -> None:
    """No file of a finished run is a pickle (the formats are JSON, npz, zip, csv, yaml)."""
    for path in run_folder.rglob("*"):
        if not path.is_file():
            continue
        head = path.read_bytes()[:2]
        assert head != b"\x80\x04" and head != b"\x80\x05", path
        if path.suffix == ".json":
            json.loads(path.read_text(), parse_constant=_refuse_constant)
        if path.suffix == ".zip":
            with zipfile.ZipFile(path) as zf:
                for name in zf.namelist():
                    if name == "data":
                        text = zf.read(name).decode()
                        assert ":serialized:" not in text, (path, name)
                        json.loads(text, parse_constant=_refuse_constant)


def _refuse_constant(name: str) -> float:
    raise AssertionError(f"non-standard JSON constant {name}")


def test_config_option_with_python_tag(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    marker = tmp_path / "pwned"
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"seed: !!python/object/apply:pathlib.Path.touch [{marker}]\n")
    argv = ["train", "--env", "CartPole", "--config", str(cfg), "--runs-dir", str(tmp_path / "r")]
    _cli_refuses(argv, capsys, marker, "never Python objects")
    argv = ["train", "--env", "CartPole", "--runs-dir", str(tmp_path / "r")]
    _cli_refuses(
        [*argv, "--set", f"seed=!!python/object/apply:os.system [touch {marker}]"],
        capsys,
        marker,
        "--set seed",
    )
