"""Evaluation: the last step of both pipelines (classifiers for Pipeline A, debiasing for B)."""
