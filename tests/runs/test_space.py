"""Search spaces: parsing, checking against the config, and Optuna distributions."""

from __future__ import annotations

from pathlib import Path

import pytest

from spikerl.agents.presets import resolve, to_dict
from spikerl.runs.space import SpaceError, check_space, load_space, nested, parse_space

REPO = Path(__file__).resolve().parents[2]


def test_shipped_rstdp_space_checks_against_cartpole() -> None:
    params = load_space(REPO / "agents" / "spaces" / "rstdp.yaml")
    assert "rstdp.learn.lr_actor" in [p.key for p in params]
    check_space(params, to_dict(resolve("CartPole")), "rstdp.yaml")


def test_optuna_distributions_are_inclusive_and_log_where_asked() -> None:
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    (u, lg, i, c) = parse_space(
        {
            "a.u": {"uniform": [0.5, 1.5]},
            "a.l": {"loguniform": [0.01, 1.0]},
            "a.i": {"int": [2, 8]},
            "a.c": {"choice": [4, 8]},
        }
    )
    assert u.to_optuna() == FloatDistribution(0.5, 1.5)
    assert lg.to_optuna() == FloatDistribution(0.01, 1.0, log=True)
    assert i.to_optuna() == IntDistribution(2, 8)  # both ends reachable, as written
    assert c.to_optuna() == CategoricalDistribution([4, 8])
    assert nested({"a.b": 1, "a.c": 2, "d": 3}) == {"a": {"b": 1, "c": 2}, "d": 3}


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        ({}, "empty"),
        (None, "empty"),
        ({"rstdp.learn.lr_actor": {"gaussian": [0, 1]}}, "unknown distribution 'gaussian'"),
        ({"rstdp.learn.lr_actor": {"uniform": [1.0]}}, "[low, high]"),
        ({"rstdp.learn.lr_actor": {"uniform": [2.0, 1.0]}}, "low < high"),
        ({"rstdp.learn.lr_actor": {"loguniform": [0.0, 1.0]}}, "low > 0"),
        ({"rstdp.snn.n_per_action": {"int": [2.5, 8]}}, "integers"),
        ({"rstdp.learn.lr_actor": 0.3}, "expected one of"),
        ([1, 2], "mapping"),
    ],
)
def test_malformed_spaces_name_the_problem(data: object, needle: str) -> None:
    with pytest.raises(SpaceError) as exc:
        parse_space(data, "s.yaml")
    assert needle in str(exc.value) and "\n" not in str(exc.value)


def test_unknown_key_and_invalid_value_are_caught_before_running() -> None:
    base = to_dict(resolve("CartPole"))
    with pytest.raises(SpaceError, match=r"unknown config key 'rstdp.learn.lr_actr'.*lr_actor"):
        check_space(parse_space({"rstdp.learn.lr_actr": {"uniform": [0.1, 1]}}), base, "s")
    with pytest.raises(SpaceError, match=r"rstdp\.snn\.sim_steps"):
        check_space(parse_space({"rstdp.snn.sim_steps": {"choice": ["abc", 4]}}), base, "s")


def test_unreadable_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(SpaceError, match="cannot read"):
        load_space(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("a: [unclosed\n")
    with pytest.raises(SpaceError, match="malformed YAML"):
        load_space(bad)
