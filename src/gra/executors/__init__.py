"""Where work runs. An executor maps an async ``work(caller, item)`` over items and hands
each result to ``on_result`` in the driver (``base.Executor``); ``local`` runs it on this
process's event loop."""

from gra.executors.base import Executor, OnResult, Work
from gra.executors.local import LocalExecutor

__all__ = ["Executor", "LocalExecutor", "OnResult", "Work"]
