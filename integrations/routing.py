"""Which counterpart answers: one adapter per Prefect Block, chosen by a code from the region files.

Each corporation and care provider has its own API, each region its own zaaksysteem and e-signature service; the
region files name the block per code. An adapter is made the first time its block is needed and kept open. A code
without a block, or a block that is not there, is a refusal with a reason the coordinator can act on.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Generic, Protocol, TypeVar

from prefect.blocks.core import Block

from integrations.ports import CounterpartRefused


class Closable(Protocol):
    def close(self) -> None: ...


A = TypeVar("A", bound=Closable)
B = TypeVar("B", bound=Block)


class Adapters(Generic[B, A]):
    def __init__(
        self,
        system: str,
        blocks: Mapping[str, str],
        load_block: Callable[[str], B],
        make: Callable[[B], A],
        *,
        missing: str,
    ) -> None:
        """`blocks`: code → block name; `missing`: why a code has none, e.g. "heeft geen koppeling (api_block …)"."""
        self.system, self.blocks, self._load, self._make, self._missing = system, blocks, load_block, make, missing
        self._open: dict[str, A] = {}

    def __call__(self, code: str) -> A:
        name = self.blocks.get(code)
        if name is None:
            raise CounterpartRefused(f"{self.system}: {code} {self._missing}")
        if name not in self._open:
            try:
                block = self._load(name)
            except ValueError as exc:
                raise CounterpartRefused(f"{self.system}: block '{name}' ontbreekt ({exc})") from exc
            self._open[name] = self._make(block)
        return self._open[name]

    def close(self) -> None:
        for adapter in self._open.values():
            adapter.close()
        self._open.clear()
