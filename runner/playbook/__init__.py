"""The playbook language: a YAML file becomes a validated, planned playbook, offline."""
