"""The local QFEX-compatible exchange: a real WebSocket server faithful to QFEX's trade API docs.

`Simulator` (api.py) runs it in the background for tests and `run --target sim`; `qfex-runner sim`
runs it standalone. The engine (`engine.Exchange`) matches orders; the server (`server.py`) owns
the wire. Importing this package is cheap: `websockets` and the engine load on `start()`.
"""

from runner.simulator.api import Simulator, SimulatorError
from runner.simulator.server_config import CompatOptions, FaultConfig, RateLimitConfig, ServerConfig

__all__ = ["CompatOptions", "FaultConfig", "RateLimitConfig", "ServerConfig", "Simulator", "SimulatorError"]
