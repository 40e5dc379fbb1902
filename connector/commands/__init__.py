"""CLI commands, one module per group."""
