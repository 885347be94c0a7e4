"""PromptLab: design, score, compare and tune prompts for language models."""

__version__ = "0.1.0"
