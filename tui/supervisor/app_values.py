"""What the app codec (``codec.AppCodec``) hands back and takes: the app's values as described
by its helper process (:class:`AppValue`), a message built as one of its classes
(:class:`Pickled`), the app named on the command line (:class:`AppSpec`), and its errors.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..data.decode import Undecodable

__all__ = ["AppSpec", "AppValue", "CodecError", "Pickled"]


class CodecError(Exception):
    """The app codec could not do it; the message is one line, fit for a screen."""


@dataclass(frozen=True)
class AppSpec:
    """Where the app's code is: a script (``app.py``) or a directory and a module in it."""

    path: str
    module: str | None = None

    def check(self) -> str:
        """What is wrong with it before anything is started ('' if nothing)."""
        p = Path(self.path)
        if p.is_file():
            return "--app-module goes with a directory, not a file" if self.module else ""
        if p.is_dir():
            return "" if self.module else f"{self.path} is a directory: add --app-module NAME"
        return f"--app-path {self.path}: no such file or directory"

    @property
    def label(self) -> str:
        return self.module or Path(self.path).stem


@dataclass(frozen=True)
class AppValue:
    """One of the app's objects, as the helper described it: class name and fields."""

    type_name: str
    fields: dict[str, Any] | None = field(default=None, hash=False)
    #: ``repr`` of a value without fields; ``str`` of an exception.
    repr_text: str = ""
    text: str = ""
    error: bool = False

    @property
    def short_name(self) -> str:
        return self.type_name.rsplit(".", 1)[-1]

    def __repr__(self) -> str:
        if self.fields is None:
            if self.error:
                return f"{self.short_name}({self.text!r})"
            return self.repr_text or f"<{self.type_name}>"
        inner = ", ".join(f"{k}={v!r}" for k, v in self.fields.items())
        return f"{self.short_name}({inner})"

    def __str__(self) -> str:
        if self.error:  # as an exception is shown: "Name: message"
            return f"{self.short_name}: {self.text}" if self.text else self.short_name
        return repr(self)


def _value(desc: Any) -> Any:
    """A helper description as values shown here (objects become AppValue)."""
    if isinstance(desc, list):
        return [_value(v) for v in desc]
    if not isinstance(desc, dict):
        return desc
    if "$class" not in desc:
        return {k: _value(v) for k, v in desc.items()}
    name, fields = str(desc["$class"]), desc.get("fields")
    if name == "builtins.dict" and isinstance(fields, dict):
        return {k: _value(v) for k, v in fields.items()}
    if name == "builtins.float":
        return float(str(desc.get("repr", "nan")))
    return AppValue(
        type_name=name,
        fields={str(k): _value(v) for k, v in fields.items()} if isinstance(fields, dict) else None,
        repr_text=str(desc.get("repr", "")),
        text=str(desc.get("text", "")),
        error="text" in desc,
    )


class Pickled:
    """A message the helper pickled as the app's class, to hand to ``DBOSClient.send``.

    The client pickles what it sends; this pickles as ``pickle.loads(<the app's bytes>)``, so the
    app's ``recv`` gets its own object back. This process never unpickles those bytes.
    """

    def __init__(self, data: bytes, label: str) -> None:
        self.data = data
        self.label = label

    def __reduce__(self) -> tuple[Any, tuple[bytes]]:
        return (pickle.loads, (self.data,))

    def __repr__(self) -> str:
        return self.label


def _collect(value: Any, out: list[Undecodable]) -> None:
    if isinstance(value, Undecodable):
        if value.raw and value.serialization != "portable_json":
            out.append(value)
    elif isinstance(value, dict):
        for v in value.values():
            _collect(v, out)
    elif isinstance(value, list | tuple):
        for v in value:
            _collect(v, out)


def _replace(value: Any, table: dict[str, Any]) -> Any:
    if isinstance(value, Undecodable):
        return table.get(value.raw, value)
    if isinstance(value, dict):
        return {k: _replace(v, table) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_replace(v, table) for v in value)
    return value


class _Failed(Exception):
    pass


_NOT_DECODED = object()
