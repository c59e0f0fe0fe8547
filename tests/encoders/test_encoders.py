"""Statistics, golden values, determinism and bad inputs of the encoders."""

from __future__ import annotations

import math

import pytest
import torch

from spikerl.encoders import (
    BernoulliEncoder,
    DeltaEncoder,
    EventTiming,
    GaussianPopulationEncoder,
    PoissonEncoder,
    RankOrderEncoder,
    RepeatEncoder,
    TimeToFirstSpikeEncoder,
)


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("rate", [5.0, 20.0, 63.75, 100.0])
def test_poisson_mean_count_within_3_sigma(rate: float) -> None:
    t, n, dt = 200, 2000, 1.0
    enc = PoissonEncoder((n,), t, max_rate=100.0, dt=dt)
    x = torch.full((1, n), rate / 100.0)
    counts = enc(x, gen(1)).sum(0)  # [1, n]
    p = rate * dt / 1000.0
    expected = p * t
    sigma_mean = math.sqrt(t * p * (1 - p) / n)
    assert abs(float(counts.mean()) - expected) < 3 * sigma_mean
    assert enc(x, gen(1)).shape == (t, 1, n)


def test_poisson_dt_scales_probability() -> None:
    enc = PoissonEncoder((1000,), 100, max_rate=100.0, dt=2.0)
    counts = enc(torch.ones(1, 1000), gen(2)).sum(0)
    p = 100.0 * 2.0 / 1000.0
    assert abs(float(counts.mean()) - p * 100) < 3 * math.sqrt(100 * p * (1 - p) / 1000)


@pytest.mark.parametrize("prob", [0.05, 0.3, 0.9])
def test_bernoulli_mean_count_within_3_sigma(prob: float) -> None:
    t, n = 100, 2000
    enc = BernoulliEncoder((n,), t, max_prob=1.0)
    counts = enc(torch.full((1, n), prob), gen(3)).sum(0)
    sigma_mean = math.sqrt(t * prob * (1 - prob) / n)
    assert abs(float(counts.mean()) - t * prob) < 3 * sigma_mean


def test_input_range_maps_uint8_pixels() -> None:
    enc = BernoulliEncoder((3,), 4, input_range=(0, 255))
    x = torch.tensor([[0, 255, 255]], dtype=torch.uint8)
    s = enc(x, gen())
    assert s.dtype == torch.float32
    assert s[:, 0, 0].sum() == 0 and s[:, 0, 1:].sum() == 8


def test_time_to_first_spike_golden() -> None:
    enc = TimeToFirstSpikeEncoder((4,), 5)
    s = enc(torch.tensor([[1.0, 0.5, 0.25, 0.0]]))
    times = [int(s[:, 0, i].argmax()) if s[:, 0, i].any() else -1 for i in range(4)]
    assert times == [0, 2, 3, -1]
    assert s.sum() == 3


def test_rank_order_monotone_in_intensity() -> None:
    x = torch.rand(3, 50, generator=gen(4))
    enc = RankOrderEncoder((50,), 10)
    times, fires = enc.spike_times(x)
    assert fires.all()
    for b in range(3):
        order = torch.argsort(x[b], descending=True)
        assert bool((times[b][order].diff() >= 0).all())
    s = enc(x)
    assert torch.equal(s.sum(0), torch.ones(3, 50))
    assert int(times[0][x[0].argmax()]) == 0


def test_rank_order_ties_share_a_step() -> None:
    enc = RankOrderEncoder((4,), 4)
    times, _ = enc.spike_times(torch.tensor([[0.1, 0.5, 0.5, 0.9]]))
    assert times.tolist() == [[3, 1, 1, 0]]


def test_repeat_is_constant_current() -> None:
    enc = RepeatEncoder((2,), 3, gain=2.0, input_range=(0.0, 10.0))
    out = enc(torch.tensor([[5.0, 10.0]]))
    assert torch.equal(out, torch.tensor([[[1.0, 2.0]]]).expand(3, 1, 2))


def test_population_peaks_at_right_neuron() -> None:
    enc = GaussianPopulationEncoder([-1.0, 0.0], [1.0, 10.0], 11, 500, max_rate=500.0)
    x = torch.tensor([[-1.0, 7.0], [0.2, 0.0]])
    a = enc.activation(x)
    assert a.shape == (2, 2, 11)
    assert a[0, 0].argmax() == 0 and a[0, 1].argmax() == 7
    assert a[1, 0].argmax() == 6 and a[1, 1].argmax() == 0
    assert torch.isclose(a[0, 1, 7], torch.tensor(1.0))
    counts = enc(x, gen(5)).sum(0)
    assert counts[0, 1].argmax() == 7 and counts[1, 0].argmax() == 6
    assert enc.output_shape == (2, 11)


def test_population_unbounded_dims_use_running_stats() -> None:
    inf = float("inf")
    enc = GaussianPopulationEncoder.from_space([-1.0, -inf], [1.0, inf], 7, 4)
    assert enc.normalized_mask.tolist() == [False, True]
    data = torch.stack([torch.zeros(1000), 50 + 10 * torch.randn(1000, generator=gen(6))], 1)
    enc.activation(data)
    assert abs(float(enc.normalizer.mean[1]) - 50) < 1.5
    enc.eval()
    a = enc.activation(torch.tensor([[0.0, float(enc.normalizer.mean[1])]]))
    assert a[0, 1].argmax() == 3  # the centre neuron of [-3, 3] sd
    with pytest.raises(ValueError, match="infinite bounds"):
        GaussianPopulationEncoder([-1.0, -inf], [1.0, inf], 7, 4)
    declared = GaussianPopulationEncoder.from_space([-inf], [inf], 5, 4, ranges={0: (-2.0, 2.0)})
    assert not declared.normalized_mask.any()
    assert declared.centers[0].tolist() == [-2.0, -1.0, 0.0, 1.0, 2.0]


def test_delta_silent_on_static_frame_and_on_off_on_change() -> None:
    enc = DeltaEncoder((2, 3), 4, threshold=0.1)
    f0 = torch.tensor([[[0.5, 0.5, 0.5], [0.5, 0.5, 0.5]]])
    s, st = enc(f0)
    assert s.sum() == 0  # no previous frame
    s, st = enc(f0, st)
    assert s.sum() == 0 and s.shape == (4, 1, 2, 2, 3)  # static frame
    f1 = f0.clone()
    f1[0, 0, 0] = 0.9  # brighter -> ON
    f1[0, 1, 2] = 0.1  # darker -> OFF
    f1[0, 1, 1] = 0.55  # below threshold -> nothing
    s, st = enc(f1, st)
    assert s[0, 0, 0].nonzero().tolist() == [[0, 0]]
    assert s[0, 0, 1].nonzero().tolist() == [[1, 2]]
    assert s[1:].sum() == 0  # FIRST_STEP timing
    s, _ = enc(f1, st)
    assert s.sum() == 0


def test_delta_all_steps_and_episode_reset() -> None:
    enc = DeltaEncoder((2,), 3, threshold=0.1, timing=EventTiming.ALL_STEPS)
    _, st = enc(torch.tensor([[0.0, 0.0], [0.0, 0.0]]))
    st = enc.reset_state(st, torch.tensor([False, True]))
    s, _ = enc(torch.tensor([[1.0, 1.0], [1.0, 1.0]]), st)
    assert s[:, 0, 0].tolist() == [[1.0, 1.0]] * 3  # ON for all steps
    assert s[:, 1].sum() == 0  # fresh episode: no previous frame


ENCODERS = [
    lambda: PoissonEncoder((6,), 8),
    lambda: BernoulliEncoder((6,), 8),
    lambda: TimeToFirstSpikeEncoder((6,), 8),
    lambda: RankOrderEncoder((6,), 8),
    lambda: RepeatEncoder((6,), 8),
    lambda: GaussianPopulationEncoder([0.0] * 6, [1.0] * 6, 5, 8, max_rate=500.0),
]


def _run(enc: torch.nn.Module, x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    out = enc(x, generator=g) if not isinstance(enc, DeltaEncoder) else enc(x, None, g)[0]
    return out


@pytest.mark.parametrize("make", [*ENCODERS, lambda: DeltaEncoder((6,), 8)])
def test_seeded_determinism_and_contract(make) -> None:  # type: ignore[no-untyped-def]
    enc = make()
    x = torch.rand(3, 6, generator=gen(7))
    a, b = _run(enc, x, gen(11)), _run(enc, x, gen(11))
    assert torch.equal(a, b)
    assert a.shape == (enc.time_steps, 3, *enc.output_shape)
    assert torch.equal(x, torch.rand(3, 6, generator=gen(7)))  # input unchanged
    if isinstance(enc, PoissonEncoder | BernoulliEncoder | GaussianPopulationEncoder):
        assert not torch.equal(a, _run(enc, x, gen(12)))
    # batch independence: sample 1 alone gives the same deterministic output
    if isinstance(enc, TimeToFirstSpikeEncoder | RankOrderEncoder | RepeatEncoder):
        assert torch.equal(_run(enc, x[1:2], gen(0))[:, 0], a[:, 1])


@pytest.mark.parametrize("make", [*ENCODERS, lambda: DeltaEncoder((6,), 8)])
def test_bad_inputs(make) -> None:  # type: ignore[no-untyped-def]
    enc = make()
    with pytest.raises(ValueError, match="expected input of shape"):
        _run(enc, torch.rand(6), gen())
    with pytest.raises(ValueError, match="expected input of shape"):
        _run(enc, torch.rand(2, 5), gen())
    with pytest.raises(ValueError, match="NaN or inf"):
        _run(enc, torch.tensor([[float("nan")] + [0.5] * 5]), gen())
    with pytest.raises(TypeError, match=r"torch\.Tensor"):
        _run(enc, [[0.5] * 6], gen())  # type: ignore[arg-type]
    if not isinstance(enc, GaussianPopulationEncoder):
        with pytest.raises(ValueError, match="outside the declared input_range"):
            _run(enc, torch.full((1, 6), 2.0), gen())


def test_bad_construction() -> None:
    with pytest.raises(ValueError, match="max_rate"):
        PoissonEncoder((2,), 4, max_rate=2000.0)
    with pytest.raises(ValueError, match="time_steps"):
        PoissonEncoder((2,), 0)
    with pytest.raises(ValueError, match="input_shape"):
        PoissonEncoder((2, -1), 4)
    with pytest.raises(ValueError, match="max_prob"):
        BernoulliEncoder((2,), 4, max_prob=1.5)
    with pytest.raises(ValueError, match="high > low"):
        PoissonEncoder((2,), 4, input_range=(1.0, 0.0))
    with pytest.raises(ValueError, match="neurons_per_dim"):
        GaussianPopulationEncoder([0.0], [1.0], 1, 4)
    with pytest.raises(TypeError, match="EventTiming"):
        DeltaEncoder((2,), 4, timing="first_step")  # type: ignore[arg-type]
