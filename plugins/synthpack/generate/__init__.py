"""Step 4, generate: answers from a model (or LLaMA-Factory's predictions) into raw.jsonl.

`backends` loads a model and answers chat prompts in batches (Hugging Face or vLLM; the debias
evaluation uses it too), `resumable` appends finished batches so a stopped run continues,
`run` is the `synthpack generate` runner (generate, clean, write the outputs) and `augment`.
"""
