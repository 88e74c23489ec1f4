"""Notebook-facing objects: :class:`Lab`, its nodes and containers, in docker-py's words."""
