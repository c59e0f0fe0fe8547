"""Agents: the R-STDP spiking actor-critic as an SB3 algorithm, and spiking policies for
SB3's PPO, A2C and DQN (importing this package registers ``"SpikingMlpPolicy"`` and
``"SpikingCnnPolicy"`` with them; see :mod:`spikerl.agents.sb3`)."""

from spikerl.agents.config import Eligibility, LearnConfig, Modulation, SNNConfig, UpdateStats
from spikerl.agents.core_policy import NetworkLearner, NetworkPolicy
from spikerl.agents.features import (
    BreakoutFields,
    BreakoutFieldsConfig,
    FeatureMap,
    GaussianFields,
    GaussianFieldsConfig,
)
from spikerl.agents.persistence import CheckpointError
from spikerl.agents.rstdp import RSTDP, RSTDPConfig
from spikerl.agents.sb3 import (
    SpikingActorCriticCnnPolicy,
    SpikingActorCriticPolicy,
    SpikingCnnExtractor,
    SpikingDQNCnnPolicy,
    SpikingDQNPolicy,
    SpikingMlpExtractor,
)

__all__ = [
    "RSTDP",
    "BreakoutFields",
    "BreakoutFieldsConfig",
    "CheckpointError",
    "Eligibility",
    "FeatureMap",
    "GaussianFields",
    "GaussianFieldsConfig",
    "LearnConfig",
    "Modulation",
    "NetworkLearner",
    "NetworkPolicy",
    "RSTDPConfig",
    "SNNConfig",
    "SpikingActorCriticCnnPolicy",
    "SpikingActorCriticPolicy",
    "SpikingCnnExtractor",
    "SpikingDQNCnnPolicy",
    "SpikingDQNPolicy",
    "SpikingMlpExtractor",
    "UpdateStats",
]
