"""The run engine: places a validated playbook's orders exactly once, waits and judges."""
