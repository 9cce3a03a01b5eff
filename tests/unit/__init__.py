"""Pure functions and single widgets: no DBOS runtime, no subprocess.

``pytest tests/unit`` is the quick loop (under a minute).
"""
