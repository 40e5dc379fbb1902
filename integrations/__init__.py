"""Adapters to outside systems: one package per system, the same module names in each."""
