"""Step 0, prepare: the model folder and seeded samples of real labelled text (the demo's)."""
