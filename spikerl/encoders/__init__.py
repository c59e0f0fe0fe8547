"""Observation/data -> spike trains ``[T, B, *output_shape]``.

Every encoder is built with its per-sample ``input_shape`` and window length ``T`` and
exposes ``output_shape`` (per step, without T and B) so layers can be sized from it.
"""

from spikerl.encoders.base import Encoder, EncoderBase, StatefulEncoder
from spikerl.encoders.bernoulli import BernoulliEncoder
from spikerl.encoders.delta import DeltaEncoder, DeltaState, EventTiming
from spikerl.encoders.feature_map import FeatureEncoder
from spikerl.encoders.fields import GaussianFields, GaussianFieldsConfig
from spikerl.encoders.intensity import IntensityRange
from spikerl.encoders.latency import RankOrderEncoder, TimeToFirstSpikeEncoder
from spikerl.encoders.normalizer import RunningNormalizer
from spikerl.encoders.pixels import PixelGrid, PixelGridConfig
from spikerl.encoders.poisson import PoissonEncoder, bernoulli_train
from spikerl.encoders.population import GaussianPopulationEncoder, gaussian_fields
from spikerl.encoders.repeat import RepeatEncoder

__all__ = [
    "BernoulliEncoder",
    "DeltaEncoder",
    "DeltaState",
    "Encoder",
    "EncoderBase",
    "EventTiming",
    "FeatureEncoder",
    "GaussianFields",
    "GaussianFieldsConfig",
    "GaussianPopulationEncoder",
    "IntensityRange",
    "PixelGrid",
    "PixelGridConfig",
    "PoissonEncoder",
    "RankOrderEncoder",
    "RepeatEncoder",
    "RunningNormalizer",
    "StatefulEncoder",
    "TimeToFirstSpikeEncoder",
    "bernoulli_train",
    "gaussian_fields",
]
