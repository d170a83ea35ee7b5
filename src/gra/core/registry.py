"""Registries: names -> things of one kind, filled by gra's built-ins the way a plugin
fills them. Backends (``gra.models.loading.BACKENDS``), embedders
(``gra.curate.embed.EMBEDDERS``), IFD scorers (``gra.ifd.scoring.SCORERS``) and packaged
models (``gra.models.registry.PACKAGED``) are each one Registry; adding one is one
``register`` call (docs/architecture.md, "Adding a backend, an embedder, a scorer or a
model")."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from gra.core.errors import UserError

T = TypeVar("T")


class Registry(Generic[T]):
    def __init__(self, kind: str):
        self.kind = kind
        self._items: dict[str, T] = {}

    def register(self, name: str, thing: T | None = None) -> Callable[[T], T] | T:
        """Add ``thing`` under ``name`` (or use as a decorator: ``@REG.register("x")``).
        A name is registered once: replacing a built-in by accident is an error."""

        def add(item: T) -> T:
            if name in self._items:
                raise ValueError(f"{self.kind} {name!r} is already registered")
            self._items[name] = item
            return item

        return add if thing is None else add(thing)

    def get(self, name: str, where: str | None = None) -> T:
        """The thing called ``name``; a one-line UserError naming the known ones if none."""
        try:
            return self._items[name]
        except KeyError:
            known = ", ".join(self._items) or "none"
            raise UserError(f"unknown {self.kind} {name!r}; known: {known}", where) from None

    def names(self) -> list[str]:
        return list(self._items)

    def items(self) -> list[tuple[str, T]]:
        return list(self._items.items())

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._items))

    def __len__(self) -> int:
        return len(self._items)
