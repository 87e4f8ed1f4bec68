"""Step 1, render: the pack's Jinja templates, its harm categories and the prompt sets.

`templates` renders prompt text, `categories` reads the category files (and `scaffold` adds a
new one), `pools` reads a category's seed texts, `render` samples few-shot examples from them
and writes prompt sets (the step's runner).
"""
