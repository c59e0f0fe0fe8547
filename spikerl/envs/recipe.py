"""Typed environment recipes, loaded from the YAML files in ``envs/`` through the project's
one config system (:mod:`spikerl.config`)."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml


class EncoderKind(StrEnum):
    """Encoders a recipe can name (``encoder.kind`` in YAML)."""

    POISSON = "poisson"
    BERNOULLI = "bernoulli"
    TIME_TO_FIRST_SPIKE = "time_to_first_spike"
    RANK_ORDER = "rank_order"
    REPEAT = "repeat"
    POPULATION = "population"
    DELTA = "delta"


class DecoderKind(StrEnum):
    """Decoders a recipe can name (``decoder.kind`` in YAML)."""

    ARGMAX = "argmax"
    SOFTMAX = "softmax"
    EPSILON_GREEDY = "epsilon_greedy"
    MULTINOMIAL = "multinomial"
    FIRST_TO_SPIKE = "first_to_spike"
    POPULATION_VOTE = "population_vote"
    POPULATION = "population"


def _enum(cls: type[StrEnum], value: object, where: str) -> Any:
    try:
        return cls(str(value)) if isinstance(value, str) else cls(value)  # type: ignore[arg-type]
    except ValueError:
        valid = ", ".join(m.value for m in cls)
        raise ValueError(f"{where}: unknown kind {value!r}; expected one of: {valid}") from None


@dataclass(frozen=True)
class EncoderSpec:
    """Which encoder to build and its keyword arguments (besides shape, T, dt, range)."""

    kind: EncoderKind
    params: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EncoderSpec:
        """``{"kind": "poisson", "max_rate": 100}`` -> spec."""
        if not isinstance(data, dict) or "kind" not in data:
            raise ValueError(f"encoder must be a mapping with a 'kind', got {data!r}")
        rest = {k: v for k, v in data.items() if k != "kind"}
        return cls(_enum(EncoderKind, data["kind"], "encoder"), rest)

    def to_dict(self) -> dict[str, Any]:
        """The YAML form."""
        return {"kind": self.kind.value, **copy.deepcopy(self.params)}


@dataclass(frozen=True)
class DecoderSpec:
    """Which decoder to build and its keyword arguments (besides the action space)."""

    kind: DecoderKind
    params: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DecoderSpec:
        """``{"kind": "population_vote", "neurons_per_action": 8}`` -> spec."""
        if not isinstance(data, dict) or "kind" not in data:
            raise ValueError(f"decoder must be a mapping with a 'kind', got {data!r}")
        rest = {k: v for k, v in data.items() if k != "kind"}
        return cls(_enum(DecoderKind, data["kind"], "decoder"), rest)

    def to_dict(self) -> dict[str, Any]:
        """The YAML form."""
        return {"kind": self.kind.value, **copy.deepcopy(self.params)}


class AtariFrames(StrEnum):
    """Who skips frames and what the agent sees (``atari.frames`` in YAML).

    ``gymnasium``: gymnasium's ``AtariPreprocessing`` skips ``frame_skip`` frames (``gym.make``
    gets ``frameskip=1``), max-pools the last two against flicker and resizes to
    ``screen_size``. ``native``: the emulator itself repeats each action ``frame_skip``
    frames (no max-pool) and the agent sees the full 210 x 160 frame; ``screen_size``,
    ``noop_max`` and ``terminal_on_life_loss`` do not apply (the last two must stay off).
    """

    GYMNASIUM = "gymnasium"
    NATIVE = "native"


@dataclass(frozen=True)
class AtariSettings:
    """Atari preprocessing applied after ``gym.make`` (see ``make_base_env`` for the order).

    Attributes:
        frames: Frame pipeline (:class:`AtariFrames`): gymnasium's AtariPreprocessing, or the
            emulator's own frame skipping at full resolution.
        frame_skip: Frames per agent step (``AtariPreprocessing`` max-pools the last two;
            ``gym.make`` must then get ``frameskip=1`` so skipping is not doubled).
        noop_max: Max random no-ops after reset (0 = off).
        screen_size: Side of the square resized frame (``frames: gymnasium``).
        grayscale: Grayscale frames (else RGB).
        terminal_on_life_loss: End the episode on each lost life.
        frame_stack: Frames stacked (1 = no stacking, obs ``(84, 84)``; k>1 gives ``(k, 84, 84)``).
        fire_on_reset: Press FIRE after reset.
        fire_on_life_loss: Press FIRE after a lost life.
        stall_fire_after: Reward-free steps between extra FIREs (None = off).
        stall_truncate_after: Reward-free steps before truncation (None = off).
    """

    frames: AtariFrames = AtariFrames.GYMNASIUM
    frame_skip: int = 4
    noop_max: int = 0
    screen_size: int = 84
    grayscale: bool = True
    terminal_on_life_loss: bool = False
    frame_stack: int = 1
    fire_on_reset: bool = False
    fire_on_life_loss: bool = False
    stall_fire_after: int | None = None
    stall_truncate_after: int | None = None


@dataclass(frozen=True)
class EnvRecipe:
    """Everything that decides what an environment preset is (and changes its scores).

    Attributes:
        name: Short name (``"Breakout"``).
        id: Gymnasium id (``"ALE/Breakout-v5"``).
        encoder: Observation encoder.
        decoder: Action decoder.
        time_steps: Simulation steps T per env step.
        dt: Simulation step in ms.
        make_kwargs: Keyword arguments for ``gym.make`` (e.g. ``repeat_action_probability``).
        max_episode_steps: TimeLimit override (None = the env's default).
        atari: Atari preprocessing, or None for non-Atari envs.
        description: Free text.
        action_bins: Bins per dimension when a ``Box`` action space is offered to a vote
            decoder as discrete actions (:class:`~spikerl.envs.BinnedActions`).
    """

    name: str
    id: str
    encoder: EncoderSpec
    decoder: DecoderSpec
    time_steps: int = 16
    dt: float = 1.0
    make_kwargs: dict[str, Any] = field(default_factory=dict)
    max_episode_steps: int | None = None
    atari: AtariSettings | None = None
    description: str = ""
    action_bins: int = 9

    @property
    def is_atari(self) -> bool:
        """Whether this is an ALE environment (needs ``ale_py``)."""
        return self.atari is not None or self.id.startswith("ALE/")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EnvRecipe:
        """Build from the YAML mapping (:func:`spikerl.config.validate`: unknown keys,
        types and ranges checked, each error naming its key)."""
        from spikerl.config import to_plain, validate

        if not isinstance(data, dict):
            raise ValueError(f"an env recipe must be a mapping, got {type(data).__name__}")
        missing = [k for k in ("name", "id", "encoder", "decoder") if k not in data]
        if missing:
            raise ValueError(f"env recipe is missing required key(s) {missing}")
        d = dict(data)
        d["encoder"] = to_plain(EncoderSpec.from_dict(d["encoder"]))  # kind checked by name
        d["decoder"] = to_plain(DecoderSpec.from_dict(d["decoder"]))
        d["make_kwargs"] = dict(d.get("make_kwargs") or {})
        recipe: EnvRecipe = validate(cls, d, noun="recipe")
        return recipe

    @classmethod
    def from_yaml(cls, path: str | Path) -> EnvRecipe:
        """Load a recipe from a YAML file."""
        with open(path, encoding="utf-8") as f:
            data = yaml.safe_load(f)
        try:
            return cls.from_dict(data)
        except (TypeError, ValueError) as err:
            raise ValueError(f"{path}: {err}") from err

    def to_dict(self) -> dict[str, Any]:
        """The YAML form (round-trips through :meth:`from_dict`): :func:`spikerl.config.to_plain`
        with the encoder and decoder as ``{"kind": ..., **params}``."""
        from spikerl.config import to_plain

        data: dict[str, Any] = to_plain(self)
        data["encoder"] = self.encoder.to_dict()
        data["decoder"] = self.decoder.to_dict()
        return data

    def with_overrides(self, **overrides: Any) -> EnvRecipe:
        """A copy with fields replaced.

        Top-level keys replace fields; mappings given for ``make_kwargs``, ``atari``,
        ``encoder`` and ``decoder`` merge into them (a new ``kind`` replaces the params).
        Dotted keys set nested values: ``**{"atari.frame_stack": 4}``.
        """
        data = self.to_dict()
        for key, value in overrides.items():
            head, _, tail = key.partition(".")
            if head not in data:
                raise ValueError(f"unknown override {key!r}; valid keys: {sorted(data)}")
            if tail:
                if not isinstance(data[head], dict):
                    raise ValueError(f"override {key!r}: {head} is not a mapping")
                data[head][tail] = value
            elif isinstance(value, dict) and isinstance(data[head], dict):
                if (
                    head in ("encoder", "decoder")
                    and value.get("kind", data[head]["kind"]) != data[head]["kind"]
                ):
                    data[head] = dict(value)
                else:
                    data[head].update(value)
            else:
                data[head] = value
        return EnvRecipe.from_dict(data)
