"""The bench scripts' quick modes (smoke tests; the figures come from the full runs)."""
