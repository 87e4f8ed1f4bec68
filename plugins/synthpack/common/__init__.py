"""What every step shares: files, the list-of-problems type, labels, tables, plots, paths, errors.

Nothing here imports a model library or click, so any step (and its tests) can use it cheaply.
"""
