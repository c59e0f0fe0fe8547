"""One greedy episode of an agent: frames, action spikes and membrane potentials, as a
figure and an MP4.

:func:`record_episode` plays one greedy episode and keeps what the dashboards show of it:
the rendered frames, the action neurons' spikes of every simulation step (``T`` steps of
``dt`` ms per env step) and their membrane potentials at the end of each env step's window.
:func:`episode_figure` draws the spike raster above the potential traces;
:func:`write_video` writes the frames as an MP4 (H.264 through imageio-ffmpeg) or a GIF.
The training dashboards (:mod:`spikerl.agents.panels`) and ``spikerl enjoy`` use these
same functions, so a saved run gives the figures that wandb and TensorBoard showed.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from numpy.typing import NDArray


@dataclass
class EpisodeRecord:
    """What one greedy episode produced.

    Attributes:
        frames: RGB frames ``[H, W, 3]`` uint8: the reset state, then every
            ``frame_every``-th env step (empty when not rendered).
        spikes: Action-neuron spikes ``[steps * T, N]`` (0/1) of every simulation step, or
            ``None`` for a policy that does not expose them.
        potentials: Membrane potential (mV) of each action neuron at the end of each env
            step's window ``[steps, N]``, or ``None`` (built-in actor: relative to rest;
            a parts policy: its neuron model's ``v``, see ``potential_label``).
        dt: Simulation step (ms).
        window: Simulation steps per env step (``T``).
        rewards: Reward of each env step.
        actions: Action of each env step.
    """

    frames: list[NDArray[np.uint8]] = field(default_factory=list)
    spikes: NDArray[np.float64] | None = None
    potentials: NDArray[np.float64] | None = None
    dt: float = 1.0
    window: int = 1
    rewards: list[float] = field(default_factory=list)
    actions: list[int] = field(default_factory=list)
    potential_label: str = "v - v_rest (mV), window end"

    @property
    def episode_return(self) -> float:
        """Sum of the rewards."""
        return float(sum(self.rewards))

    @property
    def length(self) -> int:
        """Env steps played."""
        return len(self.rewards)


def render_frame(env: Any) -> NDArray[np.uint8]:
    """``env.render()`` as uint8 RGB, or a simple drawing of CartPole without pygame."""
    from spikerl.runs.evaluate import _frame

    return np.asarray(_frame(env), dtype=np.uint8)


class _DecodeCapture:
    """Keeps the action population's spikes ``[T, B, n]`` that a parts policy
    (:class:`~spikerl.agents.core_policy.NetworkPolicy`) hands its decoder, by wrapping the
    instance's ``decode`` for the duration of a recording."""

    def __init__(self, policy: Any) -> None:
        self.policy = policy
        self.last: Any = None
        self._orig = policy.decode

    def __enter__(self) -> _DecodeCapture:
        def decode(out: Any, generator: Any) -> Any:
            self.last = out
            return self._orig(out, generator)

        self.policy.decode = decode
        return self

    def __exit__(self, *exc: object) -> None:
        del self.policy.decode  # the class's method again


def _parts_policy(policy: Any) -> bool:
    return all(hasattr(policy, a) for a in ("decode", "output", "network", "window"))


def record_episode(
    model: Any,
    env: Any,
    seed: int,
    *,
    max_steps: int = 1000,
    render: bool = True,
    frame_every: int = 1,
) -> EpisodeRecord:
    """Play one greedy episode of ``model`` on one Gymnasium ``env`` (not a VecEnv).

    The policy's state is carried between steps as in training (``predict`` with
    ``state`` and ``episode_start``). For the built-in spiking policy
    (:class:`~spikerl.agents.rstdp.SpikingPolicy`) and for a parts policy (a core
    ``Network``) the action spikes of each window and the end-of-window membrane
    potentials are kept; other policies (SB3's) give frames only.

    Args:
        model: Any model with SB3's ``predict`` (``RSTDP``, ``PPO``, ...).
        env: A Gymnasium env made with ``render_mode="rgb_array"`` when ``render``.
        seed: Seed of the episode's reset.
        max_steps: Cap on the episode length (env steps).
        render: Keep frames.
        frame_every: Keep the frame of every ``frame_every``-th env step.

    Returns:
        The :class:`EpisodeRecord`.
    """
    import contextlib

    policy: Any = getattr(model, "policy", None)
    snn = getattr(getattr(policy, "net", None), "snn", None)
    rec = EpisodeRecord()
    if snn is not None:
        rec.dt = float(snn.dt)
        rec.window = int(snn.sim_steps)
    parts = policy is not None and _parts_policy(policy)
    capture = _DecodeCapture(policy) if parts else None
    if parts:
        rec.dt = float(policy.network.dt)
        rec.potential_label = f"{policy.output}: v (mV), window end"
    with capture if capture is not None else contextlib.nullcontext():
        _play(model, policy, snn, capture, env, seed, rec, max_steps, render, frame_every)
    return rec


def _play(
    model: Any,
    policy: Any,
    snn: Any,
    capture: _DecodeCapture | None,
    env: Any,
    seed: int,
    rec: EpisodeRecord,
    max_steps: int,
    render: bool,
    frame_every: int,
) -> None:
    """The episode loop of :func:`record_episode` (fills ``rec``)."""
    spikes: list[NDArray[np.float64]] = []
    potentials: list[NDArray[np.float64]] = []
    obs, _ = env.reset(seed=seed)
    state = None
    start = np.ones(1, dtype=bool)
    if render:
        rec.frames.append(render_frame(env))
    for _ in range(max_steps):
        action, state = model.predict(np.asarray(obs)[None], state, start, deterministic=True)
        start = np.zeros(1, dtype=bool)
        last = getattr(policy, "last_output", None)
        out_spikes = getattr(last, "spikes", None)
        if snn is not None and out_spikes is not None and isinstance(state, tuple):
            spikes.append(np.asarray(out_spikes, dtype=np.float64)[:, 0])  # [T, N]
            potentials.append(np.asarray(state[0], dtype=np.float64)[0])  # [N]
        elif capture is not None and capture.last is not None:
            s = capture.last.detach().cpu().numpy().astype(np.float64)
            spikes.append(s.reshape(s.shape[0], s.shape[1], -1)[:, 0])  # [T, N]
            rec.window = int(s.shape[0])
            neuron = getattr(state, "neurons", {}).get(policy.output)
            v = getattr(neuron, "v", None)
            if v is not None:
                potentials.append(v.detach().cpu().numpy().astype(np.float64)[0].reshape(-1))
        a = int(np.asarray(action).reshape(-1)[0])
        obs, reward, term, trunc, _ = env.step(a)
        rec.actions.append(a)
        rec.rewards.append(float(reward))
        if render and len(rec.actions) % frame_every == 0:
            rec.frames.append(render_frame(env))
        if term or trunc:
            break
    if spikes:
        rec.spikes = np.concatenate(spikes, axis=0)
        rec.potentials = np.stack(potentials) if len(potentials) == len(spikes) else None


def episode_figure(rec: EpisodeRecord, *, max_steps: int = 200, title: str = "") -> Figure:
    """Spike raster of the action neurons above their membrane-potential traces.

    Shows the first ``max_steps`` env steps (``max_steps * T`` simulation steps). The
    raster has one tick per spike at ``t = k dt`` (ms); the traces show the potential
    relative to rest (mV) at the end of each env step's window, at ``t = (j + 1) T dt``.

    Raises:
        ValueError: The record has no spikes (the policy does not expose them).
    """
    from spikerl.plotting.spikes import spike_raster

    if rec.spikes is None:
        raise ValueError("episode_figure: the record has no spikes (policy without a raster)")
    steps = min(max_steps, rec.spikes.shape[0] // max(rec.window, 1))
    fig = Figure(figsize=(8, 5.5))
    ax_r, ax_v = fig.subplots(2, 1, sharex=True)
    s = rec.spikes[: steps * rec.window]
    spike_raster(s, dt=rec.dt, ax=ax_r, title="action neurons: spikes")
    if rec.potentials is None:
        ax_v.set_axis_off()
        fig.tight_layout()
        return fig
    v = rec.potentials[:steps]
    n = v.shape[1]
    shown = list(range(0, n, max(1, n // 6)))[:6]
    t_end = (np.arange(steps) + 1) * rec.window * rec.dt
    for i in shown:
        ax_v.plot(t_end, v[:, i], lw=1.0, label=f"neuron {i}")
    ax_v.set_xlabel("time (ms)")
    ax_v.set_ylabel(rec.potential_label)
    ax_v.legend(fontsize="x-small", loc="best")
    fig.suptitle(title or f"greedy episode: return {rec.episode_return:g}, {rec.length} steps")
    fig.tight_layout()
    return fig


def potential_figure(rec: EpisodeRecord, neurons: int = 6) -> Figure:
    """Membrane-potential traces alone (:func:`~spikerl.plotting.state_traces`)."""
    from spikerl.plotting.curves import state_traces

    if rec.potentials is None:
        raise ValueError("potential_figure: the record has no potentials")
    return state_traces(
        rec.potentials,
        neurons=min(neurons, rec.potentials.shape[1]),
        dt=rec.window * rec.dt,
        ylabel="v - v_rest (mV), window end",
    )


def _even(frame: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """Pad a frame to even height and width (H.264 needs both even)."""
    h, w = frame.shape[:2]
    if h % 2 or w % 2:
        frame = np.pad(frame, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")
    return frame


def write_video(
    frames: Sequence[NDArray[np.uint8]], path: str | os.PathLike[str], fps: int = 30
) -> Path:
    """Write frames to ``path`` (``.mp4``: H.264 via imageio-ffmpeg; ``.gif``: GIF).

    The file is written under a temporary name in the same folder and then renamed.

    Raises:
        ValueError: No frames, or a suffix other than ``.mp4``/``.gif``.
    """
    import imageio.v2 as imageio

    out = Path(path)
    if not frames:
        raise ValueError(f"write_video: no frames to write to {out}")
    suffix = out.suffix.lower()
    if suffix not in (".mp4", ".gif"):
        raise ValueError(f"write_video: {out} must end in .mp4 or .gif")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.stem}.tmp{suffix}")
    try:
        if suffix == ".mp4":
            with imageio.get_writer(
                tmp, format="FFMPEG", fps=fps, codec="libx264", macro_block_size=1
            ) as writer:
                for f in frames:
                    writer.append_data(  # type: ignore[attr-defined]
                        _even(np.asarray(f, dtype=np.uint8))
                    )
        else:
            imageio.mimsave(tmp, list(frames), duration=1.0 / fps, loop=0)
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            tmp.unlink()
    return out
