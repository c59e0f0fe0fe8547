"""Build the encoder and decoder a recipe names, sized from the env's spaces."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import numpy as np
from gymnasium import spaces

from spikerl.decoders import (
    ArgmaxDecoder,
    Decoder,
    EpsilonGreedyDecoder,
    FirstToSpikeDecoder,
    MultinomialDecoder,
    PopulationActionDecoder,
    PopulationVoteDecoder,
    SoftmaxDecoder,
    TieBreak,
)
from spikerl.encoders import (
    BernoulliEncoder,
    DeltaEncoder,
    EncoderBase,
    EventTiming,
    GaussianPopulationEncoder,
    PoissonEncoder,
    RankOrderEncoder,
    RepeatEncoder,
    TimeToFirstSpikeEncoder,
)
from spikerl.envs.recipe import DecoderKind, DecoderSpec, EncoderKind, EncoderSpec
from spikerl.envs.validation import require_box

_INTENSITY_ENCODERS: dict[EncoderKind, type[EncoderBase]] = {
    EncoderKind.POISSON: PoissonEncoder,
    EncoderKind.BERNOULLI: BernoulliEncoder,
    EncoderKind.TIME_TO_FIRST_SPIKE: TimeToFirstSpikeEncoder,
    EncoderKind.RANK_ORDER: RankOrderEncoder,
    EncoderKind.REPEAT: RepeatEncoder,
    EncoderKind.DELTA: DeltaEncoder,
}

_DISCRETE_DECODERS: dict[DecoderKind, type[Decoder]] = {
    DecoderKind.ARGMAX: ArgmaxDecoder,
    DecoderKind.SOFTMAX: SoftmaxDecoder,
    DecoderKind.EPSILON_GREEDY: EpsilonGreedyDecoder,
    DecoderKind.MULTINOMIAL: MultinomialDecoder,
    DecoderKind.FIRST_TO_SPIKE: FirstToSpikeDecoder,
    DecoderKind.POPULATION_VOTE: PopulationVoteDecoder,
}


def _call(factory: Callable[..., Any], what: str, *args: Any, **kwargs: Any) -> Any:
    try:
        return factory(*args, **kwargs)
    except TypeError as err:
        params = [p for p in inspect.signature(factory).parameters if p not in ("self",)]
        raise ValueError(
            f"{what}: bad parameters {sorted(kwargs)} ({err}); accepted: {params}"
        ) from err


def build_encoder(
    spec: EncoderSpec, observation_space: spaces.Space, time_steps: int, dt: float = 1.0
) -> EncoderBase:
    """Encoder for ``observation_space`` (a Box) as ``spec`` describes.

    Intensity encoders get ``input_range = (space.low, space.high)`` unless the spec gives
    one; they need finite bounds. The population encoder takes its ranges from the space,
    ``ranges: {dim: [low, high]}`` in the spec, or running statistics for the rest.
    """
    space = require_box(observation_space, f"{spec.kind.value} encoder")
    params = dict(spec.params)
    if spec.kind is EncoderKind.POPULATION:
        ranges = {
            int(k): (float(v[0]), float(v[1]))
            for k, v in (params.pop("ranges", None) or {}).items()
        }
        if "neurons_per_dim" not in params:
            raise ValueError("population encoder needs neurons_per_dim")
        n = params.pop("neurons_per_dim")
        return _call(
            GaussianPopulationEncoder.from_space,
            "population encoder",
            space.low,
            space.high,
            n,
            time_steps,
            ranges=ranges,
            dt=dt,
            **params,
        )
    if "input_range" in params:
        lo, hi = params.pop("input_range")
    else:
        if not (np.isfinite(space.low).all() and np.isfinite(space.high).all()):
            raise ValueError(
                f"{spec.kind.value} encoder needs finite observation bounds, but {space} has "
                "infinite ones; use the population encoder or give input_range"
            )
        lo, hi = np.asarray(space.low, dtype=np.float64), np.asarray(space.high, dtype=np.float64)
    if "timing" in params:
        params["timing"] = EventTiming(params["timing"])
    cls = _INTENSITY_ENCODERS[spec.kind]
    return _call(
        cls,
        f"{spec.kind.value} encoder",
        space.shape,
        time_steps,
        dt=dt,
        input_range=(lo, hi),
        **params,
    )


def build_decoder(spec: DecoderSpec, action_space: spaces.Space) -> Decoder:
    """Decoder producing actions of ``action_space`` (Discrete or Box) as ``spec`` describes."""
    params = dict(spec.params)
    if "tie_break" in params:
        params["tie_break"] = TieBreak(params["tie_break"])
    if isinstance(action_space, spaces.Discrete):
        if spec.kind not in _DISCRETE_DECODERS:
            valid = ", ".join(k.value for k in _DISCRETE_DECODERS)
            raise ValueError(
                f"decoder {spec.kind.value!r} cannot drive a Discrete action space; "
                f"use one of: {valid}"
            )
        return _call(
            _DISCRETE_DECODERS[spec.kind],
            f"{spec.kind.value} decoder",
            int(action_space.n),
            **params,
        )
    if isinstance(action_space, spaces.Box):
        if spec.kind is not DecoderKind.POPULATION:
            raise ValueError(
                f"a Box action space needs decoder kind 'population', got {spec.kind.value!r}"
            )
        return _call(
            PopulationActionDecoder,
            "population decoder",
            action_space.low,
            action_space.high,
            **params,
        )
    raise TypeError(
        f"unsupported action space {type(action_space).__name__} ({action_space}); "
        "expected Discrete or Box"
    )
