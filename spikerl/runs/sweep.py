"""Hyperparameter sweeps on Ray Tune: Optuna's TPE proposes, ASHA stops bad trials early.

``spikerl sweep --env X --space agents/spaces/rstdp.yaml --trials N`` writes::

    <runs_dir>/<env>__<agent>__sweep__<time>/
        sweep.yaml          what was asked (base config, space, trials, ...): read by --resume
        trials.json         the ledger: every trial's values, reports and state (JSON)
        trials/<env>__<agent>__<seed>__<trial id>/   one normal run folder per trial
        tune-<k>/           Ray Tune's own files of the k-th call (not read back)
        summary.json        counts, every trial, the best one
        best_config.yaml    the best trial's settings as a preset: spikerl train --config

Each trial runs :func:`spikerl.runs.train.train_run` and reports after every evaluation
(:class:`ReportEvaluation`): ``eval_return`` (mean greedy return of that evaluation) at
``timesteps`` (env steps), ASHA's time axis. A trial that trains to the end reports once
more, ``eval_return`` = its final weights' mean greedy return over ``final_eval_episodes``
episodes (``done_training=1``): that last value is what Optuna learns from and what picks the
best trial. ``max_t`` is ``timesteps + 1``, so ASHA never stops a trial at its last
evaluation, before its final weights are evaluated.

Resuming (``--resume SWEEP_DIR``) reads only JSON: the ledger's finished, stopped and failed
trials are told to a fresh TPE sampler (Optuna ``add_trial`` of completed trials; the sampler
seed moves on by their number), trials that were running are run again first with the same
values and continue their run folder from ``checkpoints/last.zip``, and the remaining trials
follow. Tune's own restore is not used: it unpickles its experiment and searcher state.
ASHA's rungs start empty on resume.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml
from ray import tune
from ray.tune.schedulers import ASHAScheduler, TrialScheduler
from ray.tune.search import ConcurrencyLimiter
from ray.tune.search.optuna import OptunaSearch
from stable_baselines3.common.callbacks import BaseCallback

from spikerl.core.io import atomic_write
from spikerl.runs.errors import RunInputError
from spikerl.runs.space import Param, check_space, nested, parse_space

METRIC = "eval_return"
TIME_ATTR = "timesteps"
SWEEP_FILE = "sweep.yaml"
LEDGER_FILE = "trials.json"
BEST_FILE = "best_config.yaml"
#: Trial states of the ledger that count as done.
DONE_STATES = ("finished", "stopped", "error")
#: Run-budget settings left out of the best preset (the preset's own budget applies).
BUDGET_KEYS = (
    "env",
    "agent",
    "timesteps",
    "seed",
    "eval_freq",
    "eval_episodes",
    "final_eval_episodes",
    "checkpoint_freq",
    "track",
    "tensorboard",
    "video",
    "wandb_project",
    "device",
)


@dataclass(frozen=True)
class SweepSpec:
    """Everything a sweep needs, saved as ``sweep.yaml`` (read back by ``--resume``).

    Attributes:
        base: The resolved base TrainConfig as a mapping (preset, ``--config``, ``--set``).
        space: The search space mapping (``agents/spaces/*.yaml`` content).
        space_file: Where the space came from (for messages).
        trials: Number of trials.
        cpus_per_run: CPUs per trial.
        max_concurrent: Trials running at once (0: as many as the CPUs allow).
        seed: Seed of the TPE sampler.
        grace_steps: ASHA's first rung (env steps); 0 means the base ``eval_freq``.
        reduction_factor: ASHA keeps the top ``1 / reduction_factor`` at each rung.
    """

    base: dict[str, Any]
    space: dict[str, Any]
    space_file: str = ""
    trials: int = 16
    cpus_per_run: float = 1.0
    max_concurrent: int = 0
    seed: int = 0
    grace_steps: int = 0
    reduction_factor: int = 3


class ReportEvaluation(BaseCallback):
    """After each evaluation (EvalCallback's ``callback_after_eval``), report its mean
    greedy return to Ray Tune, so that the scheduler can stop the trial."""

    def _on_step(self) -> bool:
        parent = self.parent
        assert parent is not None, "ReportEvaluation runs as EvalCallback's callback_after_eval"
        tune.report(
            {
                METRIC: float(parent.last_mean_reward),  # type: ignore[attr-defined]
                TIME_ATTR: int(self.num_timesteps),
                "done_training": 0,
            }
        )
        return True


def _write_text(text: str, path: Path) -> None:
    def write(tmp: str) -> None:
        Path(tmp).write_text(text)

    atomic_write(write, path)


def flat(config: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}`` (the dotted keys of the search space)."""
    out: dict[str, Any] = {}
    for k, v in config.items():
        key = f"{prefix}.{k}" if prefix else str(k)
        if isinstance(v, dict):
            out.update(flat(v, key))
        else:
            out[key] = v
    return out


def params_key(params: dict[str, Any]) -> str:
    """A stable text key of a trial's values (dotted keys, JSON)."""
    return json.dumps(flat(params), sort_keys=True)


def trial_run_dir(
    base: dict[str, Any],
    params: dict[str, Any],
    trial_id: str,
    trials_dir: Path,
    resume: dict[str, str],
) -> Path:
    """The run folder of a trial: an unfinished earlier trial's with the same values, or a new
    ``<env>__<agent>__<seed>__<trial id>`` under ``trials_dir``."""
    from spikerl.agents.presets import TrainConfig, _merge, build
    from spikerl.runs.folders import run_dir_name

    earlier = resume.get(params_key(params))
    if earlier is not None:
        return Path(earlier)
    cfg = build(TrainConfig, _merge(base, nested(flat(params))))
    return trials_dir / run_dir_name(cfg, trial_id)


def trial_main(
    config: dict[str, Any], base: dict[str, Any], trials_dir: str, resume: dict[str, str]
) -> None:
    """One trial (the Ray Tune function trainable): its run folder, trained and reported.

    Args:
        config: The sampled values (nested like the config).
        base: The base TrainConfig mapping.
        trials_dir: Parent of the trial run folders.
        resume: ``params_key -> run folder`` of trials interrupted earlier (continued).
    """
    from spikerl.agents.callbacks import LAST
    from spikerl.agents.presets import TrainConfig, _merge, build
    from spikerl.runs.folders import write_config
    from spikerl.runs.train import train_run

    cfg: TrainConfig = build(TrainConfig, _merge(base, nested(flat(config))))
    trial_id = tune.get_context().get_trial_id()
    run_dir = trial_run_dir(base, config, trial_id, Path(trials_dir), resume)
    resumed = (run_dir / "checkpoints" / LAST).is_file()
    if not resumed:
        run_dir.mkdir(parents=True, exist_ok=True)
        write_config(cfg, run_dir)
    report = ReportEvaluation()
    result = train_run(cfg, run_dir, resume=resumed, quiet=True, extra_callbacks=[report])
    tune.report(
        {
            METRIC: float(result["final"]["mean_reward"]),
            TIME_ATTR: int(result["timesteps"]),
            "done_training": 1,
            "best_weights_return": float(result["mean_reward"]),
        }
    )


class Ledger:
    """``trials.json``: one entry per trial (values, reports, state), written atomically by
    the driver after every change, so an interrupted sweep knows what was done.

    States: ``running``, ``finished`` (trained to the end), ``stopped`` (by ASHA), ``error``,
    ``restarted`` (interrupted; run again by a later ``--resume``).
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.trials: dict[str, dict[str, Any]] = {}
        if self.path.is_file():
            data = json.loads(self.path.read_text())
            if not isinstance(data, dict) or not isinstance(data.get("trials"), dict):
                raise RunInputError(f"{self.path}: malformed trial ledger")
            self.trials = data["trials"]

    def save(self) -> None:
        """Write the ledger (atomically)."""
        _write_text(json.dumps({"trials": self.trials}, indent=1), self.path)

    def start(self, trial_id: str, params: dict[str, Any], run_dir: Path) -> None:
        """Record a started trial."""
        self.trials[trial_id] = {
            "params": flat(params),
            "state": "running",
            METRIC: None,
            TIME_ATTR: 0,
            "best_weights_return": None,
            "run_dir": str(run_dir),
            "reports": [],
            "error": None,
        }
        self.save()

    def result(self, trial_id: str, result: dict[str, Any]) -> None:
        """Record one report (``done_training`` marks the trial finished)."""
        entry = self.trials.get(trial_id)
        if entry is None or METRIC not in result:
            return
        ret, t = float(result[METRIC]), int(result.get(TIME_ATTR, 0))
        entry[METRIC], entry[TIME_ATTR] = ret, t
        entry["reports"].append([t, ret])
        if result.get("done_training"):
            entry["state"] = "finished"
            entry["best_weights_return"] = result.get("best_weights_return")
        self.save()

    def mark(self, trial_id: str, state: str, error: str | None = None) -> None:
        """Set a trial's state (a finished trial stays finished)."""
        entry = self.trials.get(trial_id)
        if entry is None or entry["state"] == "finished":
            return
        entry["state"] = state
        if error is not None:
            entry["error"] = error
        self.save()

    def done(self) -> list[tuple[str, dict[str, Any]]]:
        """Finished, stopped and failed trials."""
        return [(k, e) for k, e in self.trials.items() if e["state"] in DONE_STATES]

    def unfinished(self) -> list[tuple[str, dict[str, Any]]]:
        """Trials that were running when the sweep stopped."""
        return [(k, e) for k, e in self.trials.items() if e["state"] == "running"]


class LedgerCallback(tune.Callback):
    """Tune driver callback: trial starts, results and errors into the :class:`Ledger`."""

    def __init__(
        self, ledger: Ledger, base: dict[str, Any], trials_dir: Path, resume: dict[str, str]
    ) -> None:
        self.ledger = ledger
        self.base = base
        self.trials_dir = trials_dir
        self.resume = resume

    def on_trial_start(self, iteration: int, trials: list[Any], trial: Any, **info: Any) -> None:
        """A trial started: record its values and run folder."""
        run_dir = trial_run_dir(
            self.base, trial.config, trial.trial_id, self.trials_dir, self.resume
        )
        self.ledger.start(trial.trial_id, trial.config, run_dir)

    def on_trial_result(
        self, iteration: int, trials: list[Any], trial: Any, result: dict[str, Any], **info: Any
    ) -> None:
        """A trial reported."""
        self.ledger.result(trial.trial_id, result)

    def on_trial_error(self, iteration: int, trials: list[Any], trial: Any, **info: Any) -> None:
        """A trial raised."""
        err = trial.get_error()
        text = (str(err).strip().splitlines() or ["error"])[-1] if err else "error"
        self.ledger.mark(trial.trial_id, "error", text)


class LedgerASHA(ASHAScheduler):
    """ASHA that records its early stops in the ledger (state ``stopped``)."""

    def __init__(self, ledger: Ledger, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.ledger = ledger

    def on_trial_result(self, tune_controller: Any, trial: Any, result: dict[str, Any]) -> str:
        """ASHA's decision; a STOP before the end of training is recorded."""
        action = super().on_trial_result(tune_controller, trial, result)
        if action == TrialScheduler.STOP and not result.get("done_training"):
            self.ledger.mark(trial.trial_id, "stopped")
        return str(action)


def check_spec(spec: SweepSpec) -> tuple[Param, ...]:
    """Check the sweep's settings and space against its base config.

    Returns:
        The parsed space.

    Raises:
        RunInputError: naming the bad setting.
    """
    if spec.trials < 1:
        raise RunInputError(f"--trials {spec.trials}: a sweep needs at least one trial")
    if not spec.cpus_per_run > 0:
        raise RunInputError(f"--cpus-per-run {spec.cpus_per_run}: expected a positive number")
    if spec.max_concurrent < 0:
        raise RunInputError(f"--max-concurrent {spec.max_concurrent}: expected 0 (auto) or more")
    if spec.reduction_factor < 2:
        raise RunInputError(f"reduction factor {spec.reduction_factor}: expected 2 or more")
    if int(spec.base.get("eval_freq", 0)) <= 0:
        raise RunInputError(
            "a sweep needs evaluations during training to stop bad trials: eval_freq must be > 0"
        )
    src = spec.space_file or "search space"
    params = parse_space(spec.space, src)
    check_space(params, spec.base, src)
    return params


def write_spec(spec: SweepSpec, sweep_dir: Path) -> None:
    """Save ``sweep.yaml``."""
    _write_text(yaml.safe_dump(asdict(spec), sort_keys=False), sweep_dir / SWEEP_FILE)


def read_spec(sweep_dir: Path) -> SweepSpec:
    """Read ``sweep.yaml`` of a sweep folder.

    Raises:
        RunInputError: when ``sweep_dir`` is not a sweep folder.
    """
    path = Path(sweep_dir) / SWEEP_FILE
    if not path.is_file():
        raise RunInputError(f"--resume {sweep_dir}: no {SWEEP_FILE} there (not a sweep folder)")
    data = yaml.safe_load(path.read_text())
    if not isinstance(data, dict) or not isinstance(data.get("base"), dict):
        raise RunInputError(f"{path}: malformed sweep file (expected base, space, trials, ...)")
    unknown = sorted(set(data) - set(SweepSpec.__dataclass_fields__))
    if unknown:
        raise RunInputError(f"{path}: unknown keys {unknown}")
    return SweepSpec(**data)


def preset_diff(config: dict[str, Any], preset: dict[str, Any]) -> dict[str, Any]:
    """The part of ``config`` that differs from ``preset`` (nested; a changed ``features``
    block is kept whole, because a different feature kind replaces it)."""
    out: dict[str, Any] = {}
    for k, v in config.items():
        p = preset.get(k)
        if isinstance(v, dict) and isinstance(p, dict) and k != "features":
            sub = preset_diff(v, p)
            if sub:
                out[k] = sub
        elif v != p:
            out[k] = v
    return out


def best_preset(config: dict[str, Any]) -> dict[str, Any]:
    """A trial's full config as a ``--config`` file: what differs from the env's preset,
    budget keys (:data:`BUDGET_KEYS`) left out."""
    from spikerl.agents.presets import resolve, to_dict

    preset = to_dict(resolve(config["env"], config["agent"]))
    drop = set(BUDGET_KEYS)
    return preset_diff(
        {k: v for k, v in config.items() if k not in drop},
        {k: v for k, v in preset.items() if k not in drop},
    )


def _searcher(
    spec: SweepSpec, params: tuple[Param, ...], ledger: Ledger, concurrent: int
) -> ConcurrencyLimiter:
    """TPE over the space, told the ledger's done trials; unfinished ones are run first."""
    space = {p.key.replace(".", "/"): p.to_optuna() for p in params}

    def point(entry: dict[str, Any]) -> dict[str, Any]:
        return {k.replace(".", "/"): v for k, v in entry["params"].items()}

    done = ledger.done()
    again = [point(e) for _, e in ledger.unfinished()]
    search = OptunaSearch(
        space=space,
        metric=METRIC,
        mode="max",
        seed=spec.seed + len(done),
        points_to_evaluate=again or None,
    )
    for _, e in done:
        if e["state"] == "error" or e[METRIC] is None:
            search.add_evaluated_point(point(e), 0.0, error=True)
        else:
            search.add_evaluated_point(point(e), float(e[METRIC]))
    return ConcurrencyLimiter(search, max_concurrent=concurrent)


def run_sweep(
    spec: SweepSpec, sweep_dir: Path, *, address: str | None = None, resume: bool = False
) -> dict[str, Any]:
    """Run (or resume) a sweep and write ``summary.json`` and ``best_config.yaml``.

    Args:
        spec: The sweep (checked with :func:`check_spec`).
        sweep_dir: The sweep folder (created; with ``resume`` it holds the ledger).
        address: Ray cluster address (``None``: in-process on this machine's CPUs).
        resume: Continue the sweep in ``sweep_dir`` (see the module notes).

    Returns:
        The summary (:func:`summarize`).

    Raises:
        RunInputError: for a bad spec, an unreachable address or nothing to resume.
    """
    import optuna

    from spikerl.runs.cluster import check_reachable, ray_session

    params = check_spec(spec)
    if address is not None:
        check_reachable(address)  # before any folder is made
    sweep_dir = Path(sweep_dir).absolute()
    trials_dir = sweep_dir / "trials"
    if resume and not (sweep_dir / LEDGER_FILE).is_file():
        raise RunInputError(f"--resume {sweep_dir}: no {LEDGER_FILE} (no trial ever started)")
    ledger = Ledger(sweep_dir / LEDGER_FILE)
    again = {params_key(nested(e["params"])): e["run_dir"] for _, e in ledger.unfinished()}
    remaining = spec.trials - len(ledger.done())
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    os.environ.setdefault("RAY_CHDIR_TO_TRIAL_DIR", "0")
    t0 = time.time()
    if remaining > 0:
        with ray_session(address):
            import ray

            if not resume:  # only once Ray is reached: a failed start leaves no folder
                sweep_dir.mkdir(parents=True, exist_ok=True)
                write_spec(spec, sweep_dir)

            cpus = float(ray.cluster_resources().get("CPU", 1))
            concurrent = spec.max_concurrent or max(1, int(cpus // spec.cpus_per_run))
            searcher = _searcher(spec, params, ledger, concurrent)
            for k, _ in ledger.unfinished():
                ledger.mark(k, "restarted")
            timesteps = int(spec.base["timesteps"])
            grace = spec.grace_steps or int(spec.base["eval_freq"])
            trainable = tune.with_resources(
                tune.with_parameters(
                    trial_main, base=spec.base, trials_dir=str(trials_dir), resume=again
                ),
                {"cpu": spec.cpus_per_run},
            )
            n_calls = sum(1 for p in sweep_dir.glob("tune-*") if p.is_dir())
            tuner = tune.Tuner(
                trainable,
                tune_config=tune.TuneConfig(
                    metric=METRIC,
                    mode="max",
                    search_alg=searcher,
                    scheduler=LedgerASHA(
                        ledger,
                        time_attr=TIME_ATTR,
                        max_t=timesteps + 1,
                        grace_period=min(grace, timesteps),
                        reduction_factor=spec.reduction_factor,
                    ),
                    num_samples=remaining,
                    reuse_actors=False,
                ),
                run_config=tune.RunConfig(
                    name=f"tune-{n_calls + 1}",
                    storage_path=str(sweep_dir),
                    verbose=0,
                    callbacks=[LedgerCallback(ledger, spec.base, trials_dir, again)],
                ),
            )
            tuner.fit()
        # Through Ray Client the Tune driver (and its ledger callbacks) runs on the head node:
        # read the ledger back from the shared folder rather than trusting this copy.
        ledger = Ledger(sweep_dir / LEDGER_FILE)
    summary = summarize(ledger, spec, time.time() - t0)
    summary["sweep_dir"] = str(sweep_dir)
    best = summary["best"]
    if best is not None:
        from spikerl.agents.presets import TrainConfig, _merge, build, to_dict

        full = to_dict(build(TrainConfig, _merge(spec.base, nested(best["params"]))))
        text = (
            f"# Best of {summary['done']} trials of sweep {sweep_dir.name}: trial "
            f"{best['trial_id']},\n# final-weights greedy return {best[METRIC]} after "
            f"{best[TIME_ATTR]} steps ({best['run_dir']}).\n"
            f"# Use: spikerl train --env {spec.base['env']} --config {BEST_FILE}\n"
            + yaml.safe_dump(best_preset(full), sort_keys=False)
        )
        _write_text(text, sweep_dir / BEST_FILE)
        summary["best_config"] = str(sweep_dir / BEST_FILE)
    _write_text(json.dumps(summary, indent=1), sweep_dir / "summary.json")
    return summary


def summarize(ledger: Ledger, spec: SweepSpec, wall_s: float) -> dict[str, Any]:
    """Counts, every trial and the best one (highest final-weights return of the trials
    that trained to the end).

    Args:
        ledger: The sweep's ledger.
        spec: The sweep.
        wall_s: Wall time of this call (s).
    """
    rows = [
        {"trial_id": k, **{f: v for f, v in e.items() if f != "reports"}}
        for k, e in ledger.trials.items()
    ]
    finished = [r for r in rows if r["state"] == "finished" and r[METRIC] is not None]
    best = max(finished, key=lambda r: r[METRIC]) if finished else None
    counts = {s: sum(r["state"] == s for r in rows) for s in (*DONE_STATES, "running")}
    done = sum(counts[s] for s in DONE_STATES)
    return {
        "env": spec.base.get("env"),
        "trials_asked": spec.trials,
        "done": done,
        "finished": counts["finished"],
        "stopped_early": counts["stopped"],
        "errored": counts["error"],
        "interrupted": done < spec.trials,
        "wall_seconds": round(wall_s, 1),
        "best": best,
        "trials": rows,
    }
