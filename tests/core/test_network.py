"""Network: path equivalence, determinism, persistence, monitors, resets, bad input."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from spikerl.core import (
    LIF,
    AdaptiveLIF,
    Conv2dProjection,
    CubaLIF,
    DenseProjection,
    ExecutionMode,
    Input,
    LateralProjection,
    LocalConnected2dProjection,
    Monitor,
    Network,
    Propagation,
    SparseProjection,
    TraceParams,
    Uniform,
)


def random_dag(seed: int, dtype: torch.dtype = torch.float32) -> Network:
    """A random feed-forward network mixing every projection type."""
    g = torch.Generator().manual_seed(seed)
    net = Network()
    net.add_population("in", Input((2, 6, 6)))
    net.add_population("conv", LIF((3, 4, 4)), trace=TraceParams(tau=10.0))
    net.add_population("local", AdaptiveLIF((2, 2, 2)))
    net.add_population("hid", LIF(20))
    net.add_population("out", CubaLIF(8))
    net.connect("in", "conv", Conv2dProjection((2, 6, 6), 3, 3, weight=Uniform(0, 6), generator=g))
    net.connect(
        "in",
        "local",
        LocalConnected2dProjection((2, 6, 6), 2, 3, stride=2, weight=Uniform(0, 5), generator=g),
    )
    net.connect("conv", "hid", DenseProjection((3, 4, 4), 20, Uniform(0, 4), generator=g))
    net.connect("local", "hid", DenseProjection((2, 2, 2), 20, Uniform(-2, 6), generator=g))
    net.connect("in", "hid", SparseProjection((2, 6, 6), 20, 0.3, Uniform(0, 3), generator=g))
    net.connect("hid", "out", DenseProjection(20, 8, Uniform(0, 5), generator=g))
    net.connect("conv", "out", DenseProjection((3, 4, 4), 8, Uniform(-1, 2), generator=g))
    return net.to(dtype)


def poisson(shape: tuple[int, ...], p: float, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(shape, generator=g) < p).float()


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_window_and_sparse_paths_match_stepwise(seed: int, dtype: torch.dtype) -> None:
    net = random_dag(seed, dtype)
    x = poisson((120, 3, 2, 6, 6), 0.1, seed + 100).to(dtype)
    ref, ref_state = net.run({"in": x}, mode=ExecutionMode.STEP, propagation=Propagation.DENSE)
    assert ref["out"].sum() > 0 and ref["hid"].sum() > 0
    for mode, prop in [
        (ExecutionMode.WINDOW, Propagation.DENSE),
        (ExecutionMode.WINDOW, Propagation.SPARSE),
        (ExecutionMode.STEP, Propagation.SPARSE),
        (ExecutionMode.AUTO, Propagation.AUTO),
    ]:
        res, state = net.run({"in": x}, mode=mode, propagation=prop)
        for name in ref.spikes:
            assert torch.equal(res[name], ref[name]), (mode, prop, name)
        for name in ("hid", "out"):
            torch.testing.assert_close(state.neurons[name].v, ref_state.neurons[name].v)
        torch.testing.assert_close(state.traces["conv"], ref_state.traces["conv"])


def test_window_continues_across_windows_like_one_run() -> None:
    net = random_dag(5)
    x = poisson((100, 2, 2, 6, 6), 0.1, 7)
    full, _ = net.run({"in": x}, mode=ExecutionMode.STEP)
    first, st = net.run({"in": x[:37]}, mode=ExecutionMode.WINDOW)
    second, _ = net.run({"in": x[37:]}, st, mode=ExecutionMode.WINDOW)
    assert torch.equal(torch.cat([first["out"], second["out"]]), full["out"])


def test_recurrent_network_runs_stepwise_and_rejects_window() -> None:
    net = Network()
    net.add_population("in", Input(10))
    net.add_population("exc", LIF(5))
    net.connect("in", "exc", DenseProjection(10, 5, 20.0))
    net.connect("exc", "exc", LateralProjection.inhibition(5, 100.0))
    assert not net.is_dag()
    with pytest.raises(ValueError, match="feed-forward"):
        net.run({"in": torch.ones(3, 1, 10)}, mode=ExecutionMode.WINDOW)
    res, _ = net.run({"in": torch.ones(3, 1, 10)})
    # step 0: input spikes; step 1: all exc cross threshold at once (inhibition arrives at 2)
    assert res["exc"][1].sum() == 5
    assert res["exc"][2].sum() == 0


def test_one_step_delay_per_projection() -> None:
    net = Network()
    net.add_population("in", Input(1))
    net.add_population(
        "a",
        LIF(
            1,
        ),
    )
    net.add_population("b", LIF(1))
    net.connect("in", "a", DenseProjection(1, 1, 20.0))
    net.connect("a", "b", DenseProjection(1, 1, 20.0))
    x = torch.zeros(5, 1, 1)
    x[0] = 1.0
    for mode in (ExecutionMode.STEP, ExecutionMode.WINDOW):
        res, _ = net.run({"in": x}, mode=mode)
        assert res["a"][:, 0, 0].tolist() == [0, 1, 0, 0, 0]
        assert res["b"][:, 0, 0].tolist() == [0, 0, 1, 0, 0]


def test_seeded_determinism() -> None:
    a, b = random_dag(11), random_dag(11)
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(pa, pb)
    x = poisson((50, 2, 2, 6, 6), 0.1, 3)
    assert torch.equal(a.run({"in": x})[0]["out"], b.run({"in": x})[0]["out"])
    c = random_dag(12)
    assert not torch.equal(next(a.parameters()), next(c.parameters()))


def test_save_load_round_trip_gives_identical_spikes(tmp_path: Path) -> None:
    net, other = random_dag(1), random_dag(2)
    x = poisson((60, 2, 2, 6, 6), 0.1, 4)
    _, st = net.run({"in": x[:30]})
    path = tmp_path / "net.pt"
    net.save(path)
    other.load(path)
    expected, _ = net.run({"in": x[30:]}, st)
    got, _ = other.run({"in": x[30:]}, st)
    for k in expected.spikes:
        assert torch.equal(expected[k], got[k])


def test_load_rejects_corrupt_and_foreign_files(tmp_path: Path) -> None:
    net = random_dag(0)
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="not a readable"):
        net.load(bad)
    foreign = tmp_path / "foreign.pt"
    torch.save({"something": torch.zeros(1)}, foreign)
    with pytest.raises(ValueError, match="not a spikerl network"):
        net.load(foreign)
    with pytest.raises(FileNotFoundError):
        net.load(tmp_path / "missing.pt")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA not available")
def test_cuda_round_trip() -> None:
    net = random_dag(3)
    x = poisson((40, 2, 2, 6, 6), 0.1, 5)
    ref, _ = net.run({"in": x})
    gpu, _ = net.to("cuda").run({"in": x.cuda()})
    back, _ = net.to("cpu").run({"in": x})
    assert torch.equal(ref["out"], back["out"])
    assert (gpu["out"].cpu() != ref["out"]).float().mean() < 0.01


def test_monitors_record_same_values_in_both_paths() -> None:
    net = random_dag(8)
    x = poisson((30, 2, 2, 6, 6), 0.1, 9)
    recs = {}
    for mode in (ExecutionMode.STEP, ExecutionMode.WINDOW):
        ms = [Monitor("hid", "v"), Monitor("out", "spikes"), Monitor("conv", "trace")]
        res, _ = net.run({"in": x}, mode=mode, monitors=ms)
        assert ms[0].values.shape == (30, 2, 20)
        assert torch.equal(ms[1].values, res["out"])
        recs[mode] = [m.values for m in ms]
    for a, b in zip(recs[ExecutionMode.STEP], recs[ExecutionMode.WINDOW], strict=True):
        torch.testing.assert_close(a, b)
    m = Monitor("local", "theta", keep_history=True)
    net.run({"in": x}, monitors=[m])
    net.run({"in": x}, monitors=[m])
    assert m.history().shape == (60, 2, 2, 2, 2)
    with pytest.raises(ValueError, match="unknown variable"):
        net.run({"in": x}, monitors=[Monitor("hid", "theta")])


def test_reset_state_by_episode_mask() -> None:
    net = random_dag(4)
    x = poisson((30, 2, 2, 6, 6), 0.2, 1)
    _, st = net.run({"in": x})
    fresh = net.initial_state(2)
    reset = net.reset_state(st, torch.tensor([False, True]))
    assert torch.equal(reset.neurons["hid"].v[1], fresh.neurons["hid"].v[1])
    assert torch.equal(reset.neurons["hid"].v[0], st.neurons["hid"].v[0])
    assert torch.equal(reset.spikes["hid"][1], torch.zeros(20))
    assert torch.equal(reset.neurons["local"].theta, st.neurons["local"].theta)


def test_bad_input_errors() -> None:
    net = random_dag(0)
    with pytest.raises(ValueError, match=r"population 'in'.*\[T, B, 2, 6, 6\].*\[10, 1, 72\]"):
        net.run({"in": torch.zeros(10, 1, 72)})
    with pytest.raises(ValueError, match="NaN or inf"):
        x = torch.zeros(10, 1, 2, 6, 6)
        x[3, 0, 0, 0, 0] = float("nan")
        net.run({"in": x})
    with pytest.raises(ValueError, match=r"unknown population 'nope'.*available"):
        net.run({"nope": torch.zeros(10, 1, 3)})
    with pytest.raises(ValueError, match="duration"):
        net.run({}, net.initial_state(1), duration=-1)
    with pytest.raises(ValueError, match="no input given for Input population 'in'"):
        net.run({}, net.initial_state(1), duration=5)
    with pytest.raises(ValueError, match="dt"):
        Network(dt=0)
    with pytest.raises(ValueError, match="dt"):
        Network(dt=-0.5)
    with pytest.raises(ValueError, match=r"target shape \(7,\) does not match population 'out'"):
        net.connect("hid", "out", DenseProjection(20, 7))
    with pytest.raises(ValueError, match="source shape"):
        net.connect("hid", "out", DenseProjection(21, 8))
    with pytest.raises(ValueError, match="unknown population 'ghost'"):
        net.connect("ghost", "out", DenseProjection(20, 8))
    with pytest.raises(ValueError, match=r"dt=2\.0"):
        net.add_population("slow", LIF(3, dt=2.0))
    with pytest.raises(ValueError, match="already exists"):
        net.add_population("hid", LIF(3))
    with pytest.raises(ValueError, match="Input source"):
        net.connect("hid", "in", DenseProjection(20, (2, 6, 6)))
    with pytest.raises(TypeError, match="Neuron"):
        net.add_population("x", torch.nn.Linear(2, 2))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="batch"):
        net.run({"in": torch.zeros(10, 2, 2, 6, 6)}, net.initial_state(1))


def test_zero_length_run_is_a_no_op() -> None:
    net = random_dag(0)
    st = net.initial_state(1)
    res, st2 = net.run({"in": torch.zeros(0, 1, 2, 6, 6)}, st)
    assert res["out"].shape == (0, 1, 8)
    assert st2 is st
