"""Parlons on one machine: a private Redis, the sandboxes of the outside systems, the demo shop."""
