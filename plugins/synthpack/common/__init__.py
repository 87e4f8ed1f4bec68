"""What every step shares: the step contract (`step`), files, the list-of-problems type, the
vocabularies (`labels`, `reasons`, `text`), metric maths, tables, plots, paths, errors.

Nothing here imports a model library or click, so any step (and its tests) can use it cheaply.
"""
