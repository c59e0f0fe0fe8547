"""Measure a rule's spike-timing window by simulating single spike pairs in a network.

One presynaptic ``Input`` neuron projects to one ``LIF`` neuron per offset
``dt = t_post - t_arrival``; each postsynaptic neuron is forced to fire once, ``dt`` after
the pre spike arrives, by :class:`~spikerl.learning.teacher.TeacherForcing` (the weights
start at zero, so the pre spike does not move the targets). The change of each weight is
the window at its offset; one run measures them all.
The pre spike is emitted one step before it arrives (the network's synaptic delay), so the
emission-time offset is ``dt + dt_step``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from spikerl.core.network import ExecutionMode, Network
from spikerl.core.neurons import LIF, Input
from spikerl.core.projections import DenseProjection
from spikerl.learning.plasticity import Plasticity
from spikerl.learning.rules import LearningRule
from spikerl.learning.teacher import TeacherForcing

__all__ = ["measure_stdp_window"]


def measure_stdp_window(
    rule: LearningRule,
    offsets: Sequence[int],
    *,
    dt: float = 1.0,
    online: bool = True,
    modulation: float | None = None,
    dtype: torch.dtype = torch.float64,
) -> Tensor:
    """Weight change for one pre/post pair at each offset (in steps of ``dt``).

    Args:
        rule: The rule to measure (modulated rules need ``modulation``).
        offsets: ``t_post - t_arrival`` in steps; negative: post before pre.
        dt: Step (ms).
        online: Apply every step (``True``) or once per window.
        modulation: Constant modulation for three-factor rules.
        dtype: Simulation dtype (float64 keeps the measurement exact to ~1e-12).

    Returns:
        ``[len(offsets)]`` weight changes (weight units).
    """
    offs = [int(o) for o in offsets]
    n = len(offs)
    if n == 0:
        return torch.empty(0, dtype=dtype)
    span = max(abs(o) for o in offs)
    arrival = span + 2
    steps = 2 * span + 5
    net = Network(dt=dt)
    net.add_population("pre", Input(1, dt=dt))
    net.add_population("post", LIF(n, dt=dt))
    proj = net.connect("pre", "post", DenseProjection(1, n, weight=0.0))
    net.to(dtype)
    plast = Plasticity.bind(net, proj, rule, online=online)
    if modulation is not None:
        plast.set_modulation(modulation)
    pre = torch.zeros(steps, 1, 1, dtype=dtype)
    pre[arrival - 1] = 1.0  # emitted one step before it arrives
    on = torch.zeros(steps, 1, n, dtype=torch.bool)
    for i, off in enumerate(offs):
        on[arrival + off, 0, i] = True
    current = TeacherForcing(n).current(steps, on).to(dtype)
    mode = ExecutionMode.AUTO if online else ExecutionMode.WINDOW
    before = proj.weight.detach().clone()
    result, _ = net.run({"pre": pre, "post": current}, mode=mode, hooks=[plast])
    fired = result["post"].sum(dim=(0, 1))
    if not bool((fired == 1).all()):
        raise RuntimeError(f"each post neuron must fire once; counts: {fired.tolist()}")
    return (proj.weight.detach() - before).reshape(n)
