"""The activation benchmark's data (tests/data/activation_benchmark): real skills' front matter
and labelled queries that must load as a triggers project, so the benchmark never measures a
broken file."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import yaml

from overnight.activation.skills import read_skill, without_description
from overnight.config import CONFIG_NAME, TriggersEvaluateConfig, load_config

DATA = Path(__file__).parent.parent / "data" / "activation_benchmark"
MIN_SKILLS = 12
MIN_PER_SKILL = 8
MIN_NEGATIVES = 25


@pytest.fixture(scope="module")
def evaluate() -> TriggersEvaluateConfig:
    config = load_config(DATA / CONFIG_NAME).evaluate
    assert isinstance(config, TriggersEvaluateConfig)
    return config


def test_every_skill_parses_and_is_listed(evaluate: TriggersEvaluateConfig) -> None:
    on_disk = sorted(str(path.relative_to(DATA)) for path in DATA.glob("skills/*/SKILL.md"))
    assert sorted(evaluate.skills) == on_disk
    assert len(on_disk) >= MIN_SKILLS
    for path in on_disk:
        skill = read_skill(DATA / path)
        assert skill.name == Path(path).parent.name
        assert 0 < len(skill.description) <= evaluate.max_description


def test_only_name_and_description_are_kept_with_a_one_line_body() -> None:
    for path in DATA.glob("skills/*/SKILL.md"):
        front = path.read_text(encoding="utf-8").split("---\n")[1]
        assert set(yaml.safe_load(front)) == {"name", "description"}, path
        body = without_description(path).split("---\n", 2)[2].strip()
        assert len(body.splitlines()) == 1 and "github.com/" in body, path


def test_queries_are_labelled_with_known_skills_and_near_misses(
    evaluate: TriggersEvaluateConfig,
) -> None:
    names = {read_skill(DATA / path).name for path in evaluate.skills}
    labels = Counter(query.skill for query in evaluate.queries)
    assert set(labels) - {None} == names
    assert min(labels[name] for name in names) >= MIN_PER_SKILL
    assert labels[None] >= MIN_NEGATIVES
    assert len(evaluate.queries) >= 100 + MIN_NEGATIVES


def test_every_source_is_named() -> None:
    sources = (DATA / "SOURCES.md").read_text(encoding="utf-8")
    for path in DATA.glob("skills/*/SKILL.md"):
        assert f"| {path.parent.name} |" in sources
