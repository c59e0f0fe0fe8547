"""Speed benchmark of spikerl, side by side with BindsNET, snnTorch and Norse when installed.

Sections (``--sections``, default all), every time the median of ``--repeats`` runs after a
warm-up, all measured in this one process so that ratios share the machine's load:

* ``a``: Poisson(U(0, 15) Hz) -> LIF, ``n`` inputs and neurons, 1000 steps, batch 1 and 32,
  without and with pair STDP (spikerl: window-mode ``PostPre``; BindsNET: ``PostPre``);
  also spikerl's dense window path beside the matmul floor;
* ``b``: Diehl & Cook (2015) network, one 250-step sample with learning, 100 and 400 neurons,
  batch 1 and batched (per-sample time);
* ``c``: R-STDP agent environment steps per second (learning on), CartPole and Breakout,
  the presets' actor (built from core parts);
* ``d``: surrogate-gradient LIF layer forward + backward (batch 16, T = 100) beside snnTorch
  (eager) and Norse (eager and ``torch.compile``);
* ``e``: the floor, one ``torch.matmul`` doing the window product's multiply-adds.

Peers are optional (``pip install -e .[bench]`` in a separate venv; see
``requirements/bench.txt``). BindsNET 0.3.4 imports torchvision (and other heavy packages)
at start-up; they are replaced by empty stand-in modules before it is imported, since the
network, node, connection and learning code used here does not need them.

Usage:
    .venv-bench/bin/python scripts/bench_speed.py [--sections a b c d e] [--repeats 5]
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.machinery
import importlib.util
import json
import os
import platform
import statistics
import sys
import time
import types
from collections.abc import Callable
from typing import Any

import torch
from benchnets import poisson_lif_network as spikerl_poisson_net

from spikerl.core import (
    LIF,
    DenseProjection,
    DiehlCook,
    ExecutionMode,
    Input,
    Network,
    Propagation,
    Uniform,
)
from spikerl.core.neurons.adaptive import DiehlCookParams
from spikerl.core.neurons.lif import LIFParams

# -- helpers ------------------------------------------------------------------------------


def timeit(fn: Callable[[], object], repeats: int, warmup: int = 1) -> dict[str, float]:
    """Median and min wall time of ``repeats`` calls after ``warmup`` calls."""
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return {"median_s": statistics.median(ts), "min_s": min(ts), "repeats": repeats}


def budgeted(
    fn: Callable[[int], object], steps: int, repeats: int, budget: float
) -> dict[str, Any]:
    """Time ``fn(steps)``; if one run would exceed ``budget`` s, time fewer steps and scale."""
    probe = min(steps, 50)
    fn(probe)  # warm-up: compiled kernels load on first use
    t0 = time.perf_counter()
    fn(probe)
    est = (time.perf_counter() - t0) * steps / probe
    run_steps = steps
    reps = repeats
    if est > budget:
        run_steps = max(probe, int(steps * budget / est))
    r = timeit(lambda: fn(run_steps), reps)
    scale = steps / run_steps
    out: dict[str, Any] = {k: (v * scale if k.endswith("_s") else v) for k, v in r.items()}
    if run_steps != steps:
        out["scaled_from_steps"] = run_steps
    return out


def poisson_input(steps: int, batch: int, n: int, seed: int, max_hz: float = 15.0) -> torch.Tensor:
    """Spikes ``[T, B, n]``, per-input rates U(0, max_hz) Hz, dt = 1 ms."""
    g = torch.Generator().manual_seed(seed)
    p = torch.rand(n, generator=g) * max_hz / 1000.0
    return (torch.rand(steps, batch, n, generator=g) < p).float()


def ratio(slow: dict[str, Any] | None, fast: dict[str, Any] | None) -> float | None:
    if not slow or not fast or "median_s" not in slow or "median_s" not in fast:
        return None
    return round(slow["median_s"] / fast["median_s"], 2)


# -- peers --------------------------------------------------------------------------------


class _Stub(types.ModuleType):
    """Empty stand-in module: attributes are further stubs (classes for capitalised names)."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        if name[:1].isupper():
            cls = type(name, (), {"__init__": lambda self, *a, **k: None})
            setattr(self, name, cls)
            return cls
        mod = _Stub(f"{self.__name__}.{name}")
        mod.__path__ = []
        sys.modules[mod.__name__] = mod
        setattr(self, name, mod)
        return mod


class _StubFinder:
    """Import hook serving :class:`_Stub` modules for the packages BindsNET only imports."""

    roots = tuple(
        r
        for r in ("torchvision", "cv2", "skimage", "sklearn", "tensorboardX", "ale_py", "gymnasium")
        if r == "torchvision" or importlib.util.find_spec(r) is None
    )

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        if name.split(".")[0] in self.roots:
            return importlib.machinery.ModuleSpec(name, self, is_package=True)  # type: ignore[arg-type]
        return None

    def create_module(self, spec: Any) -> types.ModuleType:
        mod = _Stub(spec.name)
        mod.__path__ = []
        return mod

    def exec_module(self, module: types.ModuleType) -> None:
        return None


def import_bindsnet() -> Any:
    """``bindsnet`` imported without torchvision & co (stubs), or ``None`` if absent."""
    finder = _StubFinder()
    sys.meta_path.insert(0, finder)
    try:
        import bindsnet  # type: ignore[import-not-found]
        import bindsnet.learning  # type: ignore[import-not-found]
        import bindsnet.models  # type: ignore[import-not-found]
    except Exception as err:
        print(f"# bindsnet not available: {type(err).__name__}: {err}", file=sys.stderr)
        return None
    finally:
        sys.meta_path.remove(finder)
    return bindsnet


# -- (a) Poisson -> LIF -----------------------------------------------------------------


def section_a(args: argparse.Namespace, bn: Any) -> list[dict[str, Any]]:
    from spikerl.learning import Plasticity, PostPre

    out = []
    for n in args.sizes:
        for batch in args.batches:
            x = poisson_input(args.steps, batch, n, 1)
            case: dict[str, Any] = {"n": n, "batch": batch, "steps": args.steps}
            net = spikerl_poisson_net(n)
            proj = net.projection("input->lif")
            w0 = proj.weight.detach().clone()

            def run_auto(s: int, net: Network = net, x: torch.Tensor = x) -> object:
                return net.run({"input": x[:s]})

            case["spikerl"] = budgeted(run_auto, args.steps, args.repeats, args.budget)
            res, _ = net.run({"input": x})
            case["spikerl"]["lif_rate_hz"] = float(res["lif"].mean()) * 1000.0
            ref, _ = net.run(
                {"input": x[:200]}, mode=ExecutionMode.STEP, propagation=Propagation.DENSE
            )
            case["spikerl"]["same_spikes_as_eager_step_first_200"] = bool(
                torch.equal(net.run({"input": x[:200]})[0]["lif"], ref["lif"])
            )

            def run_dense(s: int, net: Network = net, x: torch.Tensor = x) -> object:
                return net.run(
                    {"input": x[:s]}, mode=ExecutionMode.WINDOW, propagation=Propagation.DENSE
                )

            case["spikerl_window_dense"] = budgeted(
                run_dense, args.steps, args.repeats, args.budget
            )
            case["matmul_floor"] = matmul_floor(x, proj.weight.detach(), args)
            case["window_dense_over_floor"] = ratio(
                case["spikerl_window_dense"], case["matmul_floor"]
            )

            rule = PostPre(a_plus=1e-4, a_minus=1e-2)
            plast = Plasticity.bind(net, proj, rule, online=False)

            def run_stdp(
                s: int, net: Network = net, x: torch.Tensor = x, pl: Any = plast
            ) -> object:
                return net.run({"input": x[:s]}, hooks=[pl])

            case["spikerl_stdp"] = budgeted(run_stdp, args.steps, args.repeats, args.budget)
            with torch.no_grad():
                proj.weight.copy_(w0)
            if bn is not None:
                case["bindsnet"] = budgeted(
                    lambda s, n=n, x=x: bindsnet_poisson(bn, n, x[:s], stdp=False),
                    args.steps,
                    args.repeats,
                    args.budget,
                )
                case["bindsnet_stdp"] = budgeted(
                    lambda s, n=n, x=x: bindsnet_poisson(bn, n, x[:s], stdp=True),
                    args.steps,
                    args.repeats,
                    args.budget,
                )
                case["speedup_vs_bindsnet"] = ratio(case["bindsnet"], case["spikerl"])
                case["speedup_vs_bindsnet_stdp"] = ratio(
                    case["bindsnet_stdp"], case["spikerl_stdp"]
                )
            print(json.dumps(case), flush=True)
            out.append(case)
    return out


_BN_CACHE: dict[tuple[Any, ...], Any] = {}


def bindsnet_poisson(bn: Any, n: int, x: torch.Tensor, stdp: bool) -> object:
    """BindsNET 0.3.4 ``Input(n) -> LIFNodes(n)`` run over ``x [T, B, n]`` (network cached)."""
    from bindsnet.learning import PostPre as BNPostPre
    from bindsnet.network import Network as BNNetwork
    from bindsnet.network.nodes import Input as BNInput
    from bindsnet.network.nodes import LIFNodes
    from bindsnet.network.topology import Connection

    B = x.shape[1]
    key = (n, B, stdp)
    net = _BN_CACHE.get(key)
    if net is None:
        net = BNNetwork(dt=1.0, batch_size=B)
        net.add_layer(BNInput(n=n, traces=stdp), name="X")
        net.add_layer(LIFNodes(n=n, traces=stdp), name="Y")
        w = torch.rand(n, n) * 0.3 * 1000 / n
        kw: dict[str, Any] = {"update_rule": BNPostPre, "nu": (1e-4, 1e-2)} if stdp else {}
        net.add_connection(Connection(net.layers["X"], net.layers["Y"], w=w, **kw), "X", "Y")
        _BN_CACHE.clear()
        _BN_CACHE[key] = net
    net.reset_state_variables()
    net.run(inputs={"X": x}, time=x.shape[0])
    return net


# -- (b) Diehl & Cook ---------------------------------------------------------------------


def spikerl_diehl_cook(n: int, seed: int = 0) -> tuple[Network, Any]:
    """Input(784) -> DiehlCook(n) <-> LIF(n) inhibition, PostPre on the input weights."""
    from spikerl.learning import Plasticity, PostPre

    g = torch.Generator().manual_seed(seed)
    net = Network(dt=1.0)
    net.add_population("X", Input(784))
    net.add_population("exc", DiehlCook(n, DiehlCookParams()))
    inh = LIFParams(tau_mem=10.0, v_rest=-60.0, v_reset=-45.0, v_thresh=-40.0, refrac=2.0)
    net.add_population("inh", LIF(n, inh))
    proj = net.connect(
        "X",
        "exc",
        DenseProjection(784, n, Uniform(0.0, 0.3), wmin=0.0, wmax=1.0, norm=78.4, generator=g),
    )
    net.connect("exc", "inh", DenseProjection(n, n, 22.5 * torch.eye(n)))
    net.connect("inh", "exc", DenseProjection(n, n, -120.0 * (1 - torch.eye(n))))
    plast = Plasticity.bind(net, proj, PostPre(a_plus=1e-2, a_minus=1e-4), online=False)
    return net, plast


def image_poisson(steps: int, batch: int, seed: int) -> torch.Tensor:
    """A random 'image' (intensities U(0, 1)) as Poisson spikes up to 63.75 Hz, [T, B, 784]."""
    return poisson_input(steps, batch, 784, seed, max_hz=63.75)


def section_b(args: argparse.Namespace, bn: Any) -> list[dict[str, Any]]:
    out = []
    T = 250
    for n in (100, 400):
        for batch in (1, args.dc_batch):
            x = image_poisson(T, batch, 3)
            case: dict[str, Any] = {"neurons": n, "batch": batch, "steps": T}
            net, plast = spikerl_diehl_cook(n)

            def run(net: Network = net, x: torch.Tensor = x, pl: Any = plast) -> object:
                st = net.initial_state(x.shape[1])
                return net.run({"X": x}, st, hooks=[pl])

            r = timeit(run, args.repeats)
            case["spikerl_per_sample_s"] = r["median_s"] / batch
            case["spikerl"] = r
            res, _ = net.run({"X": x}, hooks=[plast])
            case["exc_spikes_per_sample"] = float(res["exc"].sum()) / batch
            case["model"] = diehl_cook_model_time(n, batch, T, args.repeats)
            if bn is not None:
                try:
                    br = timeit(lambda n=n, x=x: bindsnet_dc(bn, n, x), args.repeats)
                    case["bindsnet"] = br
                    case["bindsnet_per_sample_s"] = br["median_s"] / batch
                    case["speedup_vs_bindsnet"] = round(
                        case["bindsnet_per_sample_s"] / case["spikerl_per_sample_s"], 2
                    )
                    case["model_speedup_vs_bindsnet"] = round(
                        case["bindsnet_per_sample_s"] / case["model"]["per_sample_s"], 2
                    )
                except Exception as err:  # BindsNET's batched D&C may not run
                    case["bindsnet"] = f"failed: {type(err).__name__}: {err}"
            print(json.dumps(case), flush=True)
            out.append(case)
    return out


def diehl_cook_model_time(n: int, batch: int, steps: int, repeats: int) -> dict[str, Any]:
    """``spikerl.models.DiehlCook2015.present`` (learning on) on random 'images' (pixels
    U(0, 255), Poisson up to 63.75 Hz): the exact event scan used by ``spikerl mnist``."""
    from spikerl.models.diehl_cook import DiehlCook2015, DiehlCookConfig

    model = DiehlCook2015(DiehlCookConfig(n_neurons=n, time=float(steps), batch_size=batch))
    g = torch.Generator().manual_seed(5)
    images = torch.randint(0, 256, (batch, 28, 28), generator=g, dtype=torch.uint8)
    r = timeit(lambda: model.present(images, learn=True, generator=g), repeats)
    return {"per_sample_s": r["median_s"] / batch, **r}


def bindsnet_dc(bn: Any, n: int, x: torch.Tensor) -> object:
    from bindsnet.models import DiehlAndCook2015

    B = x.shape[1]
    key = ("dc", n, B)
    net = _BN_CACHE.get(key)
    if net is None:
        net = DiehlAndCook2015(
            n_inpt=784,
            n_neurons=n,
            exc=22.5,
            inh=120.0,
            dt=1.0,
            norm=78.4,
            theta_plus=0.05,
            inpt_shape=(1, 28, 28),
            batch_size=B,
        )
        _BN_CACHE.clear()
        _BN_CACHE[key] = net
    net.reset_state_variables()
    net.run(inputs={"X": x.reshape(x.shape[0], B, 1, 28, 28)}, time=x.shape[0])
    return net


# -- (c) agents ---------------------------------------------------------------------------


def section_c(args: argparse.Namespace) -> dict[str, Any]:
    try:
        from spikerl.agents import RSTDP
    except Exception as err:
        return {"status": f"not available: spikerl.agents.RSTDP ({type(err).__name__}: {err})"}
    from stable_baselines3.common.vec_env import VecEnv, VecEnvWrapper

    class TimedVecEnv(VecEnvWrapper):
        """Pass-through VecEnv wrapper that sums the seconds spent stepping the environments."""

        def __init__(self, venv: VecEnv) -> None:
            super().__init__(venv)
            self.seconds = 0.0

        def reset(self) -> Any:
            """Reset (not timed: it happens once per ``learn``)."""
            return self.venv.reset()

        def step_wait(self) -> Any:
            """Step the environments, adding the elapsed time to :attr:`seconds`."""
            t0 = time.perf_counter()
            out = self.venv.step_wait()
            self.seconds += time.perf_counter() - t0
            return out

    out: dict[str, Any] = {}
    for label, env_id, steps in (
        ("cartpole", "CartPole-v1", 4000),
        ("breakout", "ALE/Breakout-v5", 2000),
    ):
        try:
            if env_id.startswith("ALE/"):
                import ale_py
                import gymnasium

                gymnasium.register_envs(ale_py)
            from spikerl.agents.envs import make_agent_vec_env
            from spikerl.agents.presets import TrainConfig, build, preset_dict

            name = "Breakout" if env_id.startswith("ALE/") else "CartPole"
            preset: TrainConfig = build(TrainConfig, preset_dict("rstdp", name))
            agent = RSTDP(
                "SpikingPolicy",
                TimedVecEnv(make_agent_vec_env(name, 1, seed=0, overrides=preset.env_overrides)),
                config=preset.rstdp,
                seed=0,
            )
            agent.learn(steps)  # warm-up (compiles the kernels)
            timed = agent.get_env()
            assert isinstance(timed, TimedVecEnv)
            split = []  # (seconds in the environments, seconds in total) per learn call
            for _ in range(args.repeats):
                timed.seconds = 0.0
                t0 = time.perf_counter()
                agent.learn(steps, reset_num_timesteps=False)
                split.append((timed.seconds, time.perf_counter() - t0))
            env_s = statistics.median(e for e, _ in split)
            agent_s = statistics.median(t - e for e, t in split)
            total = [t for _, t in split]
            out[label] = {
                "env": env_id,
                "n_envs": 1,
                "learning": True,
                "steps": steps,
                "repeats": args.repeats,
                "env_steps_per_s": round(steps / statistics.median(total), 1),
                "env_steps_per_s_best": round(steps / min(total), 1),
                # inside VecEnv.step during learning (the emulator and wrappers): the ceiling
                "env_us_per_step": round(env_s / steps * 1e6, 1),
                # everything else: features, spiking window, update, SB3 loop and callbacks
                "agent_us_per_step": round(agent_s / steps * 1e6, 1),
            }
        except Exception as err:
            out[label] = {"env": env_id, "status": f"failed: {type(err).__name__}: {err}"}
        print(json.dumps({label: out[label]}), flush=True)
    return out


# -- (d) surrogate LIF fwd + bwd ----------------------------------------------------------


def section_d(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Surrogate LIF layer fwd + bwd at n = 1024 and 4096."""
    return [surrogate_case(n, args) for n in (1024, 4096)]


def surrogate_case(n: int, args: argparse.Namespace) -> dict[str, Any]:
    T, B = 100, 16
    beta = 0.95
    g = torch.Generator().manual_seed(0)
    x0 = torch.rand(T, B, n, generator=g) * 0.3
    case: dict[str, Any] = {"n": n, "batch": B, "T": T}

    def fwd_bwd(fn: Callable[[torch.Tensor], torch.Tensor]) -> Callable[[], object]:
        def go() -> object:
            x = x0.clone().requires_grad_(True)
            y = fn(x)
            y.sum().backward()
            return x.grad

        return go

    try:
        from spikerl.learning.surrogate import SurrogateLIF

        layer = SurrogateLIF(
            params=LIFParams(
                tau_mem=-1.0 / torch.log(torch.tensor(beta)).item(),
                v_rest=0.0,
                v_reset=0.0,
                v_thresh=1.0,
                refrac=0.0,
            )
        )
        run = getattr(layer, "run", None)

        def spk(x: torch.Tensor) -> torch.Tensor:
            if run is not None:
                res = run(x)
                return res[0] if isinstance(res, tuple) else res
            st = None
            outs = []
            for t in range(x.shape[0]):
                s, st = layer(x[t], st)
                outs.append(s)
            return torch.stack(outs)

        case["spikerl"] = timeit(fwd_bwd(spk), args.repeats)
    except Exception as err:
        case["spikerl"] = f"not available: {type(err).__name__}: {err}"
    try:
        import snntorch as snn  # type: ignore[import-not-found]

        leaky = snn.Leaky(beta=beta, threshold=1.0)

        def snn_run(x: torch.Tensor) -> torch.Tensor:
            mem = leaky.init_leaky()
            outs = []
            for t in range(x.shape[0]):
                s, mem = leaky(x[t], mem)
                outs.append(s)
            return torch.stack(outs)

        case["snntorch_eager"] = timeit(fwd_bwd(snn_run), args.repeats)
    except Exception as err:
        case["snntorch_eager"] = f"not available: {type(err).__name__}: {err}"
    try:
        import norse.torch as norse  # type: ignore[import-not-found]

        p = norse.LIFParameters(
            tau_mem_inv=torch.tensor(1000.0 * (1 - beta)),
            tau_syn_inv=torch.tensor(1000.0),
            v_th=torch.tensor(1.0),
            v_leak=torch.tensor(0.0),
            v_reset=torch.tensor(0.0),
        )
        lif = norse.LIF(p, dt=1e-3)

        def norse_run(x: torch.Tensor, m: Any = lif) -> torch.Tensor:
            return m(x)[0]  # type: ignore[no-any-return]

        case["norse_eager"] = timeit(fwd_bwd(norse_run), args.repeats)
        compiled = torch.compile(lif)
        case["norse_compile"] = timeit(
            fwd_bwd(lambda x: norse_run(x, compiled)), args.repeats, warmup=2
        )
    except Exception as err:
        case["norse_compile"] = f"not available: {type(err).__name__}: {str(err)[:200]}"
    for k in ("snntorch_eager", "norse_eager", "norse_compile"):
        if isinstance(case.get(k), dict) and isinstance(case.get("spikerl"), dict):
            case[f"speedup_vs_{k}"] = ratio(case[k], case["spikerl"])
    print(json.dumps(case), flush=True)
    return case


def matmul_floor(x: torch.Tensor, w: torch.Tensor, args: argparse.Namespace) -> dict[str, Any]:
    """One ``[T*B, n] @ [n, n]`` product (fewer rows, scaled, when over the budget)."""
    n = x.shape[2]

    def mm(s: int) -> object:
        return torch.matmul(x[:s].reshape(-1, n), w)

    return budgeted(mm, x.shape[0], args.repeats, args.budget)


# -- (e) floor ------------------------------------------------------------------------------


def section_e(args: argparse.Namespace) -> list[dict[str, Any]]:
    out = []
    for n in args.sizes:
        for batch in args.batches:
            x = poisson_input(args.steps, batch, n, 1)
            r = matmul_floor(x, torch.rand(n, n), args)
            r["gflops"] = round(2.0 * x.shape[0] * batch * n * n / r["median_s"] / 1e9, 1)
            case = {"n": n, "batch": batch, "steps": args.steps, "matmul": r}
            print(json.dumps(case), flush=True)
            out.append(case)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--sections", nargs="+", default=["a", "b", "c", "d", "e"])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 5000, 10000])
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 32])
    ap.add_argument("--dc-batch", type=int, default=32)
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument(
        "--budget", type=float, default=10.0, help="seconds per timed run before scaling"
    )
    ap.add_argument("--no-bindsnet", action="store_true")
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    bn = None if args.no_bindsnet else import_bindsnet()
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    results: dict[str, Any] = {
        "benchmark": "spikerl_speed",
        "machine": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "bindsnet": getattr(bn, "__version__", "0.3.4") if bn is not None else None,
        "loadavg_start": load,
    }
    with contextlib.suppress(KeyboardInterrupt):
        if "e" in args.sections:
            results["e_matmul_floor"] = section_e(args)
        if "a" in args.sections:
            results["a_poisson_lif"] = section_a(args, bn)
        if "b" in args.sections:
            results["b_diehl_cook"] = section_b(args, bn)
        if "d" in args.sections:
            results["d_surrogate"] = section_d(args)
        if "c" in args.sections:
            results["c_agents"] = section_c(args)
    results["loadavg_end"] = os.getloadavg() if hasattr(os, "getloadavg") else None
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
