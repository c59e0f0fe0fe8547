"""R-STDP: a spiking actor learned by reward-modulated STDP, as an SB3 algorithm.

``RSTDP("SpikingPolicy", env)`` subclasses stable-baselines3's ``BaseAlgorithm`` the way
sb3-contrib's gradient-free ARS does: SB3 supplies the VecEnv/Monitor handling, the
logger, callbacks (CheckpointCallback, EvalCallback, ...), ``evaluate_policy`` and the zip
``save``/``load`` format; the learning loop is our own and uses no gradients in the actor.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar, TypeVar

import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.policies import BasePolicy
from stable_baselines3.common.type_aliases import GymEnv, MaybeCallback
from stable_baselines3.common.utils import safe_mean
from stable_baselines3.common.vec_env import VecEnv

from spikerl.agents.config import LearnConfig, SNNConfig, UpdateStats
from spikerl.agents.core_policy import NETWORK_POLICY_KWARGS, NetworkLearner, NetworkPolicy
from spikerl.agents.features import (
    AutoFeaturesConfig,
    BreakoutFields,
    BreakoutFieldsConfig,
    FeatureMap,
    OneHot,
    OneHotConfig,
)
from spikerl.agents.panels import log_episodes, record_distributions
from spikerl.config import ConfigError, to_plain
from spikerl.encoders.fields import GaussianFields, GaussianFieldsConfig
from spikerl.encoders.pixels import PixelGrid, PixelGridConfig
from spikerl.models.rstdp_network import (
    HiddenLayerNetworkConfig,
    build_hidden_layer_policy,
    build_population_policy,
)

SelfRSTDP = TypeVar("SelfRSTDP", bound="RSTDP")

FeatureConfig = (
    AutoFeaturesConfig
    | GaussianFieldsConfig
    | OneHotConfig
    | PixelGridConfig
    | BreakoutFieldsConfig
)


def make_features(config: FeatureConfig, space: spaces.Space | None = None) -> FeatureMap:
    """Build the feature map (encoder) that a feature config describes for ``space``.

    ``AutoFeaturesConfig`` chooses from the observation space alone: ``Discrete`` -> one-hot,
    a flat ``Box`` -> Gaussian receptive fields over its bounds, grey frames ``[H, W]`` or
    stacks ``[k, H, W]`` -> the generic pixel grid (:class:`~spikerl.encoders.PixelGrid`).
    ``BreakoutFieldsConfig`` (``kind: breakout_objects``) is the game-specific baseline.

    Raises:
        ConfigError: (a ``ValueError``) if the space has no matching encoder.
    """
    if isinstance(config, AutoFeaturesConfig):
        if isinstance(space, spaces.Discrete):
            return OneHot(OneHotConfig(), space)
        if isinstance(space, spaces.Box) and len(space.shape) == 1:
            return GaussianFields(GaussianFieldsConfig(), space)
        if isinstance(space, spaces.Box) and len(space.shape) in (2, 3):
            return PixelGrid(PixelGridConfig(), space)
        raise ConfigError(
            f"no encoder for observation space {space}: expected Discrete, a flat Box or grey "
            "frames; set features.kind explicitly"
        )
    if isinstance(config, GaussianFieldsConfig):
        return GaussianFields(config, space)
    if isinstance(config, OneHotConfig):
        return OneHot(config, space)
    if isinstance(config, PixelGridConfig):
        return PixelGrid(config, space)
    if isinstance(config, BreakoutFieldsConfig):
        return BreakoutFields(config)
    raise TypeError(f"unknown feature config {type(config).__name__}")


class Stack(StrEnum):
    """What runs the presets' actor (``rstdp.stack``): only the core is left. The key stays
    so that configs and checkpoints written with ``stack: core`` load; the agent's former
    private network (``stack: private``) was removed once every preset ran on the core."""

    CORE = "core"  # a core Network built by spikerl.models.rstdp_network


@dataclass(frozen=True)
class RSTDPConfig:
    """All settings of the R-STDP agent (saved in the zip and the run's config).

    Attributes:
        snn: Actor network constants.
        learn: Three-factor rule constants.
        features: Encoder (feature map) settings.
        log_every: Steps (per environment) between logger dumps.
        network: A core-network policy from :mod:`spikerl.models.rstdp_network` instead of
            the built-in actor (``snn`` and ``features`` then do not apply).
        stack: ``core`` (the only value): the actor that ``snn`` describes is built from
            core parts (:func:`spikerl.models.rstdp_network.build_population_policy`: a
            ``Network``, a :class:`~spikerl.encoders.FeatureEncoder`, the population vote,
            MSTDPET) and trained as a parts policy.
    """

    snn: SNNConfig = field(default_factory=SNNConfig)
    learn: LearnConfig = field(default_factory=LearnConfig)
    features: FeatureConfig = field(default_factory=AutoFeaturesConfig)
    log_every: int = 1000
    network: HiddenLayerNetworkConfig | None = None
    stack: Stack = Stack.CORE


class RSTDP(BaseAlgorithm):
    """Spiking actor-critic learned by reward-modulated STDP (MSTDPET with a TD error).

    Args:
        policy: ``"SpikingPolicy"`` or the class.
        env: Environment, VecEnv or registered id (``n_envs > 1`` runs a batched network).
        config: Agent settings; the keyword arguments below override parts of it.
        snn: Network constants (overrides ``config.snn``).
        learn: Learning constants (overrides ``config.learn``).
        features: Feature config (overrides ``config.features``).
        verbose: SB3 verbosity.
        seed: Seed of weights, spikes and environments.
        device: Only ``"cpu"``/``"auto"``: the compiled batch-1 step runs on the CPU.
        tensorboard_log: SB3 tensorboard folder.
        policy_kwargs: Extra policy arguments.
    """

    policy_aliases: ClassVar[dict[str, type[BasePolicy]]] = {"SpikingPolicy": NetworkPolicy}
    policy: NetworkPolicy
    learner: NetworkLearner

    def __init__(
        self,
        policy: str | type[NetworkPolicy],
        env: GymEnv | str | None,
        config: RSTDPConfig | None = None,
        *,
        snn: SNNConfig | None = None,
        learn: LearnConfig | None = None,
        features: FeatureConfig | None = None,
        verbose: int = 0,
        seed: int | None = None,
        device: torch.device | str = "cpu",
        tensorboard_log: str | None = None,
        policy_kwargs: dict[str, Any] | None = None,
        _init_setup_model: bool = True,
    ) -> None:
        cfg = config or RSTDPConfig()
        if snn is not None or learn is not None or features is not None:
            cfg = RSTDPConfig(
                snn=snn or cfg.snn,
                learn=learn or cfg.learn,
                features=features or cfg.features,
                log_every=cfg.log_every,
                network=cfg.network,
                stack=cfg.stack,
            )
        from spikerl.agents.validation import check_config

        check_config(cfg, "config")  # ranges and finiteness, as for presets and --set
        if str(device) not in ("cpu", "auto"):
            raise ValueError(
                f"RSTDP runs on the CPU (compiled small-batch step; a GPU would only add "
                f"transfer time at these sizes); got device={device!r}, use 'cpu' or 'auto'"
            )
        super().__init__(
            policy=policy,
            env=env,
            learning_rate=cfg.learn.lr_actor,
            policy_kwargs=policy_kwargs,
            verbose=verbose,
            device="cpu",
            support_multi_env=True,
            seed=seed,
            tensorboard_log=tensorboard_log,
            supported_action_spaces=(spaces.Discrete,),
        )
        self.config = cfg
        self.config_dict = to_plain(cfg)
        self._lives: np.ndarray | None = None
        self.env_name: str | None = None
        self.env_overrides: dict[str, Any] = {}
        self._learner_state: dict[str, Any] | None = None
        self.last_stats: UpdateStats | None = None
        if _init_setup_model:
            self._setup_model()
            self.set_random_seed(seed)

    def _setup_model(self) -> None:
        kwargs = dict(self.policy_kwargs)
        seed = self.seed or 0
        if self.config.network is not None and "network" not in kwargs:
            if kwargs:
                raise ValueError(
                    f"policy_kwargs {sorted(kwargs)} given beside config.network; build the "
                    "parts yourself (network=..., encoder=..., ...) or use config.network alone"
                )
            kwargs = build_hidden_layer_policy(
                self.config.network, self.observation_space, self.action_space, seed
            )
        elif "network" not in kwargs:  # the preset's actor, built from core parts
            unknown = sorted(set(kwargs) - {"snn", "features"})
            if unknown:
                raise ValueError(
                    f"policy_kwargs: unknown key(s) {unknown}; valid: 'snn', 'features' (they "
                    "replace config.snn / config.features), or network=, encoder=, decoder=, "
                    "plastic= for a policy made of a core Network"
                )
            snn = kwargs.get("snn", self.config.snn)
            if not isinstance(snn, SNNConfig):
                raise TypeError(f"policy_kwargs['snn'] must be an SNNConfig, got {snn!r}")
            features = kwargs.get("features", self.config.features)
            self.config = dataclasses.replace(self.config, snn=snn, features=features)
            self.config_dict = to_plain(self.config)
            kwargs = build_population_policy(
                snn,
                self.config.learn,
                make_features(features, self.observation_space),
                self.observation_space,
                self.action_space,
                seed,
            )
        unknown = sorted(set(kwargs) - NETWORK_POLICY_KWARGS)
        if unknown:
            raise ValueError(
                f"policy_kwargs: unknown key(s) {unknown} for a network policy; valid: "
                f"{sorted(NETWORK_POLICY_KWARGS)}"
            )
        self.policy = NetworkPolicy(
            self.observation_space,
            self.action_space,
            seed=seed,
            weight_norm=self.config.learn.weight_norm,
            **kwargs,
        )
        self.learning_rate = self.config.learn.lr_actor
        self.lr_schedule = lambda _: self.config.learn.lr_actor
        self._make_learner()

    def _make_learner(self) -> None:
        saved = getattr(self, "_learner_state", None)
        learner = NetworkLearner(self.policy, self.config.learn, self.n_envs, self.seed or 0)
        if saved is not None and saved.get("n_envs") == self.n_envs:
            learner.load_state_dict(saved)
        self.learner = learner

    def _excluded_save_params(self) -> list[str]:
        return [*super()._excluded_save_params(), "learner", "lr_schedule", "last_stats"]

    def save(self, path: Any, exclude: Any = None, include: Any = None) -> None:
        """Save a pickle-free SB3-layout zip, with traces, RNG states and step counter.

        The zip holds JSON, a ``.npz`` of arrays and weights-only tensors
        (:mod:`spikerl.agents.persistence`). A path is written to a temporary file first and
        renamed, so an interrupted write leaves the previous file intact.
        """
        self._learner_state = self.learner.state_dict()
        from spikerl.agents.persistence import save_model

        save_model(self, path, exclude, include)

    @classmethod
    def load(  # type: ignore[override]
        cls: type[SelfRSTDP],
        path: Any,
        env: GymEnv | None = None,
        device: torch.device | str = "cpu",
        custom_objects: dict[str, Any] | None = None,
        print_system_info: bool = False,
        force_reset: bool = True,
        **kwargs: Any,
    ) -> SelfRSTDP:
        """Load a zip written by :meth:`save`; never unpickles (clear errors for bad files)."""
        from spikerl.agents.persistence import check_checkpoint, load_model

        check_checkpoint(path)
        model = load_model(
            cls,
            path,
            env=env,
            device="cpu",
            custom_objects=custom_objects,
            print_system_info=print_system_info,
            force_reset=force_reset,
            **kwargs,
        )
        model._make_learner()
        critic = model.__dict__.pop("_private_critic", None)  # spikerl.agents.legacy
        if critic is not None:
            model.learner.critic[:] = critic
        return model

    def set_env(self, env: GymEnv, force_reset: bool = True) -> None:
        """Attach an environment; a different number of envs restarts the traces."""
        super().set_env(env, force_reset=force_reset)
        if hasattr(self, "learner") and self.learner.n_envs != self.n_envs:
            self._make_learner()

    def learn(  # type: ignore[override]
        self: SelfRSTDP,
        total_timesteps: int,
        callback: MaybeCallback = None,
        log_interval: int = 1,
        tb_log_name: str = "RSTDP",
        reset_num_timesteps: bool = True,
        progress_bar: bool = False,
    ) -> SelfRSTDP:
        """Run the act -> env step -> three-factor update loop.

        Args:
            total_timesteps: Environment steps (summed over envs) to run.
            callback: SB3 callback(s), called after every (batched) step, once the
                plasticity update of that step is applied (checkpoints are consistent).
            log_interval: Dump the logger every ``log_interval * config.log_every`` steps
                per environment.
            tb_log_name: Tensorboard run name.
            reset_num_timesteps: Start the step counter (and the learning-rate
                schedule) afresh; False continues a loaded run.
            progress_bar: Show SB3's progress bar.
        """
        obs_before = self._last_obs
        total_timesteps, cb = self._setup_learn(
            total_timesteps, callback, reset_num_timesteps, tb_log_name, progress_bar
        )
        cb.on_training_start(locals(), globals())
        assert self.env is not None and self._last_obs is not None
        env: VecEnv = self.env
        learner = self.learner
        if self._last_obs is not obs_before:  # the envs were reset: cached encodings are stale
            learner.forget_observations()
        lc = self.config.learn
        every = max(1, log_interval * self.config.log_every)
        n_dw = 0.0
        n_mod = 0.0
        n_upd = 0
        n_tied = 0.0
        margin = 0.0
        steps_since_log = 0
        n_choices = getattr(self.action_space, "n", None)
        chosen = np.zeros(int(n_choices) if n_choices is not None else 0, dtype=np.int64)
        third_factor: list[float] = []  # dashboards: histogram of the TD errors
        from spikerl.pipeline import Pipeline  # the one loop (it imports the agents' parts)

        pipe = Pipeline(env, learner, life_loss_terminal=lc.life_loss_terminal)
        pipe.lives = self._lives
        while self.num_timesteps < total_timesteps:
            # the step's progress (after it) sets its learning rate
            self._update_current_progress_remaining(
                self.num_timesteps + env.num_envs, total_timesteps
            )
            remaining = self._current_progress_remaining
            frac = lc.lr_final_fraction + (1.0 - lc.lr_final_fraction) * remaining
            noise = lc.noise_final_fraction + (1.0 - lc.noise_final_fraction) * remaining
            pipe.num_timesteps = self.num_timesteps
            st, stats = pipe.step(
                np.asarray(self._last_obs), np.asarray(self._last_episode_starts), frac, noise
            )
            assert stats is not None
            self.num_timesteps += env.num_envs
            self._lives = pipe.lives
            # SB3's names (callbacks read ``dones`` and ``infos`` from the locals)
            actions, new_obs, rewards = st.actions, st.obs, st.rewards
            dones, infos = st.done, st.infos
            self.last_stats = stats
            if learner.last is not None:
                n_tied += float(learner.last.tied.mean())
                margin += float(learner.last.margin.mean())
            if chosen.size:
                chosen += np.bincount(np.asarray(actions).reshape(-1), minlength=chosen.size)
            n_dw += stats.mean_abs_dw
            n_mod += abs(stats.modulation)
            n_upd += 1
            third_factor.append(stats.modulation)
            self._update_info_buffer(infos, dones)
            if dones.any():  # per-episode panels (dashboards)
                log_episodes(self.logger, infos, dones, self.num_timesteps)
            self._last_obs = new_obs  # type: ignore[assignment]
            self._last_episode_starts = dones
            self._n_updates += 1
            steps_since_log += 1
            if steps_since_log >= every:
                record_distributions(self, third_factor)
                third_factor = []
                self._record(n_mod / n_upd, n_dw / n_upd, n_tied / n_upd, margin / n_upd, chosen)
                chosen[:] = 0
                n_dw = n_mod = n_tied = margin = 0.0
                n_upd = 0
                steps_since_log = 0
            cb.update_locals(locals())
            if not cb.on_step():
                break
        cb.on_training_end()
        return self

    def _record(
        self,
        modulation: float,
        mean_abs_dw: float,
        tie_fraction: float,
        margin: float,
        chosen: np.ndarray | None = None,
    ) -> None:
        """Record SB3's standard keys and the spiking diagnostics, then dump.

        ``snn/tie_fraction`` is the fraction of training decisions since the last dump whose
        best readout score was shared (a seeded draw decided); ``snn/decision_margin`` the
        mean best-minus-second score (spikes, or mV with the potential readout);
        ``snn/action_share/action_<i>`` the fraction of those decisions that chose action
        ``i`` (``chosen``: their counts); ``rstdp/weight_mean/action_<i>`` the mean weight
        (mV) onto action ``i``'s neurons of each plastic projection into the action
        population (a policy drifting to one action everywhere shows as these means
        parting, the failure ``learn.weight_norm`` prevents).
        """
        elapsed = max((time.time_ns() - self.start_time) / 1e9, sys.float_info.epsilon)
        fps = int((self.num_timesteps - self._num_timesteps_at_start) / elapsed)
        if self.ep_info_buffer:
            self.logger.record(
                "rollout/ep_rew_mean", safe_mean([e["r"] for e in self.ep_info_buffer])
            )
            self.logger.record(
                "rollout/ep_len_mean", safe_mean([e["l"] for e in self.ep_info_buffer])
            )
        self.logger.record("time/fps", fps)
        self.logger.record("time/time_elapsed", int(elapsed), exclude="tensorboard")
        self.logger.record("time/total_timesteps", self.num_timesteps, exclude="tensorboard")
        last = self.learner.last
        if last is not None:
            snn = self.config.snn
            self.logger.record("snn/firing_rate/actions", float(last.rate.mean()))
            slots = float(getattr(last, "slots", snn.sim_steps * snn.n_per_action))
            for i, r in enumerate(last.counts.mean(axis=0) / slots):
                self.logger.record(f"snn/firing_rate/action_{i}", float(r))
            phi = self.learner._phi
            if phi is not None:
                rate_in = float(np.clip(phi, 0.0, 1.0).mean())
                self.logger.record("snn/firing_rate/input", rate_in)
            self.logger.record("snn/action_counts_mean", float(last.counts.mean()))
        self.logger.record("snn/tie_fraction", tie_fraction)
        self.logger.record("snn/decision_margin", margin)
        self.logger.record("rstdp/modulation", modulation)
        self.logger.record("rstdp/mean_abs_dw", mean_abs_dw)
        if chosen is not None and chosen.sum() > 0:
            for i, c in enumerate(chosen / chosen.sum()):
                self.logger.record(f"snn/action_share/action_{i}", float(c))
        output = getattr(self.policy, "output", None)
        for p in self.learner.plasticities:
            w = p.projection.weight.detach()
            name = f"{p.source}->{p.target}"
            self.logger.record(f"rstdp/weight_mean_abs/{name}", float(w.abs().mean()))
            if p.target == output and chosen is not None and chosen.size:
                if w.dim() == 2 and w.shape[1] % chosen.size == 0:
                    groups = w.reshape(w.shape[0], chosen.size, -1).mean(dim=(0, 2))
                    for i, m in enumerate(groups.tolist()):
                        self.logger.record(f"rstdp/weight_mean/action_{i}", float(m))
        self.logger.record("train/n_updates", self._n_updates, exclude="tensorboard")
        self.logger.dump(step=self.num_timesteps)

    def plastic_weights(self) -> dict[str, np.ndarray]:
        """Copies of the weights that learn, by projection name ``"src->dst"``
        (``[n_pre, n_post]``, float64): the presets' actor is ``"input->action"``."""
        net = self.policy.network
        return {
            name: net.projection(name).weight.detach().cpu().double().numpy().copy()
            for name in self.policy.plastic
        }

    def _get_torch_save_params(self) -> tuple[list[str], list[str]]:
        return ["policy"], []


PresetHook = Callable[[RSTDP], None]
__all__ = ["RSTDP", "RSTDPConfig", "Stack", "make_features"]

_ = BaseCallback  # re-exported type for callers' annotations
