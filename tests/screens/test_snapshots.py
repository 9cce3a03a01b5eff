"""SVG snapshots of every screen and dialog (canned data, fixed clock; see
tests/support/screenshots.py).

Update on purpose, after looking at the pictures:
`pytest tests/screens/test_snapshots.py --snapshot-update`.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.screenshots import SHOTS, Shot, canned_app


@pytest.mark.parametrize("shot", SHOTS, ids=[s.name for s in SHOTS])
def test_screen(snap_compare: Any, shot: Shot) -> None:
    app = canned_app(empty=shot.empty)
    if shot.theme:
        app.theme = shot.theme
    assert snap_compare(app, run_before=shot.run_before, terminal_size=shot.size)
