"""Step 4, generate: answers from a model (or LLaMA-Factory's predictions) into raw.jsonl.

`run` is the step's runner; `resumable` appends finished batches so a stopped run continues.
Models are loaded and decoded by `synthpack.models.backends`; cleaning is the next step.
"""
