"""Datasets: file readers, loading, and the row-selection policy (evaluation subsets, demonstrations)."""
