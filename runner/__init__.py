"""qfex-runner: run reviewed QFEX order playbooks safely (validate, plan, run, report)."""

__version__ = "0.1.0"
