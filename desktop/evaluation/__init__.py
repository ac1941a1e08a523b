"""Evaluation: eval sets, runs, metrics, the judge, retrieval sweeps, comparison."""
