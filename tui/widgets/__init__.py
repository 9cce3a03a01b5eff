"""Widgets (they never import DBOS)."""
