"""load_config and scope_for: a valid file loads with defaults, and every mistake becomes one
ConfigError line that names the file and the field."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from overnight.config import CONFIG_NAME, Config, load_config
from overnight.errors import ConfigError
from overnight.scope import scope_for

VALID = {
    "name": "digits",
    "editable": ["train.py"],
    "evaluate": {"command": "python train.py", "metric": "val_loss"},
}

DELETE = object()  # with_changes(evaluate__metric=DELETE) removes the field


def write(tmp_path, data):
    path = tmp_path / CONFIG_NAME
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data), encoding="utf-8")
    return path


def with_changes(**changes):
    """A copy of VALID with ``section__field=value`` changes applied."""
    config = {
        key: (dict(value) if isinstance(value, dict) else value) for key, value in VALID.items()
    }
    for dotted, value in changes.items():
        *parents, leaf = dotted.split("__")
        target = config
        for part in parents:
            target = target.setdefault(part, {})
        if value is DELETE:
            del target[leaf]
        else:
            target[leaf] = value
    return config


def config_error(tmp_path, data) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, data))
    error = caught.value
    text = str(error)
    assert "\n" not in text, text
    assert text.startswith(f"{CONFIG_NAME}: "), text
    return error


def test_valid_config_loads_with_defaults(tmp_path):
    config = load_config(write(tmp_path, VALID))

    assert config.name == "digits"
    assert config.editable == ["train.py"]
    assert config.frozen == []
    assert config.program is None
    assert config.evaluate.command == "python train.py"
    assert config.evaluate.metric == "val_loss"
    assert config.evaluate.regex is None
    assert config.evaluate.direction == "minimize"
    assert config.evaluate.timeout == 600
    assert config.evaluate.env_passthrough == []
    assert config.agent.kind == "search"
    assert config.agent.knobs == {}
    assert config.policy.kind == "greedy"
    assert config.policy.min_delta == 0
    assert config.budget.experiments == 100
    assert config.budget.hours is None
    assert config.stop.target is None
    assert config.stop.patience is None


def test_full_config_keeps_every_value(tmp_path):
    data = {
        **VALID,
        "frozen": ["prepare.py"],
        "program": "program.md",
        "evaluate": {
            "command": "python train.py",
            "metric": "acc",
            "regex": r"accuracy=(\S+)",
            "direction": "maximize",
            "timeout": 12.5,
            "env_passthrough": ["HF_TOKEN"],
        },
        "agent": {"kind": "command", "command": "my-agent --one-change", "timeout": 60},
        "policy": {"min_delta": 0.01},
        "budget": {"experiments": 7, "hours": 1.5},
        "stop": {"target": 0.99, "patience": 3},
    }
    config = load_config(write(tmp_path, data))

    assert config.frozen == ["prepare.py"]
    assert config.program == "program.md"
    assert config.evaluate.regex == r"accuracy=(\S+)"
    assert config.evaluate.direction == "maximize"
    assert config.evaluate.timeout == 12.5
    assert config.evaluate.env_passthrough == ["HF_TOKEN"]
    assert config.agent.kind == "command"
    assert config.agent.command == "my-agent --one-change"
    assert config.agent.timeout == 60
    assert config.policy.min_delta == 0.01
    assert (config.budget.experiments, config.budget.hours) == (7, 1.5)
    assert (config.stop.target, config.stop.patience) == (0.99, 3)


def test_search_agent_knobs_load(tmp_path):
    data = {
        **VALID,
        "agent": {"kind": "search", "seed": 3, "knobs": {"LR": {"min": 0.001, "max": 1}}},
    }
    config = load_config(write(tmp_path, data))

    assert config.agent.seed == 3
    assert config.agent.knobs["LR"].min == 0.001
    assert config.agent.knobs["LR"].max == 1


def test_missing_file_names_the_path(tmp_path):
    path = tmp_path / "nowhere" / CONFIG_NAME
    with pytest.raises(ConfigError) as caught:
        load_config(path)

    text = str(caught.value)
    assert "\n" not in text
    assert str(path) in text
    assert "not found" in text


def test_invalid_yaml_names_the_line(tmp_path):
    error = config_error(tmp_path, "name: t\neditable: [train.py\n")

    assert error.field is not None and error.field.startswith("line ")
    assert "invalid YAML" in str(error)


@pytest.mark.parametrize("text", ["", "   \n# only a comment\n"])
def test_empty_file(tmp_path, text):
    error = config_error(tmp_path, text)

    assert error.field is None
    assert str(error) == f"{CONFIG_NAME}: is empty"


def test_top_level_list(tmp_path):
    error = config_error(tmp_path, "- train.py\n- prepare.py\n")

    assert str(error) == f"{CONFIG_NAME}: must be a mapping of fields, got list"


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"colour": "blue"}, "colour", "unknown field"),
        ({"evaluate__foo": 1}, "evaluate.foo", "unknown field"),
        ({"evaluate__timeout": "soon"}, "evaluate.timeout", "expected a number, got 'soon'"),
        (
            {"budget__experiments": "many"},
            "budget.experiments",
            "expected a whole number, got 'many'",
        ),
        ({"budget__experiments": 1.5}, "budget.experiments", "expected a whole number, got 1.5"),
        ({"editable": "train.py"}, "editable", "expected a list, got 'train.py'"),
        ({"editable": ["train.py", 3]}, "editable[1]", "expected text, got 3"),
        ({"evaluate": ["python train.py"]}, "evaluate", "expected a mapping"),
        ({"name": 5}, "name", "expected text, got 5"),
        ({"evaluate__metric": DELETE}, "evaluate.metric", "is required"),
        ({"evaluate__command": DELETE}, "evaluate.command", "is required"),
        ({"evaluate": DELETE}, "evaluate", "is required"),
        ({"editable": []}, "editable", "must not be empty"),
        ({"editable": ["/etc/passwd"]}, "editable", "must be relative to the repository"),
        ({"frozen": ["../outside.py"]}, "frozen", "must be relative to the repository"),
        ({"agent": {"kind": "magic"}}, "agent", "unknown kind 'magic'"),
        ({"agent": {"seed": 1}}, "agent", "needs a 'kind'"),
        ({"agent": {"kind": "command"}}, "agent", "needs a command, or a preset"),
        (
            {"agent": {"kind": "command", "command": "x", "timeout": "soon"}},
            "agent.timeout",
            "expected a number, got 'soon'",
        ),
        ({"evaluate__regex": "(unclosed"}, "evaluate.regex", "not a valid regular expression"),
        ({"evaluate__regex": r"score \d+"}, "evaluate.regex", "exactly one capture group"),
        ({"evaluate__regex": r"(\w+)=(\d+)"}, "evaluate.regex", "exactly one capture group"),
        (
            {"evaluate__direction": "up"},
            "evaluate.direction",
            "expected 'minimize' or 'maximize', got 'up'",
        ),
        ({"evaluate__timeout": -5}, "evaluate.timeout", "must be above 0.0, got -5"),
        ({"evaluate__timeout": 0}, "evaluate.timeout", "must be above 0.0, got 0"),
        ({"stop__patience": 0}, "stop.patience", "must be at least 1, got 0"),
        ({"policy__min_delta": -0.1}, "policy.min_delta", "must be at least 0.0, got -0.1"),
        (
            {"agent": {"kind": "search", "knobs": {"LR": {"min": 2, "max": 1}}}},
            "agent.knobs.LR",
            "min (2.0) is above max (1.0)",
        ),
        (
            {"agent": {"kind": "search", "knobs": {"LR": {"step": 2}}}},
            "agent.knobs.LR.step",
            "unknown field",
        ),
    ],
)
def test_invalid_field_is_named_in_one_line(tmp_path, changes, field, message):
    error = config_error(tmp_path, with_changes(**changes))

    assert error.file == CONFIG_NAME
    assert error.field == field
    assert message in error.message
    assert str(error).startswith(f"{CONFIG_NAME}: {field}: ")


def test_several_problems_report_the_first_and_count_the_rest(tmp_path):
    error = config_error(tmp_path, with_changes(evaluate__timeout="soon", colour="blue"))

    assert "(and 1 more problem)" in str(error)


def test_a_misspelt_key_is_reported_before_the_field_it_leaves_missing(tmp_path):
    error = config_error(tmp_path, with_changes(evaluate__metric=DELETE, evaluate__metrik="loss"))

    assert error.field == "evaluate.metrik"
    assert error.message == "unknown field (and 1 more problem)"


def _config(**changes):
    return Config.model_validate(with_changes(**changes))


FILES = ["overnight.yaml", ".gitignore", "train.py", "prepare.py", "src/model.py", "src/util.py"]


def test_scope_for_accepts_matching_globs():
    scope = scope_for(_config(editable=["train.py", "src/*.py"], frozen=["prepare.py"]), FILES)

    assert scope.editable_files(FILES) == ["train.py", "src/model.py", "src/util.py"]
    assert scope.frozen_files(FILES) == ["overnight.yaml", ".gitignore", "prepare.py"]


def test_scope_for_editable_glob_matching_nothing():
    with pytest.raises(ConfigError) as caught:
        scope_for(_config(editable=["train.py", "lib/*.py"]), FILES)

    assert caught.value.field == "editable[1]"
    assert str(caught.value) == "overnight.yaml: editable[1]: 'lib/*.py' matches no file"


def test_scope_for_frozen_glob_matching_nothing():
    with pytest.raises(ConfigError) as caught:
        scope_for(_config(frozen=["prepare.py", "data/*.csv"]), FILES)

    assert caught.value.field == "frozen[1]"
    assert "'data/*.csv' matches no file" in str(caught.value)


def test_scope_for_file_both_editable_and_frozen():
    with pytest.raises(ConfigError) as caught:
        scope_for(_config(editable=["src/*.py"], frozen=["src/util.py"]), FILES)

    assert caught.value.field == "frozen"
    assert "src/util.py is also editable" in str(caught.value)


@pytest.mark.parametrize("editable", [[".gitignore"], ["overnight.yaml"], ["*.yaml", ".git*"]])
def test_scope_for_editable_matching_only_always_frozen_files(editable):
    with pytest.raises(ConfigError) as caught:
        scope_for(_config(editable=editable), FILES)

    assert caught.value.field == "editable"
    assert "always frozen" in str(caught.value)


def test_scope_for_program_file_must_exist():
    with pytest.raises(ConfigError) as caught:
        scope_for(_config(program="missing.md"), ["train.py", "prepare.py"])

    assert str(caught.value) == "overnight.yaml: program: 'missing.md' is not a file in the tree"
    scope_for(_config(program="program.md"), ["train.py", "prepare.py", "program.md"])


def test_scope_for_uses_the_given_config_file_name():
    with pytest.raises(ConfigError) as caught:
        scope_for(_config(editable=["missing.py"]), FILES, config_file="sub/overnight.yaml")

    assert str(caught.value).startswith("sub/overnight.yaml: editable[0]: ")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("name: t\neditable: [a\n", "overnight.yaml: line "),
        (
            yaml.safe_dump(with_changes(evaluate__timeout="soon")),
            "overnight.yaml: evaluate.timeout: expected a number, got 'soon'",
        ),
    ],
)
def test_cli_eval_on_bad_config_exits_2_with_one_line(tmp_path, text, expected):
    (tmp_path / CONFIG_NAME).write_text(text)
    env = {**os.environ, "COLUMNS": "40"}
    result = subprocess.run(
        [sys.executable, "-c", "from overnight.cli import main; main()", "eval", str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )

    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert expected in lines[0]
    assert "Traceback" not in result.stderr + result.stdout


def test_cli_eval_without_config_exits_2(tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", "from overnight.cli import main; main()", "eval", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 2
    assert len(result.stderr.splitlines()) == 1
    assert str(Path(tmp_path) / CONFIG_NAME) in result.stderr
    assert "Traceback" not in result.stderr


def test_workers_and_resources_default_to_one_worker_with_no_gpu_unpinned(tmp_path):
    config = load_config(write(tmp_path, VALID))

    assert config.workers == 1
    assert (config.resources.gpus, config.resources.cpus) == (0, None)


def test_workers_and_resources_load(tmp_path):
    config = load_config(
        write(tmp_path, {**VALID, "workers": 4, "resources": {"gpus": 2, "cpus": 8}})
    )

    assert config.workers == 4
    assert (config.resources.gpus, config.resources.cpus) == (2, 8)


def test_the_executor_is_local_unless_ray_is_asked_for(tmp_path):
    assert load_config(write(tmp_path, VALID)).executor.kind == "local"
    ray = {"kind": "ray", "address": "10.0.0.1:6379", "resources": {"big": 1}}
    config = load_config(write(tmp_path, {**VALID, "executor": ray}))

    assert config.executor.kind == "ray"
    assert (config.executor.address, config.executor.cpus) == ("10.0.0.1:6379", 1)
    assert config.executor.resources == {"big": 1}


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"workers": 0}, "workers", "must be at least 1, got 0"),
        ({"workers": 65}, "workers", "must be at most 64, got 65"),
        ({"workers": "many"}, "workers", "expected a whole number, got 'many'"),
        ({"resources__gpus": -1}, "resources.gpus", "must be at least 0, got -1"),
        ({"resources__cpus": 0}, "resources.cpus", "must be at least 1, got 0"),
        ({"resources__gpu": 1}, "resources.gpu", "unknown field"),
        ({"resources": [1]}, "resources", "expected a mapping, got [1]"),
        ({"executor__kind": "slurm"}, "executor", "slurm"),
        ({"executor": {"kind": "ray", "cpus": -1}}, "executor.ray.cpus", "at least 0"),
        ({"executor": {"kind": "ray", "start_timeout": 0}}, "executor.ray.start_timeout", ""),
    ],
)
def test_invalid_workers_or_resources_is_named_in_one_line(tmp_path, changes, field, message):
    error = config_error(tmp_path, with_changes(**changes))

    assert error.field == field
    assert message in error.message
    assert str(error).startswith(f"{CONFIG_NAME}: {field}: ")
