"""Agents: the R-STDP spiking actor-critic as an SB3 algorithm."""

from spikerl.agents.features import (
    BreakoutFields,
    BreakoutFieldsConfig,
    FeatureMap,
    GaussianFields,
    GaussianFieldsConfig,
)
from spikerl.agents.learner import RSTDPLearner, UpdateStats
from spikerl.agents.network import (
    ActorState,
    LearnConfig,
    LearnState,
    Modulation,
    SNNConfig,
    SpikingActorCritic,
)
from spikerl.agents.persistence import CheckpointError
from spikerl.agents.rstdp import RSTDP, RSTDPConfig, SpikingPolicy

__all__ = [
    "RSTDP",
    "ActorState",
    "BreakoutFields",
    "BreakoutFieldsConfig",
    "CheckpointError",
    "FeatureMap",
    "GaussianFields",
    "GaussianFieldsConfig",
    "LearnConfig",
    "LearnState",
    "Modulation",
    "RSTDPConfig",
    "RSTDPLearner",
    "SNNConfig",
    "SpikingActorCritic",
    "SpikingPolicy",
    "UpdateStats",
]
