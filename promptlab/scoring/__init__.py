"""Scores of rendered Examples: metrics, per-row evaluation, and the experiment road from a template, rows, shots
and seeds to a Report. Imports torch only when a model runs."""
