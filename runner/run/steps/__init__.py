"""Steps besides orders (playbook `step:`): the dispatcher, their context, one module per kind."""
