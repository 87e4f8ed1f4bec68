"""The downstream moderation classifier: `features` (TF-IDF or MiniLM) and `mlp` (2 x 600)."""
