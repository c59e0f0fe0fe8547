"""Gymnasium wrappers, environment short names and recipes, Atari preprocessing.

``make_env("CartPole", seed=0)`` gives an env whose observations are spike trains
``(T, *encoder.output_shape)`` and whose actions are output spikes ``(T, n)``.
"""

from spikerl.envs.actions import BinnedActions
from spikerl.envs.atari import ExactALEPickle, FireResetWrapper, StallGuard, action_index
from spikerl.envs.components import build_decoder, build_encoder
from spikerl.envs.make import list_presets, load_recipe, make_base_env, make_env, make_vec_env
from spikerl.envs.presets import PresetKind, preset_dir, preset_files
from spikerl.envs.recipe import (
    AtariSettings,
    DecoderKind,
    DecoderSpec,
    EncoderKind,
    EncoderSpec,
    EnvRecipe,
)
from spikerl.envs.spike_action import SpikeAction, VectorSpikeAction
from spikerl.envs.spike_observation import SpikeObservation, VectorSpikeObservation
from spikerl.envs.validation import observation_tensor

__all__ = [
    "AtariSettings",
    "BinnedActions",
    "DecoderKind",
    "DecoderSpec",
    "EncoderKind",
    "EncoderSpec",
    "EnvRecipe",
    "ExactALEPickle",
    "FireResetWrapper",
    "PresetKind",
    "SpikeAction",
    "SpikeObservation",
    "StallGuard",
    "VectorSpikeAction",
    "VectorSpikeObservation",
    "action_index",
    "build_decoder",
    "build_encoder",
    "list_presets",
    "load_recipe",
    "make_base_env",
    "make_env",
    "make_vec_env",
    "observation_tensor",
    "preset_dir",
    "preset_files",
]
