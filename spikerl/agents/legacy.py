"""Model zips written by the agent's former private network load into the core actor.

Until every preset ran on core parts, ``RSTDP`` could run its actor on a private
NumPy/numba network (``rstdp.stack: private``; policy class
``spikerl.agents.rstdp.SpikingPolicy``, weights ``net.weight [F, N]`` and the critic
``net.critic [F]``). That network is gone; the core actor built from the same settings
reproduces its windows, eligibility and weights (``tests/agents/test_stack_equivalence.py``),
so such a zip is upgraded on load instead of refused:

- the settings are kept (``stack`` becomes ``core``; the private network only ever ran
  ``snn.input_lead=true`` and ``learn.eligibility=window``, which its zips already say);
- the actor weights go to the ``input->action`` projection and the critic weights to the
  learner; under ``learn.weight_norm`` each neuron's mean is held where the private network
  held it, ``g_n (w_init_low + w_init) / 2``;
- the run state that has no counterpart (membrane potentials, traces, eligibility and the
  NumPy generators' states) starts fresh, as after an episode start; a warning says so.

Only the JSON and plain tensors are read (nothing is unpickled).
"""

from __future__ import annotations

import copy
import warnings
from typing import Any

import numpy as np
import torch

#: The policy class the private network's zips name.
PRIVATE_POLICY = "spikerl.agents.rstdp.SpikingPolicy"
#: The core actor's plastic projection (``build_population_policy``).
ACTOR = "input->action"


def is_private(raw: dict[str, Any]) -> bool:
    """Whether the raw ``data`` JSON of a model zip is the private network's."""
    cls = raw.get("policy_class")
    return isinstance(cls, dict) and cls.get("__class__") == PRIVATE_POLICY


def upgrade_data(raw: dict[str, Any]) -> dict[str, Any]:
    """The private network's ``data`` JSON as the core actor's (a copy; other files as
    they are): ``stack`` becomes ``core`` and the learner's run state is dropped."""
    if not is_private(raw):
        return raw
    out = copy.deepcopy(raw)
    config = out.get("config")
    fields = config.get("fields") if isinstance(config, dict) else None
    if isinstance(fields, dict) and isinstance(fields.get("stack"), dict):
        fields["stack"]["value"] = "core"
    plain = out.get("config_dict")
    if isinstance(plain, dict) and plain.get("stack") == "private":
        plain["stack"] = "core"
    out["_learner_state"] = None
    out["_private_network"] = True
    return out


def private_column_mean(snn: Any, n_actions: int) -> torch.Tensor:
    """The mean weight per action neuron that the private network held under
    ``weight_norm``: ``g_n (w_init_low + w_init) / 2`` (mV per spike) ``[N]``."""
    gains = np.asarray(snn.gains(n_actions), dtype=np.float64)
    return torch.from_numpy(0.5 * (snn.w_init_low + snn.w_init) * gains)


def upgrade_params(
    model: Any, params: dict[str, Any], name: str
) -> tuple[dict[str, Any], np.ndarray | None]:
    """The private network's parameters as the core policy's ``(params, critic)``.

    Args:
        model: The freshly set-up core model (its policy gives the keys and shapes).
        params: ``{"policy": {"net.weight": [F, N], "net.critic": [F]}}`` from the zip.
        name: The file, for messages.

    Raises:
        ValueError: The tensors do not fit the actor the saved settings build.
    """
    old = params.get("policy", {})
    if set(old) != {"net.weight", "net.critic"}:
        raise ValueError(
            f"{name}: a private-network zip holds policy tensors net.weight and net.critic, "
            f"got {sorted(old)}"
        )
    state = {k: v.clone() for k, v in model.policy.state_dict().items()}
    key = f"network.projections.{ACTOR}.weight"
    weight, critic = old["net.weight"], old["net.critic"]
    if key not in state or tuple(state[key].shape) != tuple(weight.shape):
        got = tuple(state[key].shape) if key in state else None
        raise ValueError(
            f"{name}: the saved actor weights {tuple(weight.shape)} do not fit the actor its "
            f"settings build ({got})"
        )
    state[key] = weight.to(state[key].dtype)
    if "column_mean_0" in state:
        n_actions = int(model.action_space.n)
        state["column_mean_0"] = private_column_mean(model.config.snn, n_actions)
    warnings.warn(
        f"{name} was written by the agent's former private network: its weights and critic "
        "now drive the same actor built from core parts; membrane state, traces, "
        "eligibility and random-generator states start fresh",
        UserWarning,
        stacklevel=3,
    )
    return {**params, "policy": state}, critic.detach().cpu().double().numpy()
