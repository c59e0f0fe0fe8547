"""Convolutional STDP model: hand-computed STDP change, WTA inhibition, learning on MNIST."""

from __future__ import annotations

import torch

from spikerl.models.conv_stdp import (
    ConvSTDPConfig,
    ConvSTDPFeatures,
    RSTDPReadout,
    conv_if_times,
    dog_kernel,
    inhibit_across_maps,
    k_winners,
    on_off_dog,
    pool_times,
)

T = 4
S = T  # silent


def _tiny_model() -> ConvSTDPFeatures:
    """2 maps of 2x2 kernels on 3x3 on/off input, threshold 1, k = 2 winners, radius 0."""
    cfg = ConvSTDPConfig(
        time_steps=T,
        maps=(2,),
        kernels=(2,),
        thresholds=(1.0,),
        pools=((1, 1),),
        taps=((1, 1),),
        winners=(2,),
        radius=(0,),
        a_plus=0.1,
        a_minus_ratio=0.5,
    )
    m = ConvSTDPFeatures(cfg, input_shape=(3, 3))
    w = torch.empty(2, 2, 2, 2)
    w[0, 0] = torch.tensor([[0.5, 0.5], [0.5, 0.5]])
    w[1, 0] = torch.tensor([[0.2, 0.9], [0.1, 0.3]])
    w[:, 1] = 0.4  # the "off" channel is silent: these weights can only be depressed
    with torch.no_grad():
        m.conv(0).weight.copy_(w)
    return m


def _hand_times() -> torch.Tensor:
    t = torch.full((1, 2, 3, 3), S, dtype=torch.int64)
    t[0, 0] = torch.tensor([[0, 1, S], [2, S, 3], [S, 0, S]])
    return t


def test_if_times_by_hand() -> None:
    m = _tiny_model()
    t, v = conv_if_times(_hand_times(), m.conv(0), 1.0, T)
    # map 0: V(0,0) = .5 at t0, 1.0 at t1; (0,1): .5, 1.0 at t3; (1,0): 1.0 at t2; (1,1): t3.
    assert t[0, 0].tolist() == [[1, 3], [2, 3]]
    # map 1 at (0,0): .2 at t0, 1.1 at t1 (fires); (0,1): .2 + .3 = .5 < 1, silent.
    assert t[0, 1, 0].tolist() == [1, S]
    assert abs(float(v[0, 1, 0, 0]) - 1.1) < 1e-6
    assert abs(float(v[0, 0, 0, 0]) - 1.0) < 1e-6


def test_conv_stdp_weight_change_golden() -> None:
    """dw of both winners computed by hand from the rule dw = a+(1-w) / -a- w."""
    m = _tiny_model()
    w0 = m.conv(0).weight.detach().clone()
    plast = m.plasticity(0)
    dw = m.learn_from_times(0, _hand_times(), plast)
    # Winner 1: map 1 at (0,0), t_post = 1 (ties map 0's t = 1, larger potential 1.1).
    #   inputs t = 0, 1 <= 1: +0.1 (1 - .2) = .08, +0.1 (1 - .9) = .01;
    #   t = 2 > 1: -0.05 * .1 = -.005; silent (fires at T): -0.05 * .3 = -.015.
    # Winner 2 (map 1 inhibited, location (0,0) inhibited by radius 0): map 0 at (1,0),
    #   t_post = 2: inputs (1,0) t2, (1,1) silent, (2,0) silent, (2,1) t0:
    #   +.05, -.025, -.025, +.05.
    # Off channel (silent everywhere, w = .4): -0.05 * .4 = -.02 for both winners.
    want = torch.empty(2, 2, 2, 2)
    want[1, 0] = torch.tensor([[0.08, 0.01], [-0.005, -0.015]])
    want[0, 0] = torch.tensor([[0.05, -0.025], [-0.025, 0.05]])
    want[:, 1] = -0.02
    torch.testing.assert_close(dw, want, atol=1e-5, rtol=0)
    torch.testing.assert_close(m.conv(0).weight.detach(), w0 + want, atol=1e-5, rtol=0)


def test_wta_one_map_per_location() -> None:
    B, C, H, W = 3, 5, 4, 4
    g = torch.Generator().manual_seed(0)
    t = torch.randint(0, T + 1, (B, C, H, W), generator=g)
    v = torch.rand(B, C, H, W, generator=g) + 1.0
    t[0, :, 0, 0] = S  # nobody fires here: nobody may win
    t[1, :, 1, 1] = torch.tensor([2, 1, 1, S, 3])  # maps 1 and 2 tie in time ...
    v[1, :, 1, 1] = torch.tensor([5.0, 1.2, 1.7, 9.0, 4.0])  # ... map 2 has more potential
    out = inhibit_across_maps(t, v, T)
    fired_any = (t < S).any(1)
    winners = (out < S).sum(1)
    assert torch.equal(winners, fired_any.to(winners.dtype))  # exactly one where any fired
    assert int(winners[0, 0, 0]) == 0
    assert out[1, :, 1, 1].tolist() == [S, S, 1, S, S]
    # The winner keeps its time and is the earliest at its location.
    first = torch.where(t < S, t, torch.full_like(t, 99)).amin(1)
    kept = torch.where(out < S, out, torch.full_like(out, 99)).amin(1)
    assert torch.equal(kept[fired_any], first[fired_any])


def test_model_forward_lets_one_map_win_per_location() -> None:
    """The model's own forward pass inhibits across maps (pooling 1x1 keeps locations)."""
    m = _tiny_model()
    raw, _ = conv_if_times(_hand_times(), m.conv(0), 1.0, T)
    # Without inhibition both maps fire at (0,0) (t1; V 1.0 and 1.1) and at (1,1) (t3;
    # V 1.0 and 1.0), only map 0 at (0,1) and (1,0).
    assert raw[0].tolist() == [[[1, 3], [2, 3]], [[1, S], [S, 3]]]
    out = m.outputs_from_times(_hand_times())[0]
    # (0,0): map 1 (larger potential); (1,1): map 0 (equal potentials: lower index).
    assert out[0].tolist() == [[[S, 3], [2, 3]], [[1, S], [S, S]]]
    # On images: exactly one map per location where any fired, at the earliest time.
    cfg = ConvSTDPConfig(
        maps=(8,), kernels=(5,), thresholds=(6.0,), pools=((1, 1),), taps=((1, 1),),
        winners=(1,), radius=(0,),
    )  # fmt: skip
    g = torch.Generator().manual_seed(2)
    model = ConvSTDPFeatures(cfg, input_shape=(12, 12), generator=g)
    images = torch.rand(3, 12, 12, generator=g)
    t_in = model.input_times(images)
    raw, _ = model.layer_times(0, t_in)
    out = model.layer_outputs(images)[0]
    fired = (raw < cfg.time_steps).sum(1)
    assert int(fired.max()) > 1  # maps compete somewhere
    assert torch.equal((out < cfg.time_steps).sum(1), (fired > 0).to(fired.dtype))
    assert torch.equal(out.amin(1), raw.amin(1))
    assert bool(((out == raw) | (out == cfg.time_steps)).all())  # winners keep their times


def test_k_winners_distinct_maps_and_radius() -> None:
    g = torch.Generator().manual_seed(1)
    t = torch.randint(0, T, (4, 6, 8, 8), generator=g)
    v = torch.rand(4, 6, 8, 8, generator=g)
    win = k_winners(t, v, k=4, radius=2, time_steps=T)
    for b in range(4):
        idx = win[b].nonzero()
        assert idx.shape[0] == 4
        assert len(set(idx[:, 0].tolist())) == 4  # each in a different map
        for p in range(4):
            for q in range(p + 1, 4):
                d = (idx[p, 1:] - idx[q, 1:]).abs().max()
                assert int(d) > 2  # no winner inside another's inhibition radius
    # The first winner is the globally earliest (ties: larger potential).
    score = -t.float() + 0.5 * v / v.abs().max().clamp(min=1.0)
    assert bool(win.view(4, -1).gather(1, score.view(4, -1).argmax(1, keepdim=True)).all())


def test_front_end_and_pooling() -> None:
    k = dog_kernel(7, 1.0, 2.0)
    assert abs(float(k.sum())) < 1e-6
    img = torch.zeros(1, 9, 9)
    img[0, 4, 4] = 1.0
    x = on_off_dog(img, k)
    assert x.shape == (1, 2, 9, 9) and float(x.max()) == 1.0
    assert float(x[0, 0, 4, 4]) == 1.0 and float(x[0, 1, 4, 4]) == 0.0  # on-centre
    t = torch.tensor([[[[3, 1], [2, S]]]])
    assert pool_times(t, 2, 2).tolist() == [[[[1]]]]


def test_readout_ties_are_seeded_draws() -> None:
    r1 = RSTDPReadout(4, T, generator=torch.Generator().manual_seed(3))
    r2 = RSTDPReadout(4, T, generator=torch.Generator().manual_seed(3))
    silent = torch.full((200, 4), S, dtype=torch.int64)  # no spikes: every class ties
    p1, p2 = r1.predict(silent), r2.predict(silent)
    assert torch.equal(p1, p2)
    assert len(set(p1.tolist())) == 10  # a draw over all tied classes, not a fixed one
