"""Evaluation: the last step of both pipelines (classifiers for Pipeline A, debiasing for B).

Pipeline A step 7 (`synthpack eval mlp`): `data` reads labelled texts, `classifier` is the fast
TF-IDF/MiniLM MLP, `metrics` holds the pure metric maths (bootstrap intervals, paired tests)
and `mlp_report` runs the real-vs-augmented comparison.
"""
