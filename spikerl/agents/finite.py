"""Finiteness guards: refuse NaN/inf observations, rewards and weights before they spread.

One NaN observation reaching the three-factor update turns every weight NaN within a step;
these checks run before any weight changes and name what was wrong, the step and the
environment index.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

#: Arrays up to this size are scanned in Python (a few entries: CartPole's 4 values).
_SMALL = 32


class NonFiniteError(ValueError):
    """A NaN or infinite value where only finite numbers are allowed."""


def check_finite(name: str, values: Any, step: int | None = None) -> None:
    """Raise :class:`NonFiniteError` if ``values`` (batch first, ``[n_envs, ...]``) has a
    NaN or inf, naming ``name``, the step and the first offending environment index.

    Integer and boolean arrays pass without a scan (they cannot hold NaN).

    Args:
        name: What the values are (``"observation"``, ``"reward"``).
        values: Array-like, first axis = environment index (a scalar counts as env 0).
        step: The environment step (``num_timesteps``) reported in the message.
    """
    arr = np.asarray(values)
    kind = arr.dtype.kind
    if kind != "f" and kind != "c":
        if kind == "O":
            raise NonFiniteError(f"{name}: expected numbers, got an object array")
        return
    if kind == "f" and arr.size <= _SMALL:  # a Python scan beats NumPy's overhead here
        if all(map(math.isfinite, arr.ravel().tolist())):
            return
    ok = np.isfinite(arr)
    if ok.all():
        return
    flat = ok.reshape(arr.shape[0], -1) if arr.ndim > 0 else ok.reshape(1, 1)
    env = int(np.flatnonzero(~flat.all(axis=1))[0])
    row = arr[env] if arr.ndim > 0 else arr
    bad = np.asarray(row)[~np.isfinite(row)]
    at = f" at step {step}" if step is not None else ""
    raise NonFiniteError(
        f"non-finite {name}{at} in env {env} ({bad.size} value(s), e.g. {bad.flat[0]!r}); "
        f"refused before any weight change: check the environment or its wrappers"
    )


def check_observation(obs: np.ndarray, space: Any, step: int | None = None) -> None:
    """Check a batch of observations ``[B, *shape]`` for ``predict``: the shape of the
    model's observation space (a clear error instead of a broadcast error) and finite.

    Raises:
        ValueError: Another observation shape than the space's.
        NonFiniteError: A NaN or inf value.
    """
    shape = getattr(space, "shape", None)
    if shape is not None and tuple(obs.shape[1:]) != tuple(shape):
        raise ValueError(
            f"observation of shape {tuple(obs.shape)} does not fit the model's observation "
            f"space {space} (expected [batch, {', '.join(map(str, shape))}]): the model was "
            f"trained on another environment"
        )
    check_finite("observation", obs, step)


def check_transition(
    obs: Any, new_obs: Any, rewards: Any, infos: Any = (), step: int | None = None
) -> None:
    """Check one batched environment step before learning from it (:func:`check_finite`).

    Args:
        obs: Observations the actions were chosen from ``[n_envs, ...]``.
        new_obs: Observations after the step.
        rewards: Rewards ``[n_envs]``.
        infos: Per-env info dicts; their ``terminal_observation`` is checked too.
        step: The step reported in the message.
    """
    check_finite("observation", obs, step)
    check_finite("observation", new_obs, step)
    check_finite("reward", rewards, step)
    for i, info in enumerate(infos):
        term = info.get("terminal_observation") if isinstance(info, dict) else None
        if term is not None:
            try:
                check_finite("terminal observation", np.asarray(term)[None], step)
            except NonFiniteError as exc:
                raise NonFiniteError(str(exc).replace("in env 0", f"in env {i}")) from None


def check_finite_params(model: Any, where: str) -> None:
    """Raise :class:`NonFiniteError` naming the tensor if a parameter is NaN or inf.

    Args:
        model: An SB3 algorithm (its ``get_parameters()`` state dicts are scanned).
        where: Context for the message (e.g. ``"checkpoint at step 5000"``).
    """
    import torch

    def tensors(state: Any, prefix: str) -> list[tuple[str, torch.Tensor]]:
        if isinstance(state, torch.Tensor):
            return [(prefix, state)]
        if isinstance(state, dict):
            return [t for k, v in state.items() for t in tensors(v, f"{prefix}.{k}")]
        if isinstance(state, list | tuple):
            return [t for i, v in enumerate(state) for t in tensors(v, f"{prefix}[{i}]")]
        return []

    for name, state in model.get_parameters().items():
        for key, value in tensors(state, name):
            arr = value.detach().cpu().numpy()
            if arr.dtype.kind in "fc" and not np.isfinite(arr).all():
                n_bad = int((~np.isfinite(arr)).sum())
                raise NonFiniteError(
                    f"{where}: parameter {key} holds {n_bad} non-finite value(s) of "
                    f"{arr.size}; not saved (the previous checkpoint is kept)"
                )
