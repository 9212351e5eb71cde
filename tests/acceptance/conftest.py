"""Every simulator these tests start speaks each of QFEX's two dialects in turn (tests/dialect_kit.py)."""

from tests.dialect_kit import dialect, simulator_factory  # noqa: F401  (fixtures, by name)
