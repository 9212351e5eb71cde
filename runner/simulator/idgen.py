"""Seeded identifiers: the same seed gives the same order ids, trade ids and stop ids on every run."""

from __future__ import annotations

import random
import uuid


class IdGen:
    """UUID v4-shaped ids drawn from a seeded PRNG (tests can predict them; `uuid.UUID` parses them)."""

    __slots__ = ("_bits",)

    def __init__(self, seed: int, stream: str) -> None:
        self._bits = random.Random(f"qfex-sim:{seed}:{stream}").getrandbits

    def uuid4(self) -> str:
        return str(uuid.UUID(int=self._bits(128), version=4))
