"""SB3 callbacks for runs: resumable checkpoints and graceful stop.

The dashboard panels (wandb, TensorBoard) are in :mod:`spikerl.agents.panels`.
"""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import signal
import sys
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

import numpy as np
from stable_baselines3.common.callbacks import BaseCallback, EvalCallback
from stable_baselines3.common.logger import KVWriter

from spikerl.agents.rstdp import RSTDP

LAST = "last.zip"
ENV_STATE = "env_state.zip"
META = "meta.json"
#: Pickled env state written by older versions: never read (resuming restarts episodes).
LEGACY_ENV_STATE = "env_state.pkl"
_PENDING = ".pending."


class CheckpointWriteError(RuntimeError):
    """A checkpoint could not be written (disk full, permissions); the previous one is kept."""


def write_error(exc: OSError, run_dir: pathlib.Path) -> CheckpointWriteError:
    """One-line error for a failed write in a run folder (disk full, read-only, quota)."""
    what = pathlib.Path(exc.filename).name if exc.filename else "a run file"
    return CheckpointWriteError(
        f"cannot write {what} in {run_dir}: {exc.strerror or exc}; the last checkpoint in "
        f"{run_dir / 'checkpoints'} is kept (free space, then resume with --resume {run_dir})"
    )


@contextlib.contextmanager
def run_writes(run_dir: pathlib.Path) -> Iterator[None]:
    """Turn an ``OSError`` raised while writing run files into :func:`write_error`."""
    try:
        yield
    except OSError as exc:
        raise write_error(exc, run_dir) from None


def _json_safe(value: Any) -> Any:
    """Non-finite floats -> None, so that ``meta.json`` is strict JSON."""
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


def clean_pending(folder: pathlib.Path) -> None:
    """Remove temporary files that an interrupted (killed) checkpoint write left behind."""
    if not folder.is_dir():
        return
    for p in folder.iterdir():
        if p.name.startswith(_PENDING) or (p.name.startswith(".") and ".tmp" in p.name):
            with contextlib.suppress(OSError):
                p.unlink()


def _commit(pending: dict[pathlib.Path, pathlib.Path]) -> None:
    for tmp, final in pending.items():
        os.replace(tmp, final)


def _save(model: Any, path: pathlib.Path) -> None:
    """``RSTDP.save`` (adds traces and RNGs), else the pickle-free ``save_model``."""
    from spikerl.agents.persistence import save_model

    if isinstance(model, RSTDP):
        model.save(path)
    else:
        save_model(model, path)


def save_resumable(model: Any, folder: pathlib.Path, extra: dict[str, Any] | None = None) -> None:
    """Write a resumable checkpoint: ``last.zip``, ``env_state.zip`` and ``meta.json``.

    The weights are checked finite first. All three files are written to temporary names
    and only then renamed over the previous ones (env state, model, meta), so a failed
    write (disk full) leaves the previous checkpoint intact and no temporary file. The
    environment state (:mod:`spikerl.envs.state`: emulator state, RNGs, wrapper counters)
    is saved for SB3 ``DummyVecEnv`` environments, so a resumed run continues bit-exactly;
    its ``meta`` records the step, so a model and env state of different steps (a kill
    between two renames) are detected on resume. A kill between the model's and the meta's
    renames leaves ``meta.json`` one checkpoint behind the model (never ahead): a resume
    takes the step from the model and the best evaluation from the restored history.

    Raises:
        NonFiniteError: A weight is NaN or infinite (nothing is written).
        CheckpointWriteError: A file could not be written (the previous checkpoint stays).
    """
    from spikerl.agents.finite import check_finite_params
    from spikerl.envs.state import EnvStateError, save_env_state

    check_finite_params(model, f"checkpoint at step {model.num_timesteps}")
    pending: dict[pathlib.Path, pathlib.Path] = {}
    try:
        folder.mkdir(parents=True, exist_ok=True)
        env = model.get_env()
        has_env_state = False
        if env is not None:
            tmp = folder / f"{_PENDING}{ENV_STATE}"
            try:
                save_env_state(env, tmp, meta={"num_timesteps": model.num_timesteps})
                pending[tmp] = folder / ENV_STATE
                has_env_state = True
            except EnvStateError:  # e.g. a SubprocVecEnv: resuming restarts the episodes
                pass
        tmp = folder / f"{_PENDING}{LAST}"
        _save(model, tmp)
        pending[tmp] = folder / LAST
        meta = {
            "num_timesteps": model.num_timesteps,
            "total_timesteps": model._total_timesteps,
            "env_state": has_env_state,
        }
        meta.update(extra or {})
        tmp = folder / f"{_PENDING}{META}"
        tmp.write_text(json.dumps(_json_safe(meta), indent=1, allow_nan=False))
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        pending[tmp] = folder / META
        _commit(pending)
        if not has_env_state and (folder / ENV_STATE).exists():
            (folder / ENV_STATE).unlink()
    except OSError as exc:
        for tmp in pending:
            with contextlib.suppress(OSError):
                tmp.unlink()
        clean_pending(folder)
        raise CheckpointWriteError(
            f"cannot write the checkpoint in {folder}: {exc.strerror or exc} "
            f"(the previous checkpoint is kept)"
        ) from None


def read_meta(folder: pathlib.Path) -> dict[str, Any]:
    """``meta.json`` of a checkpoint folder ({} when absent).

    Raises:
        CheckpointError: Not valid JSON or not an object.
    """
    from spikerl.agents.persistence import CheckpointError

    path = folder / META
    if not path.is_file():
        return {}
    try:
        meta = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise CheckpointError(f"{path}: malformed JSON ({exc})") from None
    if not isinstance(meta, dict):
        raise CheckpointError(f"{path}: expected a JSON object")
    return meta


def load_resumable(folder: pathlib.Path, env: Any, cls: type[Any] = RSTDP) -> Any:
    """The model of a resumable checkpoint, with ``env`` restored to the saved state.

    ``cls`` is the algorithm (``RSTDP``; an SB3 class such as ``PPO`` loads through
    :func:`~spikerl.agents.persistence.load_model`).

    ``env`` must be built from the run's recipe (same ids, wrappers, number of envs). When
    there is no usable env state (none saved, the old pickled format, or one of another
    step than the model) the model is loaded with ``force_reset=True``: training continues
    with fresh episodes, and a note says so on stderr.

    Raises:
        CheckpointError: The model zip is unsafe or malformed.
        EnvStateError: The env state is malformed or does not fit ``env``.
    """
    from spikerl.agents.persistence import read_data_json
    from spikerl.envs.state import read_env_state, restore_env_state

    clean_pending(folder)
    steps = read_data_json(folder / LAST).get("num_timesteps")
    note = None
    if (folder / ENV_STATE).is_file():
        state = read_env_state(folder / ENV_STATE)
        saved = (state.get("meta") or {}).get("num_timesteps")
        if saved == steps:
            restore_env_state(env, state)
            return _load(cls, folder / LAST, env, force_reset=False)
        note = f"environment state of step {saved}, model of step {steps} (interrupted save)"
    elif (folder / LEGACY_ENV_STATE).is_file():
        note = f"{LEGACY_ENV_STATE} is a pickle from an older version and is never read"
    if note is not None:
        print(f"spikerl: note: {note}; the environments restart their episodes", file=sys.stderr)
    return _load(cls, folder / LAST, env, force_reset=True)


def _load(cls: type[Any], path: pathlib.Path, env: Any, force_reset: bool) -> Any:
    from spikerl.agents.persistence import load_model

    if issubclass(cls, RSTDP):
        return cls.load(path, env=env, force_reset=force_reset)
    return load_model(cls, path, env=env, force_reset=force_reset)


def schedule_note(meta: dict[str, Any], total: int) -> str | None:
    """A note when a resume changes the run's total steps (the learning-rate schedule).

    The learning rate follows ``lr(t) = lr_actor * (f + (1 - f) * (1 - t / N))`` with ``f``
    = ``lr_final_fraction``, ``t`` the step and ``N`` the run's total. Resuming with another
    ``--timesteps N'`` stretches the schedule to ``N'`` from the resume step on: steps after
    it get exactly the rate of a straight ``N'``-step run at the same step, so the rate jumps
    at the resume point (the steps before it followed the shorter schedule).
    """
    saved = meta.get("total_timesteps")
    step = meta.get("num_timesteps")
    if not isinstance(saved, int) or saved == total or not isinstance(step, int):
        return None
    return (
        f"the run was planned for {saved} steps and now continues to {total}: from step "
        f"{step} the learning-rate schedule follows that of a straight {total}-step run "
        f"(progress 1 - t/{total}; it was 1 - t/{saved})"
    )


class ResumedCSVOutputFormat(KVWriter):
    """SB3's CSV logger output that continues an existing ``progress.csv`` on resume.

    Rows logged after the checkpoint's step (a run killed after its last checkpoint) are
    dropped, and so is a torn last line, so the file holds each step once.
    """

    def __init__(self, filename: pathlib.Path, resume_step: int | None) -> None:
        from stable_baselines3.common.logger import CSVOutputFormat

        text = filename.read_text() if resume_step is not None and filename.is_file() else ""
        lines = text.splitlines(keepends=True)
        if lines and not lines[-1].endswith("\n"):
            lines.pop()  # torn by a kill
        keys = lines[0].rstrip("\n").split(",") if lines else []
        if "time/total_timesteps" in keys and resume_step is not None:
            col = keys.index("time/total_timesteps")
            lines = lines[:1] + [ln for ln in lines[1:] if _step_of(ln, col) <= resume_step]
        self._csv = CSVOutputFormat(str(filename))
        if lines:
            self._csv.file.write("".join(lines))
            self._csv.file.flush()
            self._csv.keys = keys

    def write(
        self, key_values: dict[str, Any], key_excluded: dict[str, tuple[str, ...]], step: int = 0
    ) -> None:
        """Append one row (SB3's CSV format)."""
        self._csv.write(key_values, key_excluded, step)

    def close(self) -> None:
        """Close the file."""
        self._csv.close()


def _step_of(line: str, col: int) -> float:
    parts = line.rstrip("\n").split(",")
    try:
        return float(parts[col])
    except (IndexError, ValueError):
        return float("inf")


def restore_evaluations(eval_cb: EvalCallback, run_dir: pathlib.Path, max_step: int) -> None:
    """Preload ``eval_cb`` with the run's earlier ``evaluations.npz`` (up to ``max_step``),
    so the file keeps its history when the resumed run writes it again.

    Raises:
        CheckpointError: The file is not a plain ``.npz`` of the expected arrays.
    """
    from spikerl.agents.persistence import CheckpointError
    from spikerl.codec import CodecError, npz_to_arrays

    path = run_dir / "evaluations.npz"
    if not path.is_file():
        return
    try:
        arrays = npz_to_arrays(path.read_bytes(), str(path))
    except CodecError as exc:
        raise CheckpointError(str(exc)) from None
    try:
        steps = np.asarray(arrays["timesteps"]).reshape(-1)
        results = np.asarray(arrays["results"]).reshape(len(steps), -1)
        lengths = np.asarray(arrays["ep_lengths"]).reshape(len(steps), -1)
    except (KeyError, ValueError) as exc:
        raise CheckpointError(f"{path}: not an SB3 evaluations file ({exc})") from None
    keep = steps <= max_step
    eval_cb.evaluations_timesteps = [int(t) for t in steps[keep]]
    eval_cb.evaluations_results = [[float(x) for x in row] for row in results[keep]]
    eval_cb.evaluations_length = [[int(x) for x in row] for row in lengths[keep]]


class ResumableCheckpoint(BaseCallback):
    """Save a resumable checkpoint every ``save_freq`` environment steps (summed over envs).

    ``save_freq=0`` saves none during training (the run still saves one at its end). Also
    keeps numbered copies ``<prefix>_<steps>_steps.zip`` like SB3's CheckpointCallback
    (pickle-free for any algorithm).
    """

    def __init__(
        self,
        folder: pathlib.Path,
        save_freq: int,
        meta: Callable[[], dict[str, Any]] | None = None,
        prefix: str = "rstdp",
    ) -> None:
        super().__init__()
        self.prefix = prefix
        if save_freq < 0:
            raise ValueError(f"checkpoint_freq must be >= 0 (0: only at the end), got {save_freq}")
        self.folder = folder
        self.save_freq = save_freq
        self.meta = meta
        self._next = 0

    def _on_training_start(self) -> None:
        if self.save_freq > 0:
            self._next = (self.num_timesteps // self.save_freq + 1) * self.save_freq

    def _on_step(self) -> bool:
        if self.save_freq > 0 and self.num_timesteps >= self._next:
            self._next = (self.num_timesteps // self.save_freq + 1) * self.save_freq
            save_resumable(self.model, self.folder, self.meta() if self.meta else None)
            try:
                _save(self.model, self.folder / f"{self.prefix}_{self.num_timesteps}_steps.zip")
            except OSError as exc:
                raise CheckpointWriteError(
                    f"cannot write a numbered checkpoint copy in {self.folder}: "
                    f"{exc.strerror or exc} (checkpoints/{LAST} is up to date)"
                ) from None
        return True


class StopOnSignal(BaseCallback):
    """Stop ``learn`` at the next step boundary after SIGINT (Ctrl-C) or SIGTERM."""

    def __init__(self) -> None:
        super().__init__()
        self.stopped = False
        self._old: dict[int, Any] = {}

    def _handler(self, signum: int, frame: FrameType | None) -> None:
        self.stopped = True

    def install(self) -> None:
        """Route SIGINT/SIGTERM to the stop flag (main thread only)."""
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                self._old[sig] = signal.signal(sig, self._handler)
            except ValueError:  # not the main thread
                pass

    def uninstall(self) -> None:
        """Restore the previous handlers."""
        for sig, old in self._old.items():
            signal.signal(sig, old)
        self._old.clear()

    def _on_step(self) -> bool:
        return not self.stopped
