"""Bad input gives clear errors."""

from __future__ import annotations

import math

import pytest
import torch

from spikerl.core.network import Network
from spikerl.core.neurons import LIF, Input
from spikerl.core.projections import DenseProjection
from spikerl.learning import (
    MSTDP,
    MSTDPET,
    HardBounds,
    Normalize,
    Plasticity,
    PostPre,
    RewardPredictionError,
    SoftBounds,
    WeightDependentPostPre,
    compute_activity,
)


def net_and_proj() -> tuple[Network, DenseProjection]:
    net = Network()
    net.add_population("inp", Input(4))
    net.add_population("out", LIF(2))
    proj = net.connect("inp", "out", DenseProjection(4, 2))
    assert isinstance(proj, DenseProjection)
    return net, proj


def activity(proj: DenseProjection, T: int = 5, B: int = 2) -> object:
    act, _ = compute_activity(
        proj, torch.ones(T, B, 4), torch.ones(T, B, 2), PostPre().pre_trace, PostPre().post_trace
    )
    return act


def test_modulated_rule_without_signal() -> None:
    net, proj = net_and_proj()
    with pytest.raises(ValueError, match="needs a modulation signal"):
        MSTDP().delta(proj, activity(proj))  # type: ignore[arg-type]
    plast = Plasticity.bind(net, proj, MSTDPET(), online=True)
    with pytest.raises(ValueError, match="needs a modulation signal"):
        net.run({"inp": torch.ones(3, 1, 4)}, hooks=[plast])


def test_unmodulated_rule_refuses_a_signal() -> None:
    net, proj = net_and_proj()
    with pytest.raises(ValueError, match="not reward-modulated"):
        PostPre().delta(proj, activity(proj), 1.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="not reward-modulated"):
        Plasticity.bind(net, proj, PostPre()).set_modulation(1.0)


@pytest.mark.parametrize("bad", [math.nan, math.inf, torch.tensor([1.0, math.nan])])
def test_non_finite_reward(bad: float | torch.Tensor) -> None:
    net, proj = net_and_proj()
    with pytest.raises(ValueError, match="finite"):
        MSTDP().delta(proj, activity(proj), bad)  # type: ignore[arg-type]
    plast = Plasticity.bind(net, proj, MSTDPET())
    with pytest.raises(ValueError, match="finite"):
        plast.set_modulation(bad)
    with pytest.raises(ValueError, match="finite"):
        plast.deliver(bad)
    with pytest.raises(ValueError, match="finite"):
        RewardPredictionError()(bad)


def test_reward_of_wrong_type_or_shape() -> None:
    _, proj = net_and_proj()
    with pytest.raises(TypeError, match="modulation"):
        MSTDP().delta(proj, activity(proj), "high")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"\[B\]"):
        MSTDP().delta(proj, activity(proj, B=2), torch.ones(3))  # type: ignore[arg-type]


def test_mismatched_shapes() -> None:
    _, proj = net_and_proj()
    rule = PostPre()
    with pytest.raises(ValueError, match="pre_spikes"):
        compute_activity(
            proj, torch.ones(5, 2, 3), torch.ones(5, 2, 2), rule.pre_trace, rule.post_trace
        )
    with pytest.raises(ValueError, match="post_spikes"):
        compute_activity(
            proj, torch.ones(5, 2, 4), torch.ones(5, 2, 3), rule.pre_trace, rule.post_trace
        )
    with pytest.raises(ValueError, match="differ"):
        compute_activity(
            proj, torch.ones(5, 2, 4), torch.ones(4, 2, 2), rule.pre_trace, rule.post_trace
        )
    other = DenseProjection(4, 3)
    with pytest.raises(ValueError, match="does not fit"):
        rule.delta(other, activity(proj))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="eligibility state"):
        MSTDPET().delta(proj, activity(proj), 1.0, torch.zeros(5, 4, 2))  # type: ignore[arg-type]


def test_batch_size_change_needs_reset() -> None:
    net, proj = net_and_proj()
    plast = Plasticity.bind(net, proj, PostPre())
    net.run({"inp": torch.ones(3, 2, 4)}, hooks=[plast])
    with pytest.raises(ValueError, match="reset"):
        net.run({"inp": torch.ones(3, 5, 4)}, hooks=[plast])
    plast.reset()
    net.run({"inp": torch.ones(3, 5, 4)}, hooks=[plast])


def test_bad_binding_arguments() -> None:
    net, proj = net_and_proj()
    with pytest.raises(TypeError, match="LearningRule"):
        Plasticity(proj, "stdp", source="inp", target="out")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="WeightPiece"):
        Plasticity(proj, PostPre(), source="inp", target="out", pieces=[lambda w: w])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="Reduction"):
        Plasticity(proj, PostPre(), source="inp", target="out", reduction="mean")  # type: ignore[arg-type]
    other = DenseProjection(4, 2)
    with pytest.raises(ValueError, match="not connected"):
        Plasticity.bind(net, other, PostPre())
    with pytest.raises(ValueError, match="optimizer does not hold"):
        Plasticity.bind(net, proj, PostPre(), optimizer=torch.optim.SGD([other.weight], lr=1.0))
    with pytest.raises(TypeError, match="eligibility"):
        Plasticity.bind(net, proj, MSTDP()).deliver(1.0)
    with pytest.raises(ValueError, match="does not fit"):
        Plasticity.bind(net, proj, PostPre()).apply(torch.zeros(3, 3), duration=1.0)


def test_rule_and_piece_parameters() -> None:
    _, proj = net_and_proj()  # no wmin / wmax on this projection
    with pytest.raises(ValueError, match="wmin"):
        WeightDependentPostPre().delta(proj, activity(proj))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="wmin"):
        SoftBounds().transform(torch.zeros(4, 2), proj, 1.0)
    with pytest.raises(ValueError, match="HardBounds"):
        HardBounds().constrain_(proj)
    with pytest.raises(ValueError, match="total"):
        Normalize().constrain_(proj)
    with pytest.raises(ValueError, match="a_minus"):
        MSTDP(a_minus=1.0)
    with pytest.raises(ValueError, match="tau_z"):
        MSTDPET(tau_z=0.0)
    with pytest.raises(ValueError, match="a_plus"):
        PostPre(a_plus=-1.0)
    with pytest.raises(ValueError, match="wmin"):
        HardBounds(1.0, 0.0)
