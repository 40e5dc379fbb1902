"""Parlons' Flask application: HTTP edges, queues and job entry points, CLI."""

from connector.app import create_app

__all__ = ["create_app"]
