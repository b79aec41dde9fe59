"""The search agent with a model behind it: the knobs as an Optuna space, a study told the whole
run (other agents' keeps, repeats and re-measurements, experiments in flight), one knob changed
per experiment unless the config allows more, never a configuration twice, and the same
proposal for the same history, on resume too."""

from __future__ import annotations

import json
import math
import runpy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from overnight.agents.base import AgentContext
from overnight.agents.knobs import find_knobs
from overnight.agents.model import KnobModel, identity
from overnight.agents.search import WARMUP, SearchAgent
from overnight.agents.space import params, search_space
from overnight.config import KnobConfig, SearchAgentConfig
from overnight.errors import SearchExhausted, UsageError
from overnight.records import Experiment, Status

pytest.importorskip("optuna")

PARAMS = """\
LR = 0.01
WIDTH = 64
DEPTH = 3
DROPOUT = 0.1
ACTIVATION = "tanh"
"""
KNOBS = {
    "LR": KnobConfig(min=1e-5, max=1.0, log=True),
    "WIDTH": KnobConfig(min=8, max=1024, log=True),
    "DEPTH": KnobConfig(min=1, max=12),
    "DROPOUT": KnobConfig(min=0.0, max=0.8, log=False),
    "ACTIVATION": KnobConfig(choices=["tanh", "relu"]),
}


def valley(values: dict[str, Any]) -> float:
    x, y = math.log10(values["LR"]) + 2.0, math.log2(values["WIDTH"]) - 7.0
    shape = 10 * (y - x * x) ** 2 + (1 - x) ** 2 + 0.3 * (values["DEPTH"] - 6) ** 2
    return shape + 5 * (values["DROPOUT"] - 0.3) ** 2 + (values["ACTIVATION"] == "tanh")


def context(root: Path, history: list[Experiment], number: int, **extra: Any) -> AgentContext:
    best = min(e.metric for e in history if e.status.advances and e.metric is not None)
    return AgentContext(
        root=root,
        number=number,
        editable_files=["params.py"],
        editable_globs=["params.py"],
        history=list(history),
        best_metric=best,
        direction="minimize",
        brief_path=root / "brief.md",
        **extra,
    )


def run(
    root: Path,
    config: SearchAgentConfig,
    experiments: int,
    objective: Callable[[dict[str, Any]], float] = valley,
    text: str = PARAMS,
) -> list[Experiment]:
    """The loop in miniature: propose, measure, keep the better or put the best back."""
    (root / "params.py").write_text(text)
    agent = SearchAgent(config)
    value = objective(runpy.run_path(str(root / "params.py")))
    history = [Experiment(1, 0, "", Status.BASELINE, "c0", value, measurements=[value])]
    best, best_text, best_commit = value, text, "c0"
    for number in range(1, experiments + 1):
        proposal = agent.propose(context(root, history, number))
        value = objective(runpy.run_path(str(root / "params.py")))
        kept = value < best
        status, commit = (Status.KEEP, f"c{number}") if kept else (Status.DISCARD, None)
        history.append(
            Experiment(
                1,
                number,
                best_commit,
                status,
                commit,
                value,
                description=proposal.description,
                agent_meta=proposal.meta,
                measurements=[value],
            )
        )
        if kept:
            best, best_text, best_commit = value, (root / "params.py").read_text(), commit
        else:
            (root / "params.py").write_text(best_text)
    return history


def tpe(**extra: Any) -> SearchAgentConfig:
    return SearchAgentConfig(sampler="tpe", knobs=KNOBS, **extra)


# -- the space -----------------------------------------------------------------------------------


def test_declared_ranges_and_scales_become_distributions(tmp_path: Path) -> None:
    (tmp_path / "params.py").write_text(PARAMS + "USE_BIAS = True\nSEED = 0\nSTEPS = 200\n")
    knobs = find_knobs(tmp_path, ["params.py"], KNOBS)
    start = {knob.key: knob.value for knob in knobs}

    space = search_space(knobs, start)

    assert "params.py:SEED" not in space  # a seed is frozen: not searched
    lr, width, depth = (space[f"params.py:{name}"] for name in ("LR", "WIDTH", "DEPTH"))
    assert (lr.low, lr.high, lr.log) == (1e-5, 1.0, True)
    assert (width.low, width.high, width.log) == (8, 1024, True)
    assert (depth.low, depth.high, depth.log) == (1, 12, True)  # an int from 1: log by default
    assert space["params.py:DROPOUT"].log is False
    assert space["params.py:ACTIVATION"].choices == ("tanh", "relu")
    assert space["params.py:USE_BIAS"].choices == (False, True)
    steps = space["params.py:STEPS"]  # undeclared: 16x either way of the starting value
    assert (steps.low, steps.high, steps.log) == (12, 3200, True)


def test_a_configuration_outside_the_space_is_not_told(tmp_path: Path) -> None:
    (tmp_path / "params.py").write_text(PARAMS)
    knobs = find_knobs(tmp_path, ["params.py"], KNOBS)
    space = search_space(knobs, {knob.key: knob.value for knob in knobs})
    inside = {knob.key: knob.value for knob in knobs}

    assert params(inside, space) is not None
    assert params({**inside, "params.py:DEPTH": 40}, space) is None
    assert params({**inside, "params.py:ACTIVATION": "gelu"}, space) is None
    assert params({k: v for k, v in inside.items() if not k.endswith("LR")}, space) is None


# -- proposals -----------------------------------------------------------------------------------


def test_each_experiment_changes_one_knob_and_never_repeats_a_configuration(
    tmp_path: Path,
) -> None:
    history = run(tmp_path, tpe(seed=1), 30)

    seen: set[str] = set()
    for experiment in history[1:]:
        seen.add(json.dumps(experiment.agent_meta["before"], sort_keys=True))
        after = json.dumps(experiment.agent_meta["after"], sort_keys=True)
        assert after not in seen
        seen.add(after)
    for experiment in history[1:]:
        meta = experiment.agent_meta
        changed = [k for k in meta["after"] if meta["after"][k] != meta["before"][k]]
        assert changed == [meta["knob"]] and meta["sampler"] in ("tpe", "local")
        assert " -> " in experiment.description and "," not in experiment.description
    by_model = [e for e in history[1:] if e.agent_meta["sampler"] == "tpe"]
    assert history[1].agent_meta["sampler"] == "local"  # the local moves explore first
    assert len(by_model) >= 5 and min(e.number for e in by_model) >= WARMUP
    assert min(e.metric for e in history) < history[0].metric / 3


def test_the_model_chooses_among_the_steps_and_a_keep_is_followed_up_once(
    tmp_path: Path,
) -> None:
    history = run(tmp_path, tpe(seed=4), WARMUP + 15)

    by_model = [e for e in history[1:] if e.agent_meta["sampler"] == "tpe"]
    assert len(by_model) >= 10
    for experiment in by_model:  # a step the local moves offer, as they would name it
        assert experiment.agent_meta["move"] in ("up", "down", "double", "halve", "next", "prev")
    follow_ups = [e for e in history[1:] if e.agent_meta.get("follow")]
    assert follow_ups
    for experiment in follow_ups:
        previous = history[experiment.number - 1]
        assert previous.status == Status.KEEP and not previous.agent_meta.get("follow")
        assert experiment.agent_meta["sampler"] == "local" and experiment.number <= WARMUP + 1


def test_where_the_steps_run_out_the_model_goes_on(tmp_path: Path) -> None:
    knobs = {"N": KnobConfig(min=1, max=40, log=False)}

    def bowl(values: dict[str, Any]) -> float:
        return (values["N"] - 30) ** 2

    with pytest.raises(SearchExhausted):
        run(tmp_path, SearchAgentConfig(sampler="local", knobs=knobs), 30, bowl, "N = 20\n")
    history = run(tmp_path, SearchAgentConfig(sampler="tpe", knobs=knobs), 30, bowl, "N = 20\n")

    values = [e.agent_meta["after"]["params.py:N"] for e in history[1:]]
    assert len(set(values)) == 30 and 30 in values
    assert history[-1].agent_meta["sampler"] == "tpe"


def test_choosing_tpe_proposes_the_offer_where_the_good_trials_lie() -> None:
    import optuna

    from overnight.agents.choosing_tpe import ChoosingTPE

    space = {
        "x": optuna.distributions.FloatDistribution(0.0, 1.0),
        "y": optuna.distributions.FloatDistribution(0.0, 1.0),
    }
    study = optuna.create_study()
    for x, y in ((i / 9, (i * 7 % 10) / 9) for i in range(10)):
        value = (x - 0.2) ** 2 + (y - 0.7) ** 2
        study.add_trial(
            optuna.trial.create_trial(params={"x": x, "y": y}, distributions=space, value=value)
        )
    offers = [{"x": 0.9, "y": 0.1}, {"x": 0.22, "y": 0.68}, {"x": 0.5, "y": 0.5}]
    sampler = ChoosingTPE(offers, space, seed=0, multivariate=True, n_startup_trials=5)
    study.sampler = sampler

    trial = study.ask(space)

    assert sampler.chosen == 1 and trial.params == offers[1]


def test_changes_per_experiment_lets_several_knobs_move_together(tmp_path: Path) -> None:
    history = run(tmp_path, tpe(seed=2, changes_per_experiment=3), WARMUP + 10)

    sizes = [len(e.agent_meta.get("changes", [None])) for e in history[1:]]
    assert max(sizes) > 1 and all(size <= 3 for size in sizes)
    assert all(size == 1 for size in sizes[: WARMUP - 1])  # the local moves: one step each
    several = next(e for e in history[1:] if "changes" in e.agent_meta)
    meta = several.agent_meta
    assert several.description.count(" -> ") == len(meta["changes"])
    assert {c["knob"] for c in meta["changes"]} == {
        k for k in meta["after"] if meta["after"][k] != meta["before"][k]
    }
    text = (tmp_path / "params.py").read_text()
    assert runpy.run_path(str(tmp_path / "params.py"))  # every write left valid Python
    assert text.count("\n") == PARAMS.count("\n")


@pytest.mark.parametrize("sampler", ["cmaes", "random", "gp"])
def test_optunas_other_samplers_propose_the_same_way(tmp_path: Path, sampler: str) -> None:
    if sampler == "gp":
        pytest.importorskip("torch")
        pytest.importorskip("scipy")
    history = run(tmp_path, SearchAgentConfig(sampler=sampler, knobs=KNOBS), WARMUP + 6)

    assert all(e.agent_meta["sampler"] in (sampler, "local") for e in history[1:])
    assert any(e.agent_meta["sampler"] == sampler for e in history[1:])
    afters = {json.dumps(e.agent_meta["after"], sort_keys=True) for e in history[1:]}
    assert len(afters) == WARMUP + 6


def test_the_same_history_gives_the_same_proposal_on_resume(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir(), second.mkdir()
    history = run(first, tpe(seed=5), 12)
    (second / "params.py").write_text((first / "params.py").read_text())

    continuing = SearchAgent(tpe(seed=5))
    for number in range(1, 13):  # the same agent, having proposed all along
        continuing.propose(context(first, history[:number], number))
        (first / "params.py").write_text((second / "params.py").read_text())
    resumed = SearchAgent(tpe(seed=5)).propose(context(second, history, 13))
    again = continuing.propose(context(first, history, 13))

    assert resumed.description == again.description
    assert resumed.meta == again.meta


def test_when_the_model_only_finds_seen_configurations_the_local_moves_choose(
    tmp_path: Path,
) -> None:
    (tmp_path / "params.py").write_text("USE_BIAS = True\nMODE = 'a'\n")
    config = SearchAgentConfig(sampler="tpe", knobs={"MODE": KnobConfig(choices=["a", "b"])})
    agent = SearchAgent(config)
    history = [Experiment(1, 0, "", Status.BASELINE, "c0", 1.0, measurements=[1.0])]
    seen = set()
    with pytest.raises(SearchExhausted):
        for number in range(1, 10):
            proposal = agent.propose(context(tmp_path, history, number))
            seen.add(json.dumps(proposal.meta["after"], sort_keys=True))
            history.append(
                Experiment(
                    1,
                    number,
                    "c0",
                    Status.DISCARD,
                    None,
                    2.0,
                    agent_meta=proposal.meta,
                    measurements=[2.0],
                )
            )
            (tmp_path / "params.py").write_text("USE_BIAS = True\nMODE = 'a'\n")
    assert len(seen) == 2  # the two neighbours of the start, then nothing is left


# -- what the model is told ----------------------------------------------------------------------


def model_for(tmp_path: Path) -> tuple[KnobModel, dict[str, Any]]:
    (tmp_path / "params.py").write_text(PARAMS)
    knobs = find_knobs(tmp_path, ["params.py"], KNOBS)
    start = {knob.key: knob.value for knob in knobs}
    return KnobModel("tpe", 0, "minimize", search_space(knobs, start)), start


def row(number: int, parent: str, status: Status, values: list[float], **extra: Any) -> Experiment:
    mean = sum(values) / len(values) if values else None
    return Experiment(1, number, parent, status, metric=mean, measurements=values, **extra)


def test_every_measurement_of_a_configuration_counts_as_one_mean(tmp_path: Path) -> None:
    model, start = model_for(tmp_path)
    changed = {**start, "params.py:DEPTH": 4}
    model.learn(row(0, "", Status.BASELINE, [10.0], commit="c0"))
    model.learn(
        row(
            1,
            "c0",
            Status.KEEP,
            [8.0, 9.0],
            commit="c1",
            agent_meta={"before": start, "after": changed},
        )
    )
    model.learn(
        row(
            2,
            "c1",
            Status.DISCARD,
            [9.5],
            remeasured=[7.0],
            agent_meta={"before": changed, "after": {**changed, "params.py:WIDTH": 32}},
        )
    )

    told = {key: tree.told for key, tree in model.trees.items()}
    assert model.trees[identity(params(start, model.space))].told == 10.0  # the baseline
    assert model.finished == 3
    model.ask(3)  # a moved mean builds the study anew before the next proposal
    model.settle({}, None)
    values = sorted(t.value for t in model._study.trials if t.value is not None)
    assert values == [8.0, 9.5, 10.0] and told[identity(params(changed, model.space))] == 8.5


def test_a_state_another_agent_kept_is_told_once_a_search_row_starts_from_it(
    tmp_path: Path,
) -> None:
    model, start = model_for(tmp_path)
    model.learn(row(0, "", Status.BASELINE, [10.0], commit="c0"))
    edited = {**start, "params.py:LR": 0.02}  # what another agent's edit left
    model.learn(row(1, "c0", Status.KEEP, [6.0], commit="c1"))  # no meta: configuration unknown
    assert model.finished == 0
    model.learn(
        row(
            2,
            "c1",
            Status.DISCARD,
            [7.0],
            agent_meta={"before": edited, "after": {**edited, "params.py:DEPTH": 5}},
        )
    )

    assert model.trees[identity(params(edited, model.space))].told == 6.0
    assert model.finished == 2  # the baseline's waits for a search row that starts from it


def test_failed_configurations_are_not_told_and_in_flight_ones_are_running(
    tmp_path: Path,
) -> None:
    model, start = model_for(tmp_path)
    model.learn(row(0, "", Status.BASELINE, [10.0], commit="c0"))
    crashed = {**start, "params.py:DEPTH": 12}
    model.learn(row(1, "c0", Status.CRASH, [], agent_meta={"before": start, "after": crashed}))
    model.pend(2, {**start, "params.py:DEPTH": 2})

    states = [trial.state.name for trial in model._study.trials]
    assert model.finished == 1 and states == ["COMPLETE", "RUNNING"]
    model.learn(
        row(
            2,
            "c0",
            Status.DISCARD,
            [11.0],
            agent_meta={"before": start, "after": {**start, "params.py:DEPTH": 2}},
        )
    )
    assert model.finished == 2 and not model.pending


def test_with_workers_an_experiment_in_flight_is_not_proposed_again(tmp_path: Path) -> None:
    history = run(tmp_path, tpe(seed=3), 6)
    agent = SearchAgent(tpe(seed=3))
    first = agent.propose(context(tmp_path, history, 7))
    in_flight = Experiment(1, 7, "c0", Status.RUNNING, agent_meta=first.meta)
    (tmp_path / "params.py").write_text((tmp_path / "params.py").read_text())

    other = SearchAgent(tpe(seed=3))  # another process: it knows the first only as in flight
    second = other.propose(context(tmp_path, history, 8, in_flight=[in_flight]))

    assert second.meta["after"] != first.meta["after"]
    assert 7 in other._model.pending


# -- choosing the sampler ------------------------------------------------------------------------


def test_without_optuna_the_default_is_the_local_moves(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("overnight.agents.search.available", lambda sampler: False)
    assert SearchAgent(SearchAgentConfig()).sampler == "local"
    assert SearchAgent(SearchAgentConfig()).sampler == "local"


def test_the_default_is_tpe_where_optuna_is_installed() -> None:
    assert SearchAgent(SearchAgentConfig()).sampler == "tpe"


def test_a_sampler_whose_packages_are_missing_says_how_to_install_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("importlib.util.find_spec", lambda name: None)
    with pytest.raises(UsageError, match=r"the cmaes search sampler needs .*overnight\[search\]"):
        SearchAgent(SearchAgentConfig(sampler="cmaes"))


def test_the_knobs_importance_is_weighed_at_fixed_counts(tmp_path: Path) -> None:
    """Every count up to ten, then a tenth more each time: its cost does not grow with the run,
    and a resumed agent weighs at the same counts."""
    model, start = model_for(tmp_path)
    weighed: list[int] = []
    weigh = model._weigh
    model._weigh = lambda: (weighed.append(model.finished), weigh())  # type: ignore[method-assign]
    for number in range(1, 31):
        after = {**start, "params.py:WIDTH": 7 + number}
        model.learn(
            row(
                number,
                "c0",
                Status.DISCARD,
                [float(number)],
                agent_meta={"before": start, "after": after},
            )
        )

    assert weighed == [4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 21, 24, 27, 30]
    assert set(model.importance()) == set(model.space)
