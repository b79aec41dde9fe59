"""One module per coding-agent CLI, each defining ``PRESET``; ``presets.PRESETS`` names them."""
