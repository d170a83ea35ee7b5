"""gra: training data for large language models, from a council of small ones."""

__version__ = "0.1.0"
