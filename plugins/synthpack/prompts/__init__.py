"""Step 1, render: the pack's Jinja templates, its harm categories and the prompt sets.

`templates` renders prompt text, `categories` reads the category files (and `scaffold` adds a
new one), `render` samples few-shot examples from the seeds and writes prompt sets.
"""
