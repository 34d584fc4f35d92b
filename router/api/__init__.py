"""The HTTP API: a thin shell around the Router."""
