"""Spike trains -> actions or labels.

Decoders read spike counts ``[B, n]`` or rasters ``[T, B, n]`` and raise a clear error on
any other shape.
"""

from spikerl.decoders.argmax import ArgmaxDecoder, PopulationVoteDecoder
from spikerl.decoders.base import (
    Decoder,
    DiscreteDecoder,
    TieBreak,
    check_spikes,
    group_counts,
    pick_max,
    spike_counts,
)
from spikerl.decoders.continuous import PopulationActionDecoder
from spikerl.decoders.epsilon import EpsilonGreedyDecoder
from spikerl.decoders.first_spike import FirstToSpikeDecoder
from spikerl.decoders.labels import all_activity, assign_labels, proportion_weighting
from spikerl.decoders.multinomial import MultinomialDecoder
from spikerl.decoders.softmax import SoftmaxDecoder
from spikerl.decoders.vote import Decision, Readout, group_scores, vote

__all__ = [
    "ArgmaxDecoder",
    "Decision",
    "Decoder",
    "DiscreteDecoder",
    "EpsilonGreedyDecoder",
    "FirstToSpikeDecoder",
    "MultinomialDecoder",
    "PopulationActionDecoder",
    "PopulationVoteDecoder",
    "Readout",
    "SoftmaxDecoder",
    "TieBreak",
    "all_activity",
    "assign_labels",
    "check_spikes",
    "group_counts",
    "group_scores",
    "pick_max",
    "proportion_weighting",
    "spike_counts",
    "vote",
]
