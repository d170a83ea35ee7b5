"""gra's version (``gra.__version__``)."""

__version__ = "0.1.0"
