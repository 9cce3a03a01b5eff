"""The dashboard's screens driven by Pilot against real runs, and the SVG snapshots of every
screen (``__snapshots__``)."""
