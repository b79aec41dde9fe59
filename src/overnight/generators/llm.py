"""The ``llm`` generator: a model answers a prompt rendered from Jinja2 templates.

Templates see the case's variables and ``file(path)``, which returns a file of the tree (the
skill under improvement, say) as text. They are rendered in Jinja's sandbox, because a template
may itself be an editable file. The rendered messages are the cache identity: they capture the
content of every file the templates read.
"""

from __future__ import annotations

from pathlib import Path

from jinja2 import StrictUndefined, Template, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from overnight import llm
from overnight.config import CaseConfig, LLMGenerateConfig, ModelConfig
from overnight.generators.base import Generated, GenerationError, Generator, Prepared
from overnight.records import PROVIDER_DOWN


class LLMGenerator(Generator):
    def __init__(self, config: LLMGenerateConfig, root: Path) -> None:
        llm.require_litellm()
        self.config = config
        self.root = root
        self.model = ModelConfig.model_validate(
            config.model_dump(exclude={"kind", "prompt", "template", "system", "repeats"})
        )
        self.env = SandboxedEnvironment(undefined=StrictUndefined, keep_trailing_newline=True)
        self.env.globals["file"] = self._read_file
        self._compiled: dict[str, Template] = {}

    def prepare(
        self, case: CaseConfig, repeat: int, tree: str, work_dir: str, seed: int = 0
    ) -> Prepared:
        messages = self.messages(case)
        identity = {"messages": messages, "model": self.model.model_dump(), "repeat": repeat}

        def produce() -> Generated:
            try:
                completion = llm.complete(messages, self.model, purpose="generation")
            except llm.LLMError as exc:
                unreachable = exc.kind == llm.UNREACHABLE
                message = f"{PROVIDER_DOWN}: {exc}" if unreachable else str(exc)
                raise GenerationError(message) from None
            return Generated(completion.text, completion.usage, completion.finish_reason)

        return Prepared(identity, produce)

    def messages(self, case: CaseConfig) -> list[dict[str, str]]:
        """The chat messages for one case; a template problem is that case's error."""
        prompt = self.config.prompt
        if prompt is None:
            assert self.config.template is not None
            prompt = self._read_file(self.config.template)
        messages = []
        try:
            if self.config.system:
                system = self._template(self.config.system).render(case.vars)
                messages.append({"role": "system", "content": system})
            user = self._template(prompt).render(case.vars)
        except (TemplateError, GenerationError) as exc:
            raise GenerationError(f"template: {exc}") from None
        messages.append({"role": "user", "content": user})
        return messages

    def _template(self, source: str) -> Template:
        """Compiled once per distinct source: every case of a suite shares the same templates."""
        if source not in self._compiled:
            self._compiled[source] = self.env.from_string(source)
        return self._compiled[source]

    def _read_file(self, path: str) -> str:
        target = (self.root / path).resolve()
        if not target.is_relative_to(self.root) or not target.is_file():
            raise GenerationError(f"file({path!r}): no such file in the repository")
        return target.read_text(encoding="utf-8")
