"""Deterministic client order ids: the key to exactly-once.

Every order and every bracket leg gets a `client_order_id` that depends only on the playbook's
`name`, its `run_id` (empty when absent), the order's `id` and the leg. It is a UUID version 5
(RFC 4122, SHA-1 name-based) in the namespace `NAMESPACE` over the name

    "{name}\\x1f{run_id}\\x1f{order_id}\\x1f{leg}"

so it is 36 printable ASCII characters, identical on every machine and every re-run, and anyone
can recompute it (e.g. `uuid.uuid5(NAMESPACE, ...)` in Python). Changing `run_id` deliberately
places the same plan again under new ids.
"""

from __future__ import annotations

import functools
import hashlib
import uuid
from enum import Enum

#: Fixed forever: changing it would make re-runs place orders again.
NAMESPACE = uuid.UUID("6f0c5c1e-9a51-5a0e-8b7b-0f1e5e2a7c31")
_SEP = "\x1f"


class Leg(str, Enum):
    """Which order of a playbook entry an id is for.

    A take-profit ladder's first level is `tp` (a one-level ladder is the plain bracket's id), its
    later levels `tp2` .. `tp10` (runner.playbook.exits; ladders have at most 10 levels).
    """

    ENTRY = "entry"
    TAKE_PROFIT = "tp"
    STOP_LOSS = "sl"
    #: a step besides orders (cancel, close_position, set_leverage, twap, ...): its journal key, and
    #: the client id QFEX carries where the step's message has one (close_position, add_twap)
    STEP = "step"
    TAKE_PROFIT_2 = "tp2"
    TAKE_PROFIT_3 = "tp3"
    TAKE_PROFIT_4 = "tp4"
    TAKE_PROFIT_5 = "tp5"
    TAKE_PROFIT_6 = "tp6"
    TAKE_PROFIT_7 = "tp7"
    TAKE_PROFIT_8 = "tp8"
    TAKE_PROFIT_9 = "tp9"
    TAKE_PROFIT_10 = "tp10"
    #: an exit plan's `close_after`: the reduce-only MARKET order that closes what is left
    CLOSE = "close"

    @classmethod
    def take_profit_level(cls, level: int) -> Leg:
        """The leg of ladder level `level` (1-based)."""
        return cls.TAKE_PROFIT if level == 1 else cls(f"tp{level}")

    @property
    def is_take_profit(self) -> bool:
        return self.value.startswith("tp")  # (CLOSE is not)


@functools.lru_cache(maxsize=1 << 16)
def client_order_id(name: str, run_id: str | None, order_id: str, leg: Leg = Leg.ENTRY) -> str:
    """The client_order_id of one leg of one playbook order (36 characters).

    Remembered: a run asks for each order's id several times while it sets up (plan, ledger,
    exactly-once lookup), and a re-run's set-up is per order, before the first send."""
    return _uuid5_text(_SEP.join((name, run_id or "", order_id, Leg(leg).value)))


_NAMESPACE_BYTES = NAMESPACE.bytes


def _uuid5_text(name: str) -> str:
    """`str(uuid.uuid5(NAMESPACE, name))` (RFC 4122 section 4.3: SHA-1, version 5, RFC variant) without
    building a `uuid.UUID` on the way: half the time, and a test keeps the two equal."""
    digest = bytearray(hashlib.sha1(_NAMESPACE_BYTES + name.encode("utf-8")).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # variant: RFC 4122
    h = digest.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def step_key(name: str, run_id: str | None, step_id: str) -> str:
    """The deterministic key of one playbook step (36 characters): its journal key, and the
    `client_order_id` / `client_twap_id` of its message where QFEX's message has one."""
    return client_order_id(name, run_id, step_id, Leg.STEP)


def change_key(name: str, run_id: str | None, order_id: str, leg: Leg | str, action: str,
               fingerprint: str) -> str:
    """The deterministic journal key of one change to a placed order (`modify`, `prune`): the same
    change of the same order gets the same key on every machine, a different change a new one."""
    key = _SEP.join((name, run_id or "", order_id, Leg(leg).value, action, fingerprint))
    return str(uuid.uuid5(NAMESPACE, key))
