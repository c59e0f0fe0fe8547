"""Diehl & Cook (2015) model: exact event path, rule equivalence, readouts, a quick run."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from spikerl.core.network import ExecutionMode, Network
from spikerl.core.neurons import LIF, DiehlCook, DiehlCookParams, LIFParams
from spikerl.core.projections import DenseProjection, LateralProjection
from spikerl.decoders.labels import all_activity, assign_labels, proportion_weighting
from spikerl.learning import DiehlCook2015 as DiehlCookRule
from spikerl.learning import Plasticity, Reduction
from spikerl.learning.activity import compute_activity
from spikerl.models.diehl_cook import (
    DiehlCook2015,
    DiehlCookConfig,
    Readout,
    classification_report,
    diehl_cook_scan,
)

#: The scan's three implementations: (vectorized, compiled).
PATHS = {"torch": (True, None), "numpy": (False, False), "numba": (False, True)}


@pytest.mark.parametrize("path", list(PATHS))
@pytest.mark.parametrize("theta_plus", [0.05, 2.0])
def test_scan_matches_stepwise_neuron(theta_plus: float, path: str) -> None:
    vectorized, compiled = PATHS[path]
    torch.manual_seed(0)
    p = DiehlCookParams(theta_plus=theta_plus, tau_theta=1e3)
    neuron = DiehlCook(40, p).to(torch.float64)
    x = torch.rand(150, 3, 40, dtype=torch.float64) * 0.4
    theta0 = torch.rand(3, 40, dtype=torch.float64) * 3
    st = neuron.initial_state(3)
    st = type(st)(st.v, st.refrac, theta0)
    ref, end, _ = neuron.run(x, st)
    s, theta = diehl_cook_scan(x, theta0, p, 1.0, vectorized=vectorized, compiled=compiled)
    assert ref.sum() > 30
    assert torch.equal(s, ref)
    assert torch.allclose(theta, end.theta, atol=1e-10)
    _, theta2 = diehl_cook_scan(x, theta0, p, 1.0, adapt=False)
    assert torch.equal(theta2, theta0)


@pytest.mark.parametrize("path", list(PATHS))
def test_scan_matches_network_with_inhibitory_population(path: str) -> None:
    """Lateral inhibition in the scan = exc -> inh (LIF, one-to-one) -> exc (all but self)."""
    vectorized, compiled = PATHS[path]
    torch.manual_seed(1)
    N, B, T = 30, 3, 250
    p = DiehlCookParams(theta_plus=0.5, tau_theta=1e3)
    net = Network()
    net.add_population("exc", DiehlCook(N, p))
    inh = LIFParams(tau_mem=10.0, v_rest=-60.0, v_reset=-45.0, v_thresh=-40.0, refrac=2.0)
    net.add_population("inh", LIF(N, inh))
    net.connect("exc", "inh", DenseProjection(N, N, weight=torch.eye(N) * 22.5))
    net.connect("inh", "exc", LateralProjection(N, -10.0))
    net.to(torch.float64)
    x = torch.rand(T, B, N, dtype=torch.float64) * 1.5
    res, state = net.run({"exc": x}, mode=ExecutionMode.STEP)
    zeros = torch.zeros(B, N, dtype=torch.float64)
    s, theta = diehl_cook_scan(
        x, zeros, p, 1.0, inhibition=10.0, delay=2, vectorized=vectorized, compiled=compiled
    )
    assert res["exc"].sum() > 30
    assert torch.equal(s, res["exc"])
    assert torch.allclose(theta, state.neurons["exc"].theta, atol=1e-10)


@pytest.mark.parametrize("inhibition", [0.0, 120.0])
def test_scan_paths_agree_in_float32_on_digit_like_input(inhibition: float) -> None:
    """The paper's setting in float32 (Poisson input through U(0, 0.3) weights, 100 units):
    the three implementations give the same spikes and thresholds."""
    g = torch.Generator().manual_seed(2)
    p = DiehlCookParams()
    spikes_in = (torch.rand(350, 4, 784, generator=g) < 0.03).float()
    w = torch.rand(784, 100, generator=g) * 0.3
    x = (spikes_in.reshape(-1, 784) @ w).reshape(350, 4, 100)
    theta0 = torch.rand(4, 100, generator=g) * 5
    out = {
        name: diehl_cook_scan(x, theta0, p, 1.0, inhibition=inhibition, vectorized=v, compiled=c)
        for name, (v, c) in PATHS.items()
    }
    assert out["numpy"][0].sum() > 20
    for name in ("torch", "numba"):
        assert torch.equal(out[name][0], out["numpy"][0]), name
    assert torch.equal(out["numba"][1], out["numpy"][1])  # same float operations
    # torch adds each spike's theta increment in float64 before rounding: an ulp apart
    torch.testing.assert_close(out["torch"][1], out["numpy"][1], rtol=0, atol=1e-6)


def test_scan_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="one_spike"):
        diehl_cook_scan(torch.zeros(5, 1, 3), torch.zeros(1, 3), DiehlCookParams(one_spike=False))
    with pytest.raises(ValueError, match="theta"):
        diehl_cook_scan(torch.zeros(5, 1, 3), torch.zeros(2, 3), DiehlCookParams())
    with pytest.raises(ValueError, match="delay"):
        diehl_cook_scan(
            torch.zeros(5, 1, 3), torch.zeros(1, 3), DiehlCookParams(), 1.0, True, 5.0, 9
        )


@pytest.mark.parametrize("mu", [0.0, 1.0])
def test_event_delta_equals_rule_window(mu: float) -> None:
    torch.manual_seed(2)
    proj = DenseProjection(20, 6, wmin=0.0, wmax=1.0)
    rule = DiehlCookRule(eta_post=1e-2, eta_pre=1e-3, x_tar=0.4, mu=mu)
    pre = (torch.rand(60, 3, 20) < 0.1).float()
    post = (torch.rand(60, 3, 6) < 0.05).float()
    # the generic path: every trace at every step, then the rule
    act, traces = compute_activity(proj, pre, post, rule.pre_trace, rule.post_trace, 1.0)
    ref = rule.delta(proj, act, reduction=Reduction.SUM).dw
    # the rule's own window method (event-driven over the post spikes)
    fast, end = rule.window_delta(proj, pre, post, None, 1.0, Reduction.SUM)  # type: ignore[misc]
    assert torch.allclose(fast, ref, atol=1e-5) and float(ref.abs().max()) > 1e-3
    assert torch.allclose(end.pre, traces.pre, atol=1e-6)
    assert torch.allclose(end.post, traces.post, atol=1e-6)
    plast = Plasticity(proj, rule, source="a", target="b", reduction=Reduction.SUM)
    assert torch.equal(plast.compute(pre, post), fast)  # a binding takes the window method
    silent = rule.window_delta(proj, pre, torch.zeros_like(post), None, 1.0, Reduction.SUM)
    assert silent is not None and torch.equal(silent[0], torch.zeros(20, 6))
    # traces carried in: the generic path decides (None here)
    assert rule.window_delta(proj, pre, post, end, 1.0, Reduction.SUM) is None
    mean, _ = rule.window_delta(proj, pre, post, None, 1.0, Reduction.MEAN)  # type: ignore[misc]
    assert torch.allclose(mean, fast / 3)


# Hand-made counts: 4 neurons, 6 samples, 3 classes.
COUNTS = torch.tensor(
    [
        [5.0, 0.0, 1.0, 0.0],  # class 0
        [3.0, 1.0, 0.0, 0.0],  # class 0
        [0.0, 4.0, 0.0, 2.0],  # class 1
        [1.0, 2.0, 0.0, 0.0],  # class 1
        [0.0, 0.0, 6.0, 0.0],  # class 2
        [0.0, 1.0, 2.0, 0.0],  # class 2
    ]
)
LABELS = torch.tensor([0, 0, 1, 1, 2, 2])


def test_label_assignment_golden() -> None:
    a, prop, rates = assign_labels(COUNTS, LABELS, 3)
    # neuron 0: class means (4, 0.5, 0); neuron 1: (0.5, 3, 0.5); 2: (0.5, 0, 4); 3: (0, 1, 0)
    assert a.tolist() == [0, 1, 2, 1]
    assert torch.allclose(rates[0], torch.tensor([4.0, 0.5, 0.0]))
    assert torch.allclose(prop[1], torch.tensor([0.5, 3.0, 0.5]) / 4.0)
    test = torch.tensor([[1.0, 2.0, 0.0, 4.0], [2.0, 1.0, 1.0, 0.0], [0.0, 0.0, 3.0, 2.0]])
    # all-activity: class means (1, 3, 0), (2, 0.5, 1), (0, 1, 3)
    assert all_activity(test, a, 3).tolist() == [1, 0, 2]
    # proportion weighting: own proportions (8/9, 3/4, 8/9, 1)
    # sample 0: (8/9, (1.5 + 4) / 2, 0); sample 1: (16/9, 0.375, 8/9); sample 2: (0, 1, 24/9)
    assert proportion_weighting(test, a, prop, 3).tolist() == [1, 0, 2]
    r = Readout.fit(COUNTS, LABELS, 3)
    assert r.predict(test).tolist() == [1, 0, 2]
    assert r.predict(test, proportion=True).tolist() == [1, 0, 2]


def test_classification_report() -> None:
    rep = classification_report(torch.tensor([0, 1, 1, 2]), torch.tensor([0, 1, 2, 2]), 3)
    assert rep["accuracy"] == 0.75
    assert rep["per_class_accuracy"] == [1.0, 1.0, 0.5]
    assert rep["confusion_matrix"] == [[1, 0, 0], [0, 1, 0], [0, 1, 1]]


def test_model_invariants_and_checkpoint() -> None:
    cfg = DiehlCookConfig(n_neurons=10, time=100.0, batch_size=4)
    m = DiehlCook2015(cfg, seed=3)
    assert torch.allclose(m.weight.sum(0), torch.full((10,), 78.4), atol=1e-3)
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (8, 28, 28), dtype=torch.uint8)
    m.fit(images, generator=g)
    assert torch.allclose(m.weight.sum(0), torch.full((10,), 78.4), atol=1e-3)
    assert float(m.weight.min()) >= 0.0 and float(m.weight.max()) <= 1.0
    assert float(m.theta.sum()) > 0.0
    theta = m.theta.clone()
    counts = m.responses(images, generator=g)
    assert counts.shape == (8, 10)
    assert torch.equal(m.theta, theta)  # frozen at test time
    m2 = DiehlCook2015(cfg, seed=9)
    m2.load_checkpoint(m.checkpoint())
    assert torch.equal(m2.weight, m.weight) and torch.equal(m2.theta, m.theta)
    with pytest.raises(ValueError, match="one_spike"):
        DiehlCook2015(DiehlCookConfig(neuron=DiehlCookParams(one_spike=False)))


def test_anneal_scales_each_change_and_is_validated() -> None:
    """With anneal = 1 the i-th of n images learns at (1 - i/n) of the rate: the last of two
    images at half; without learning-rate changes the weights move as with anneal = 0."""
    images = torch.randint(0, 256, (2, 28, 28), generator=torch.Generator().manual_seed(1))
    images = images.to(torch.uint8)
    seen: list[float] = []
    m = DiehlCook2015(DiehlCookConfig(n_neurons=5, time=100.0, anneal=1.0), seed=0)
    real_learn = m.learn

    def spy(spikes_in: torch.Tensor, spikes_out: torch.Tensor) -> torch.Tensor:
        seen.append(m.rate_scale)
        return real_learn(spikes_in, spikes_out)

    m.learn = spy  # type: ignore[method-assign]
    m.fit(images, generator=torch.Generator().manual_seed(0))
    assert seen[0] == 1.0 and seen[-1] == 0.5
    assert m.rate_scale == 1.0  # restored after the pass
    with pytest.raises(ValueError, match="anneal"):
        DiehlCook2015(DiehlCookConfig(anneal=1.5))


@pytest.mark.slow
def test_quick_unsupervised_run_beats_chance(shared_mnist: Path) -> None:
    """300 training images of 150 ms, 20 neurons, one at a time: > 17% on 200 held-out
    training images, labelled on 200 others (measured: 24%).

    Chance is 10%, with a standard deviation of about 2.1% on 200 images, so 17% is > 3
    sigma above it. Diehl & Cook learning is slow at first (a few early winners take
    high thresholds), so a test this short cannot ask for much more; the long runs are
    ``scripts/mnist_unsupervised.py``.
    """
    root = shared_mnist
    from spikerl.datasets import MNIST

    train = MNIST(root, train=True)
    m = DiehlCook2015(DiehlCookConfig(n_neurons=20, time=150.0), seed=0)
    g = torch.Generator().manual_seed(0)
    m.fit(train.images[:300], generator=g)
    lab = m.responses(train.images[300:500], generator=g)
    val = m.responses(train.images[500:700], generator=g)
    r = Readout.fit(lab, train.labels[300:500])
    acc = float((r.predict(val) == train.labels[500:700]).float().mean())
    assert acc > 0.17, acc
