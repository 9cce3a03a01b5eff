"""The output pane: one view, one document per source, switched without wrapping what is hidden."""

from __future__ import annotations

from typing import Any

from rich.style import Style
from rich.text import Span, Text
from textual.app import App, ComposeResult

from tui.widgets.output import OutputPane


class Counting(OutputPane):
    wrapped: int = 0

    def rows(self, line: Text, width: int) -> Any:  # (what a document wraps a line with)
        self.wrapped += 1
        return super().rows(line, width)


class PaneApp(App[None]):
    def compose(self) -> ComposeResult:
        yield Counting(id="pane")


def lines(prefix: str, n: int) -> list[tuple[str, str | Style]]:
    return [(f"{prefix} line {i}\n", "") for i in range(n)]


async def test_a_hidden_document_is_wrapped_after_the_paint_not_on_the_key() -> None:
    app = PaneApp()
    async with app.run_test(size=(60, 12)) as pilot:
        pane = app.query_one(Counting)
        pane.view_for("run").append_many(lines("run", 50))
        await pilot.pause()
        assert pane.wrapped >= 50
        pane.wrapped = 0
        child = pane.view_for("child")
        child.append_many(lines("child", 200))
        assert pane.wrapped == 0 and child.line_count == 201  # kept, not wrapped yet
        await pilot.pause()
        assert pane.wrapped == 201  # wrapped once the screen was painted
        pane.select("child")  # what a key on the timeline does: nothing left to wrap
        await pilot.pause()
        assert pane.wrapped == 201
        assert "child line 199" in "".join(pane.render_line(y).text for y in range(12))
        # Appending to the shown document wraps only the line appended to and the new ones.
        pane.wrapped = 0
        child.append_many(lines("more", 1)[:1])
        assert pane.wrapped == 2  # "more line 0" joined the last line; a new empty one began


async def test_each_document_keeps_its_place_and_the_tail_is_followed() -> None:
    app = PaneApp()
    async with app.run_test(size=(60, 12)) as pilot:
        pane = app.query_one(Counting)
        run = pane.view_for("run")
        run.append_many(lines("run", 100))
        await pilot.pause()
        assert pane.scroll_y == pane.max_scroll_y > 0  # following the tail
        pane.scroll_to(y=10, animate=False, immediate=True)
        pane.view_for("child").append_many(lines("child", 30))
        pane.select("child")
        await pilot.pause()
        assert pane.scroll_y == pane.max_scroll_y  # a new document starts at its tail
        run.append_many(lines("later", 5))  # arrives while hidden
        pane.select("run")
        await pilot.pause()
        assert pane.scroll_y == 10  # where the user left it: scrolled up, not following
        assert "later line 4" in run.plain


async def test_the_tail_is_still_followed_when_the_view_gets_shorter() -> None:
    """Found by bench/soak.py: when a pane above the output grew (the run's timeline gaining a
    row), the view was two rows short of its tail, stopped following, and was carried to the top
    of the document by the trims that followed."""
    app = PaneApp()
    async with app.run_test(size=(60, 12)) as pilot:
        pane = app.query_one(Counting)
        run = pane.view_for("run")
        run.append_many(lines("run", 100))
        await pilot.pause()
        assert pane.following
        pane.styles.height = 8  # what a pane growing above it does to its height
        await pilot.pause()
        assert pane.following and pane.scroll_y == pane.max_scroll_y > 0
        run.append_many(lines("later", 5))
        await pilot.pause()
        assert "later line 4" in "".join(pane.render_line(y).text for y in range(8))


class FindApp(App[None]):
    def compose(self) -> ComposeResult:
        from tui.widgets.find import FindBar

        pane = OutputPane(id="pane")
        yield pane
        yield FindBar(pane, id="find")


async def test_find_marks_matches_in_turn_and_wraps_round() -> None:
    from textual.widgets import Static

    from tui.widgets.find import FindBar

    app = FindApp()
    async with app.run_test(size=(60, 12)) as pilot:
        pane = app.query_one(OutputPane)
        doc = pane.view_for("run")
        doc.append_many(lines("run", 200))
        doc.append_many([("the NEEDLE once\n", ""), ("tail\n", "")])
        doc.append_many([('a needle twice, [b]="markup"\n', "")])
        await pilot.pause()
        assert pane.scroll_y == pane.max_scroll_y  # following the tail
        bar = app.query_one(FindBar)
        bar.open()
        status = bar.query_one("#find-status", Static)
        await pilot.press(*"needle")
        # From the top of the view (the tail): the first match below it, then round again.
        assert pane.mark is not None and "needle" in doc.line(pane.mark[0]).plain.lower()
        first = pane.mark[0]
        await pilot.press("enter")
        second = pane.mark[0]
        assert second != first and str(status.render()) in ("1/2", "2/2")
        await pilot.press("enter")
        assert pane.mark[0] == first  # wrapped round
        await pilot.press("up")
        assert pane.mark[0] == second
        # The view scrolled to it: the marked line is on screen, its match highlighted.
        row = doc.first_row(second)
        assert row is not None and pane.scroll_y <= row < pane.scroll_y + pane.size.height
        strip = pane.render_line(row - int(pane.scroll_y))
        assert any(seg.style and seg.style.reverse for seg in strip if "needle" in seg.text)
        await pilot.press(*"zzz")
        assert pane.mark is None and "no match" in str(status.render())
        await pilot.press("escape")
        assert not bar.display and pane.mark is None


class BranchesApp(App[None]):
    def compose(self) -> ComposeResult:
        from tui.widgets.branches import BranchesPane

        yield BranchesPane(id="branches")


def batch(wid: str, text: str, offset: int) -> Any:
    from tui.supervisor import StreamBatch
    from workflows.models import ChunkKind, ChunkPart, StreamChunk

    chunk = StreamChunk(
        step_id=1,
        step_name="answer",
        attempt=1,
        seq=offset,
        parts=(ChunkPart(kind=ChunkKind.TEXT, text=text),),
    )
    return StreamBatch(workflow_id=wid, chunks=(chunk,), next_offset=offset + 1)


async def test_a_branch_that_streams_before_its_run_is_named_loses_nothing() -> None:
    """A fast branch can stream, even finish, before the compare run's detail names its
    workflow: its column still shows all of it (a flaky CI run found the gap)."""
    from tui.supervisor import BranchRow
    from tui.widgets.branches import BranchesPane

    app = BranchesApp()
    async with app.run_test(size=(120, 30)) as pilot:
        pane = app.query_one(BranchesPane)
        pane.show((BranchRow(label="A", model="m1", style="concise"),), "", 0.0)
        await pilot.pause()
        assert not pane.feed(batch("run-A", "early words ", 0))  # no column knows run-A yet
        named = (BranchRow(label="A", model="m1", style="concise", workflow_id="run-A"),)
        pane.show(named, "", 0.0)
        assert pane.feed(batch("run-A", "later words", 1))
        await pilot.pause()
        assert "early words later words" in pane.columns["A"].pane.view_for("run-A").plain
        # Every branch named: runs with no column (the compare run's own) are not kept.
        assert not pane.feed(batch("the-run", "x", 0)) and pane._pending is None


async def test_a_long_stream_keeps_memory_bounded_and_the_reader_in_place() -> None:
    """Issue #18 item 3: a document keeps at most ``max_lines`` lines (the stream in the
    database keeps them all); trimming wraps nothing again, the tail is still followed, and a
    reader scrolled up keeps the same line under their eyes."""
    app = PaneApp()
    async with app.run_test(size=(60, 12)) as pilot:
        pane = app.query_one(Counting)
        pane.max_lines = 2_000
        run = pane.view_for("run")
        total = 0
        for _ in range(100):  # 100,000 lines in batches of 1,000
            run.append_many(lines(f"b{total // 1000}", 1000))
            total += 1000
        await pilot.pause()
        assert run.line_count <= 2_000
        assert run.dropped + run.line_count == total + 1  # the empty line being written
        # Each line was wrapped once, trims included: the cost does not grow with the stream.
        assert pane.wrapped <= total + 200
        shown = "".join(pane.render_line(y).text for y in range(12))
        assert "b99 line 999" in shown  # following the tail
        # Scroll up and note the line at the top; trims keep it there.
        pane.auto_follow = False
        pane.scroll_to(y=1_500, animate=False)
        await pilot.pause()
        top, dropped = pane.render_line(0).text, run.dropped
        for _ in range(2):
            run.append_many(lines("later", 300))
        await pilot.pause()
        assert run.line_count <= 2_000 and run.dropped > dropped  # trimmed meanwhile
        assert pane.render_line(0).text == top


async def test_the_scrollbar_is_repainted_when_its_thumb_moves_not_at_every_page() -> None:
    """Paging through thousands of rows moves a short bar's thumb by less than an eighth of a
    cell a page: Textual's ScrollBar repainted it at each (2 ms of a 6 ms frame, bench/soak.py)."""
    from textual.geometry import Region

    app = PaneApp()
    async with app.run_test(size=(60, 12)) as pilot:
        pane = app.query_one(Counting)
        pane.view_for("run").append_many(lines("run", 5000))
        pane.focus()
        await pilot.pause()
        pane.scroll_to(y=2000, animate=False, immediate=True)
        await pilot.pause()
        bar = pane.vertical_scrollbar
        assert bar.display
        refreshed: list[object] = []
        original = bar.refresh

        def counting(*args: Any, **kwargs: Any) -> Any:
            refreshed.append(args)
            return original(*args, **kwargs)

        bar.refresh = counting  # type: ignore[method-assign]

        def shown_and_drawn() -> tuple[list[str], list[str]]:
            region = Region(0, 0, bar.size.width, bar.size.height)
            shown = [repr(list(s)) for s in bar.render_lines(region)]  # (its cache, if kept)
            bar._styles_cache.clear()
            drawn = [repr(list(s)) for s in bar.render_lines(region)]
            return shown, drawn

        # 5,000 rows on a bar of 12 cells (96 eighths): a row moves the thumb 0.02 of an eighth.
        pane.scroll_to(y=2001, animate=False, immediate=True)
        await pilot.pause()
        assert refreshed == []  # the thumb did not move on screen
        shown, drawn = shown_and_drawn()
        assert shown == drawn
        pane.scroll_to(y=0, animate=False, immediate=True)
        await pilot.pause()
        assert refreshed  # the top: it did
        shown, drawn = shown_and_drawn()
        assert shown == drawn


async def test_kept_lines_and_rows_are_not_walked_by_the_garbage_collector() -> None:
    """A full pass of Python's cyclic GC walks every tracked object: the kept lines (a Text, its
    lists and spans) and their rows (Segments) were most of the process's, 120 ms a pass in the
    soak. Finished lines are kept as strings and ints, which the GC stops tracking; the line
    being written stays a Text. Their styles come back as they were appended."""
    import gc

    app = PaneApp()
    async with app.run_test(size=(60, 12)) as pilot:
        pane = app.query_one(Counting)
        doc = pane.view_for("run")
        red = Style(color="red")
        first: list[tuple[str, str | Style]] = [("plain ", ""), ("dim", "dim"), (" red\n", red)]
        doc.append_many(first + lines("run", 100))
        doc.append_many([("being written", "bold")])
        await pilot.pause()
        gc.collect()
        gc.collect()  # (a pass untracks a tuple whose items are untracked: nested, two passes)
        assert doc.line_count == 102
        assert not any(gc.is_tracked(doc._lines[i]) for i in range(doc.line_count - 1))
        assert not any(gc.is_tracked(rows) for rows in doc._wrapped)
        expected = Text()
        expected.append("plain ")
        expected.append("dim", style="dim")
        expected.append(" red", style=red)
        assert doc.line(0).plain == expected.plain and doc.line(0).spans == expected.spans
        assert doc.line(101).plain == "being written"
        doc.append_many([(" on\nnext", "")])  # the last line is appended to, then finished
        assert doc.line(101).plain == "being written on" and doc.line(102).plain == "next"
        assert doc.line(101).spans == [Span(0, 13, "bold")]
        assert doc.hits("WRITTEN") == [101]
