"""SR_LLM's rewrite evaluation: `metrics` (pure maths per pair) and `run` (the command's runner)."""
