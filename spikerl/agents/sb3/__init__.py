"""Spiking policies (surrogate-gradient LIF feature extractors) for SB3's PPO, A2C and DQN.

Importing this package registers ``"SpikingMlpPolicy"`` and ``"SpikingCnnPolicy"`` with
stable-baselines3's PPO, A2C and DQN (see :mod:`spikerl.agents.sb3.policies`).
"""

from spikerl.agents.sb3.config import (
    Backend,
    Encoding,
    Readout,
    SpikingConfig,
    config_from_dict,
    config_to_dict,
)
from spikerl.agents.sb3.extractors import SpikingCnnExtractor, SpikingMlpExtractor, lif_window
from spikerl.agents.sb3.policies import (
    SpikingActorCriticCnnPolicy,
    SpikingActorCriticPolicy,
    SpikingDQNCnnPolicy,
    SpikingDQNPolicy,
    register_policies,
)

register_policies()

__all__ = [
    "Backend",
    "Encoding",
    "Readout",
    "SpikingActorCriticCnnPolicy",
    "SpikingActorCriticPolicy",
    "SpikingCnnExtractor",
    "SpikingConfig",
    "SpikingDQNCnnPolicy",
    "SpikingDQNPolicy",
    "SpikingMlpExtractor",
    "config_from_dict",
    "config_to_dict",
    "lif_window",
    "register_policies",
]
