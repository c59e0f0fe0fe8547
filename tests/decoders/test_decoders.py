"""Action decoders: golden values, sampling statistics, determinism and bad inputs."""

from __future__ import annotations

import pytest
import torch
from scipy import stats

from spikerl.decoders import (
    ArgmaxDecoder,
    EpsilonGreedyDecoder,
    FirstToSpikeDecoder,
    MultinomialDecoder,
    PopulationActionDecoder,
    PopulationVoteDecoder,
    SoftmaxDecoder,
    TieBreak,
)


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_argmax_counts_and_raster_agree() -> None:
    raster = torch.zeros(5, 2, 3)
    raster[:3, 0, 2] = 1
    raster[:1, 0, 1] = 1
    raster[:2, 1, 0] = 1
    dec = ArgmaxDecoder(3)
    assert dec(raster, gen()).tolist() == [2, 0]
    assert dec(raster.sum(0), gen()).tolist() == [2, 0]


def test_argmax_tie_break() -> None:
    silent = torch.zeros(4000, 3)
    assert ArgmaxDecoder(3, tie_break=TieBreak.FIRST)(silent).eq(0).all()
    picks = ArgmaxDecoder(3)(silent, gen(1))
    freq = torch.bincount(picks, minlength=3).float() / 4000
    assert torch.allclose(freq, torch.full((3,), 1 / 3), atol=0.03)
    tied = torch.tensor([[2.0, 0.0, 2.0]]).expand(1000, 3)
    assert set(ArgmaxDecoder(3)(tied, gen(2)).tolist()) == {0, 2}


def test_population_vote_sums_groups() -> None:
    dec = PopulationVoteDecoder(2, neurons_per_action=3)
    counts = torch.tensor([[3.0, 0, 0, 1, 1, 0], [1, 1, 0, 0, 1, 2]])
    assert dec.n_inputs == 6
    assert dec(counts, gen()).tolist() == [0, 1]


def test_multinomial_chi_square_follows_counts() -> None:
    counts = torch.tensor([[1.0, 3.0, 0.0, 6.0]])
    n = 20000
    picks = MultinomialDecoder(4)(counts.expand(n, 4), gen(3))
    observed = torch.bincount(picks, minlength=4).numpy()
    assert observed[2] == 0  # silent action never chosen
    expected = (counts[0] / counts.sum()).numpy() * n
    keep = expected > 0
    chi2 = stats.chisquare(observed[keep], expected[keep])
    assert chi2.pvalue > 1e-3
    # and a wrong hypothesis is rejected
    assert stats.chisquare(observed[keep], [n / 3] * 3).pvalue < 1e-6


def test_multinomial_uniform_when_silent() -> None:
    picks = MultinomialDecoder(4)(torch.zeros(20000, 4), gen(4))
    observed = torch.bincount(picks, minlength=4).numpy()
    assert stats.chisquare(observed, [5000] * 4).pvalue > 1e-3


def test_softmax_temperature() -> None:
    dec = SoftmaxDecoder(2, temperature=2.0)
    probs = dec.probabilities(torch.tensor([[0.0, 2.0]]))
    assert torch.allclose(probs, torch.softmax(torch.tensor([[0.0, 1.0]]), -1))
    picks = dec(torch.tensor([[0.0, 2.0]]).expand(20000, 2), gen(5))
    frac = float(picks.float().mean())
    assert abs(frac - float(probs[0, 1])) < 0.015
    cold = SoftmaxDecoder(2, temperature=0.01)(torch.tensor([[0.0, 2.0]]).expand(100, 2), gen())
    assert cold.eq(1).all()


def test_epsilon_greedy_rate() -> None:
    dec = EpsilonGreedyDecoder(4, epsilon=0.2)
    picks = dec(torch.tensor([[0.0, 0.0, 5.0, 0.0]]).expand(20000, 4), gen(6))
    greedy_frac = float((picks == 2).float().mean())
    assert abs(greedy_frac - (0.8 + 0.2 / 4)) < 0.015
    assert EpsilonGreedyDecoder(4, epsilon=0.0)(torch.tensor([[0.0, 1, 0, 0]]), gen()).item() == 1


def test_first_to_spike() -> None:
    raster = torch.zeros(6, 3, 4)
    raster[4:, 0, 0] = 1  # many late spikes
    raster[2, 0, 3] = 1  # one early spike wins
    raster[1, 1, 1] = 1
    raster[1, 1, 2] = 1
    raster[1, 1, 2] = 1
    dec = FirstToSpikeDecoder(4, tie_break=TieBreak.FIRST)
    out = dec(raster, gen())
    assert out[0] == 3 and out[1] == 1 and out[2] == 0  # silent -> tie (FIRST -> 0)
    with pytest.raises(ValueError, match="needs a raster"):
        dec(raster.sum(0))


def test_population_action_decoder() -> None:
    dec = PopulationActionDecoder([-2.0], [2.0], 5)
    counts = torch.tensor([[0.0, 0, 0, 0, 4], [0, 1, 0, 1, 0], [0, 0, 0, 0, 0], [1, 0, 0, 0, 3]])
    out = dec(counts)
    assert out.shape == (4, 1)
    assert torch.allclose(out[:, 0], torch.tensor([2.0, 0.0, 0.0, 1.0]))


def test_decoders_seeded_determinism() -> None:
    counts = torch.rand(50, 6, generator=gen(8)) * 3
    for dec in [
        ArgmaxDecoder(6),
        SoftmaxDecoder(6),
        EpsilonGreedyDecoder(6, 0.5),
        MultinomialDecoder(6),
        PopulationVoteDecoder(3, 2),
    ]:
        assert torch.equal(dec(counts, gen(9)), dec(counts, gen(9)))


@pytest.mark.parametrize(
    "dec",
    [
        ArgmaxDecoder(3),
        SoftmaxDecoder(3),
        MultinomialDecoder(3),
        PopulationVoteDecoder(3, 2),
        EpsilonGreedyDecoder(3),
        PopulationActionDecoder([-1.0], [1.0], 3),
    ],
)
def test_wrong_spike_shapes(dec: torch.nn.Module) -> None:
    n = dec.n_inputs
    for bad in [torch.zeros(n), torch.zeros(2, n + 1), torch.zeros(2, 2, 2, n)]:
        with pytest.raises(ValueError, match="expected spike counts"):
            dec(bad)
    with pytest.raises(ValueError, match=">= 0"):
        dec(-torch.ones(1, n))
    with pytest.raises(ValueError, match="NaN or inf"):
        dec(torch.full((1, n), float("inf")))
    with pytest.raises(TypeError):
        dec([[0.0] * n])


def test_bad_construction() -> None:
    with pytest.raises(ValueError):
        ArgmaxDecoder(0)
    with pytest.raises(ValueError):
        EpsilonGreedyDecoder(2, epsilon=1.5)
    with pytest.raises(ValueError):
        SoftmaxDecoder(2, temperature=0.0)
    with pytest.raises(TypeError):
        ArgmaxDecoder(2, tie_break="random")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        PopulationActionDecoder([0.0], [float("inf")], 4)
