"""Backends decide how a model is called; see ``base.Backend``."""

from gra.models.backends.base import Backend, ChatRequest, ChatResponse

__all__ = ["Backend", "ChatRequest", "ChatResponse"]
