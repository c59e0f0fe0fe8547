"""Quick learning checks, one per paradigm, with fixed seeds and budgets.

* unsupervised: pair STDP with lateral inhibition and normalisation gives each of two input
  patterns its own winner neuron;
* supervised: teacher forcing with pair STDP learns a 4-class input-output association;
* reinforcement: MSTDPET with a delayed reward (+1 / -1) learns a 2-armed contextual bandit.
"""

from __future__ import annotations

import torch
from torch import Tensor

from spikerl.core.init import Uniform
from spikerl.core.network import Network
from spikerl.core.neurons import LIF, AdaptiveLIF, AdaptiveLIFParams, Input
from spikerl.core.projections import DenseProjection, LateralProjection
from spikerl.learning import MSTDPET, Normalize, Plasticity, PostPre, TeacherForcing


def poisson(rates: Tensor, T: int, g: torch.Generator) -> Tensor:
    """Bernoulli spikes ``[T, *rates.shape]`` with per-step probabilities ``rates``."""
    return (torch.rand(T, *rates.shape, generator=g) < rates).float()


def test_unsupervised_stdp_separates_two_patterns() -> None:
    g = torch.Generator().manual_seed(0)
    n_in, T = 20, 60
    net = Network()
    net.add_population("inp", Input(n_in))
    net.add_population("exc", AdaptiveLIF(2, AdaptiveLIFParams(theta_plus=0.5, tau_theta=2000.0)))
    proj = net.connect(
        "inp", "exc", DenseProjection(n_in, 2, weight=Uniform(0.3, 0.7), generator=g, wmin=0.0)
    )
    net.connect("exc", "exc", LateralProjection.inhibition(2, 30.0))
    stdp = Plasticity.bind(net, proj, PostPre(0.02, 0.015), pieces=[Normalize(10.0)])
    patterns = torch.full((2, n_in), 0.01)
    patterns[0, :10] += 0.2
    patterns[1, 10:] += 0.2
    for k in range(40):
        net.run({"inp": poisson(patterns[k % 2 : k % 2 + 1], T, g)}, hooks=[stdp])
        stdp.flush()  # recurrent network: the window is applied at its end
        stdp.reset()
    winners = torch.zeros(2, 2)
    for c in range(2):
        for _ in range(5):
            result, _ = net.run({"inp": poisson(patterns[c : c + 1], T, g)})
            winners[c, int(result["exc"].sum((0, 1)).argmax())] += 1
    assert winners.max(1).values.tolist() == [5.0, 5.0]  # each pattern: always one winner
    assert int(winners[0].argmax()) != int(winners[1].argmax())  # two different winners
    w = proj.weight.detach()
    a, b = int(winners[0].argmax()), int(winners[1].argmax())
    assert float(w[:10, a].sum()) > 2 * float(w[10:, a].sum())  # receptive fields
    assert float(w[10:, b].sum()) > 2 * float(w[:10, b].sum())


def test_teacher_forcing_learns_four_class_association() -> None:
    g = torch.Generator().manual_seed(0)
    n_cls, per, T = 4, 4, 50
    n_in = n_cls * per
    net = Network()
    net.add_population("inp", Input(n_in))
    net.add_population("out", LIF(n_cls))
    proj = net.connect(
        "inp", "out", DenseProjection(n_in, n_cls, weight=Uniform(0.2, 0.6), generator=g, wmin=0.0)
    )
    stdp = Plasticity.bind(net, proj, PostPre(0.02, 0.01), pieces=[Normalize(8.0)])
    teacher = TeacherForcing(n_cls)
    rates = torch.full((n_cls, n_in), 0.02)
    for c in range(n_cls):
        rates[c, c * per : (c + 1) * per] = 0.3
    labels = torch.arange(n_cls)  # one batch element per class
    correct_before = 0
    for _ in range(5):
        result, _ = net.run({"inp": poisson(rates, T, g)})
        correct_before += int((result["out"].sum(0).argmax(1) == labels).sum())
    for _ in range(15):
        net.run({"inp": poisson(rates, T, g), "out": teacher.from_labels(labels, T)}, hooks=[stdp])
        stdp.reset()
    correct = 0
    for _ in range(25):
        result, _ = net.run({"inp": poisson(rates, T, g)})
        correct += int((result["out"].sum(0).argmax(1) == labels).sum())
    assert correct / (25 * n_cls) >= 0.95
    assert correct_before / (5 * n_cls) < 0.6


def test_mstdpet_learns_contextual_bandit() -> None:
    g = torch.Generator().manual_seed(0)
    n_in, B, T = 20, 8, 30
    net = Network()
    net.add_population("inp", Input(n_in))
    net.add_population("act", LIF(2))
    proj = net.connect(
        "inp",
        "act",
        DenseProjection(n_in, 2, weight=Uniform(0.8, 1.2), generator=g, wmin=0.0, wmax=4.0),
    )
    net.connect("act", "act", LateralProjection.inhibition(2, 50.0))  # winner takes all
    plast = Plasticity.bind(net, proj, MSTDPET(gamma=0.5, tau_z=25.0))
    contexts = torch.full((2, n_in), 0.02)
    contexts[0, :10] = 0.25
    contexts[1, 10:] = 0.25

    def choose(result_act: Tensor) -> Tensor:
        counts = result_act.sum(0)
        return (counts + 1e-3 * torch.rand(counts.shape, generator=g)).argmax(1)  # random ties

    def accuracy(trials: int) -> float:
        correct = 0
        for _ in range(trials):
            ctx = torch.randint(0, 2, (B,), generator=g)
            result, _ = net.run({"inp": poisson(contexts[ctx], T, g)})
            correct += int((choose(result["act"]) == ctx).sum())
        return correct / (trials * B)

    before = accuracy(10)
    for _ in range(60):
        ctx = torch.randint(0, 2, (B,), generator=g)
        plast.reset()
        plast.set_modulation(0.0)  # no reward during the trial: eligibility only
        result, _ = net.run({"inp": poisson(contexts[ctx], T, g)}, hooks=[plast])
        action = choose(result["act"])
        plast.deliver(torch.where(action == ctx, 1.0, -1.0))  # delayed reward, per sample
    after = accuracy(25)
    assert after >= 0.9, (before, after)
    assert before < 0.75
