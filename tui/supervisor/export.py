"""Export a run, the data part: :func:`gather` reads one document's worth of a run from the
data layer's reads (``Source.detail``, ``Source.run_values``, ``Source.read_streams``), so any
``Source`` exports, the canned one included, and a foreign app's runs as well as ours.
:class:`ExportReads` is the one read the export adds to ``Supervisor`` (mixed in there): the
run's decoded inputs and each step's decoded output, which ``detail`` only summarises.

Rendering the gathered :class:`RunExport` as Markdown or JSON, with secrets redacted, and writing
it to a file is ``tui.export_doc``'s (pure functions, no I/O but the file).
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import enum
import math
import time
from collections.abc import Awaitable, Mapping
from typing import TYPE_CHECKING, Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from workflows.models import STREAM_KEY

from ..data import runs
from ..data.decode import Undecodable
from .codec import AppValue
from .models import RunDetail
from .threads import in_thread

if TYPE_CHECKING:
    from .codec import AppCodec
    from .contract import Source
    from .engine import SQL

__all__ = [
    "FORMATS",
    "JSON_FORMAT",
    "ExportFormat",
    "ExportReads",
    "RunExport",
    "RunValues",
    "StreamDump",
    "gather",
    "jsonable",
]

ExportFormat = Literal["md", "json"]
FORMATS: tuple[ExportFormat, ...] = ("md", "json")
#: The JSON document's format tag (a consumer checks it before reading the rest).
JSON_FORMAT = "agentdeck.run-export/1"
#: Children whose step outputs are read for their Claude usage (a compare has 2-4, a research
#: run up to 10; a foreign app's fan-out may have thousands: the rest are listed only).
MAX_CHILD_VALUES = 100
#: Stream entries read per stream key (a run that streamed more says the export was cut).
MAX_STREAM_ENTRIES = 100_000


#: Each step's decoded output, by function id (``operation_outputs``; one statement).
class _Snap(BaseModel):
    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)


class RunValues(_Snap):
    """A run's decoded inputs (``{"args": …, "kwargs": …}``) and each step's decoded output by
    function id; values this process cannot decode are placeholders (or the app's objects,
    decoded by ``--app-path``)."""

    workflow_id: str
    inputs: Any = None
    step_outputs: dict[int, Any] = Field(default_factory=dict)


class StreamDump(_Snap):
    """Every entry of one stream key of a run, in order."""

    key: str
    #: agentdeck's own stream: the chunks as JSON; any other stream: ``{"offset", "value"}``.
    entries: tuple[Any, ...] = ()
    closed: bool = False
    #: More than MAX_STREAM_ENTRIES were written: only the first ones are here.
    cut: bool = False


class RunExport(_Snap):
    """Everything an export shows about one run (gathered once, rendered as either format)."""

    detail: RunDetail
    values: RunValues
    streams: tuple[StreamDump, ...] = ()
    #: Children's step outputs (their Claude usage), for the first MAX_CHILD_VALUES children.
    children_values: dict[str, RunValues] = Field(default_factory=dict)
    exported_at: float


# --------------------------------------------------------------------------------------------
# The read the export adds to the data layer


class _Host(Protocol):
    codec: AppCodec | None

    @property
    def sql(self) -> SQL: ...

    async def _call(self, what: str, coro: Awaitable[Any]) -> Any: ...


class ExportReads:
    """``run_values`` for ``Supervisor`` (mixed in): decoded inputs and step outputs."""

    async def run_values(self: _Host, workflow_id: str) -> RunValues:
        """The run's decoded inputs and every step's decoded output, in a worker thread."""
        sql = self.sql

        def read() -> tuple[Any, dict[int, Any]]:
            inputs, _output, _error = sql.payload(workflow_id)
            return inputs, sql.with_db(lambda db: runs.run_step_outputs(db, workflow_id))

        inputs, steps = await self._call("read inputs and step outputs", in_thread(read))
        if self.codec is not None:  # the app's classes, decoded by its own code (bounded)
            inputs, steps = await self.codec.resolve((inputs, steps))
        return RunValues(workflow_id=workflow_id, inputs=inputs, step_outputs=steps)


# --------------------------------------------------------------------------------------------
# Gathering


async def gather(source: Source, workflow_id: str, *, now: float | None = None) -> RunExport:
    """Read everything the export shows about ``workflow_id`` (a full id) from ``source``."""
    detail = await source.detail(workflow_id)
    values = await source.run_values(workflow_id)
    streams = []
    for key in (STREAM_KEY, *detail.other_streams):
        dump = await _read_stream(source, workflow_id, key)
        if dump.entries or dump.closed or key != STREAM_KEY:
            streams.append(dump)
    kids = {}
    for child in detail.children[:MAX_CHILD_VALUES]:
        kids[child.workflow_id] = await source.run_values(child.workflow_id)
    return RunExport(
        detail=detail,
        values=values,
        streams=tuple(streams),
        children_values=kids,
        exported_at=time.time() if now is None else now,
    )


async def _read_stream(source: Source, workflow_id: str, key: str) -> StreamDump:
    """Every entry of one stream, page by page (``read_streams`` returns a bounded page)."""
    entries: list[Any] = []
    offset, closed = 0, False
    while len(entries) <= MAX_STREAM_ENTRIES:  # one past the limit: whether there is more
        batches = [
            b
            for b in await source.read_streams({workflow_id: offset}, key=key)
            if b.workflow_id == workflow_id
        ]
        if not batches or batches[0].next_offset <= offset:
            break
        batch = batches[0]
        entries += [c.model_dump(mode="json") for c in batch.chunks]
        entries += [{"offset": off, "value": jsonable(v)} for off, v in batch.values]
        closed = closed or batch.closed
        offset = batch.next_offset
    cut = len(entries) > MAX_STREAM_ENTRIES
    return StreamDump(key=key, entries=tuple(entries[:MAX_STREAM_ENTRIES]), closed=closed, cut=cut)


def jsonable(value: Any, _depth: int = 0) -> Any:
    """A decoded value as JSON data: models, dataclasses and the app's objects as objects
    with their ``__class__``; placeholders, exceptions and anything else as text."""
    if _depth > 60:
        return "…"
    d = _depth + 1
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, enum.Enum):
        return jsonable(value.value, d)
    if isinstance(value, BaseModel):
        dumped = value.model_dump(mode="json")
        return {"__class__": type(value).__name__, **dumped}
    if isinstance(value, AppValue):
        if value.fields is None:
            if value.error:
                return {"__class__": value.type_name, "error": value.text}
            return str(value)
        fields = {str(k): jsonable(v, d) for k, v in value.fields.items()}
        return {"__class__": value.type_name, **fields}
    if isinstance(value, Undecodable):
        return str(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        attrs = {f.name: jsonable(getattr(value, f.name), d) for f in dataclasses.fields(value)}
        return {"__class__": type(value).__name__, **attrs}
    if isinstance(value, Mapping):
        return {str(k): jsonable(v, d) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v, d) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted((jsonable(v, d) for v in value), key=repr)
    if isinstance(value, (bytes, bytearray)):
        return {"__bytes_base64__": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, BaseException):
        return f"{type(value).__name__}: {value}" if str(value) else type(value).__name__
    return str(value)
