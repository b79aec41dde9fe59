"""promptfoo's provider ids (``openai:gpt-4o-mini``) as litellm's names (``openai/gpt-4o-mini``).

Only providers that speak to a model through an API litellm also speaks are translated; a
script, an HTTP endpoint or a JavaScript provider has no litellm name, and the importer lists it.
"""

from __future__ import annotations

# promptfoo prefix -> litellm prefix; the rest of the id is the model name. Longer prefixes
# are tried first, so ``openai:chat:`` wins over ``openai:``.
_PREFIXES = {
    "openai:chat:": "openai/",
    "openai:responses:": "openai/",
    "openai:": "openai/",
    "anthropic:messages:": "anthropic/",
    "anthropic:": "anthropic/",
    "ollama:chat:": "ollama_chat/",
    "ollama:completion:": "ollama/",
    "ollama:": "ollama/",
    "azure:chat:": "azure/",
    "azureopenai:chat:": "azure/",
    "bedrock:": "bedrock/",
    "vertex:": "vertex_ai/",
    "google:": "gemini/",
    "mistral:": "mistral/",
    "groq:": "groq/",
    "openrouter:": "openrouter/",
    "deepseek:": "deepseek/",
    "togetherai:": "together_ai/",
    "perplexity:": "perplexity/",
    "cohere:": "cohere/",
    "xai:": "xai/",
    "fireworks:": "fireworks_ai/",
    "huggingface:text-generation:": "huggingface/",
    "litellm:": "",
}
# Prefixes whose model names never hold a colon: ``openai:assistant:x`` is another kind of
# provider, not the model ``assistant:x``. (Ollama and Bedrock names may hold one: llama3:8b.)
_NO_COLON = ("openai:", "anthropic:", "google:", "vertex:", "mistral:", "groq:")


def litellm_name(provider: str) -> str | None:
    """The litellm model name for a promptfoo provider id, or None when there is none."""
    for prefix in sorted(_PREFIXES, key=len, reverse=True):
        if provider.startswith(prefix):
            model = provider.removeprefix(prefix)
            if not model or (prefix in _NO_COLON and ":" in model):
                return None
            return _PREFIXES[prefix] + model
    return None
