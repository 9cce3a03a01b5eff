"""The app codec's helper process: imports someone else's DBOS app and speaks pickle for it.

Started by ``tui.supervisor.codec.AppCodec`` as ``python -m tui.codec_worker --path P
[--module M]``, only when the operator passed ``--app-path``. Importing the app runs its
module-level code (that is why it happens here, in a process of its own, and only when asked);
``DBOS.launch`` is disabled first, so an app that launches at import fails to load instead of
running its workflows here. The dashboard's own process never unpickles the app's classes: it
gets JSON descriptions back.

Protocol: JSON lines. The first line out says whether the import worked
(``{"ready": true, "module": ..., "as_main": ..., "classes": [...]}`` or ``{"ready": false,
"error": ...}``). Then one answer per request, same ``id``:

- ``{"op": "decode", "values": [<base64 pickle>, ...]}`` → ``{"values": [{"ok": true, "value":
  <description>} | {"ok": false, "error": ...}, ...]}``. A description is JSON; an object is
  ``{"$class": "mod.Name", "fields": {...}}`` (or ``"repr"`` for values without fields, and
  ``"text"`` for exceptions).
- ``{"op": "build", "class": "Reply", "data": <JSON>}`` → ``{"pickle": <base64>, "repr": ...}``:
  an instance of the app's class, pickled as the app's own pickles name it.

The protocol has a file descriptor of its own: whatever the app prints goes to stderr.
"""

from __future__ import annotations

import argparse
import base64
import dataclasses
import enum
import importlib
import importlib.util
import io
import json
import math
import os
import pickle
import sys
import types
from pathlib import Path
from typing import IO, Any

__all__ = ["describe", "main"]

#: Bounds on one description: nesting, items per container, characters per string.
MAX_DEPTH = 12
MAX_ITEMS = 200
MAX_CHARS = 4000
#: The largest description of one value, as JSON; a larger one is shown by its class only.
MAX_JSON = 1_000_000


class _Refused(Exception):
    pass


def _no_launch(*args: Any, **kwargs: Any) -> None:
    raise _Refused(
        "the app calls DBOS.launch() when imported; agentdeck only imports app code without "
        'launching DBOS (put the launch under `if __name__ == "__main__":`)'
    )


def _guard_dbos() -> None:
    """Make ``DBOS.launch`` refuse, if DBOS is installed here at all."""
    if importlib.util.find_spec("dbos") is None:
        return
    import dbos

    dbos.DBOS.launch = staticmethod(_no_launch)  # type: ignore[method-assign]


def _rename_classes(module: types.ModuleType, old: str, new: str) -> None:
    """Classes defined in ``module`` (nested ones too) are named as living in ``new``."""
    seen: set[int] = set()

    def visit(ns: dict[str, Any]) -> None:
        for value in list(ns.values()):
            if isinstance(value, type) and value.__module__ == old and id(value) not in seen:
                seen.add(id(value))
                value.__module__ = new
                visit(dict(vars(value)))

    visit(vars(module))


class App:
    """The imported app module and how its pickles name it."""

    def __init__(self, path: str, module: str | None) -> None:
        target = Path(path).resolve()
        if target.is_file():
            if module:
                raise _Refused("--app-module goes with a directory, not a file")
            # A script: it runs as `python app.py`, so its pickles name `__main__`.
            sys.path.insert(0, str(target.parent))
            name = target.stem if target.stem not in sys.modules else f"_app_{target.stem}"
            spec = importlib.util.spec_from_file_location(name, target)
            if spec is None or spec.loader is None:
                raise _Refused(f"cannot load {target} as Python")
            mod = importlib.util.module_from_spec(spec)
            sys.modules[name] = mod
            spec.loader.exec_module(mod)
            # Its classes are `__main__.X` to every pickle, as in the app's own process.
            _rename_classes(mod, name, "__main__")
            sys.modules["__main__"] = mod
            self.as_main = True
        elif target.is_dir():
            if not module:
                raise _Refused(f"{target} is a directory: say which module (--app-module)")
            sys.path.insert(0, str(target))
            mod = importlib.import_module(module)
            name = module
            self.as_main = False
        else:
            raise _Refused(f"no such file or directory: {target}")
        self.module = mod
        self.name = name

    def classes(self) -> list[str]:
        names = {"__main__"} if self.as_main else {self.name}
        return sorted(
            k
            for k, v in vars(self.module).items()
            if isinstance(v, type) and v.__module__ in names and not k.startswith("_")
        )

    def find(self, qualified: str) -> type:
        """The class ``Name``, ``__main__.Name`` or ``<module>.Name`` (``Outer.Inner`` too)."""
        name = qualified.strip()
        for prefix in ("__main__.", f"{self.name}."):
            if name.startswith(prefix):
                name = name[len(prefix) :]
                break
        obj: Any = self.module
        for part in name.split("."):
            obj = getattr(obj, part, None) if part else None
            if obj is None:
                known = ", ".join(self.classes()) or "none"
                raise _Refused(f"no class {qualified} in {self.name} (its classes: {known})")
        if not isinstance(obj, type):
            raise _Refused(f"{qualified} in {self.name} is not a class")
        return obj

    def loads(self, data: bytes) -> Any:
        return _Unpickler(io.BytesIO(data), self.name).load()

    def build(self, qualified: str, data: Any) -> Any:
        cls = self.find(qualified)
        validate = getattr(cls, "model_validate", None)  # pydantic
        if callable(validate):
            return validate(data)
        if isinstance(data, dict):
            return cls(**data)
        if isinstance(data, list):
            return cls(*data)
        return cls(data)


class _Unpickler(pickle.Unpickler):
    """``__main__`` is the app: a class pickled by the app run as a script resolves."""

    def __init__(self, file: IO[bytes], app_module: str) -> None:
        super().__init__(file)
        self.app_module = app_module

    def find_class(self, module: str, name: str) -> Any:
        if module == "__main__":
            module = self.app_module
        return super().find_class(module, name)


def _type_name(obj: Any) -> str:
    cls = type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"


def _text(s: str) -> str:
    return s if len(s) <= MAX_CHARS else s[: MAX_CHARS - 1] + "…"


def describe(obj: Any, depth: int = 0) -> Any:
    """A JSON-able description of ``obj``: plain JSON as it is, objects as class + fields."""
    if obj is None or isinstance(obj, bool | int):
        return obj
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else {"$class": "builtins.float", "repr": repr(obj)}
    if isinstance(obj, str):
        return _text(obj)
    if depth >= MAX_DEPTH:
        return {"$class": _type_name(obj), "repr": _text(repr(obj))}
    if isinstance(obj, list | tuple | set | frozenset) and type(obj) in (
        list,
        tuple,
        set,
        frozenset,
    ):
        items = list(obj)[:MAX_ITEMS]
        return [describe(v, depth + 1) for v in items]
    if type(obj) is dict:
        out = {
            (k if isinstance(k, str) else repr(k)): describe(v, depth + 1)
            for k, v in list(obj.items())[:MAX_ITEMS]
        }
        return {"$class": "builtins.dict", "fields": out} if "$class" in out else out
    fields: dict[str, Any] | None = None
    if isinstance(obj, enum.Enum):
        return {"$class": _type_name(obj), "repr": _text(f"{type(obj).__name__}.{obj.name}")}
    model_fields = getattr(type(obj), "model_fields", None)  # pydantic
    if isinstance(model_fields, dict):
        fields = {k: getattr(obj, k, None) for k in model_fields}
    elif dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        fields = {f.name: getattr(obj, f.name, None) for f in dataclasses.fields(obj)}
    elif isinstance(getattr(obj, "__dict__", None), dict) and not isinstance(obj, type):
        fields = dict(vars(obj))
    elif slots := getattr(type(obj), "__slots__", None):
        names = [slots] if isinstance(slots, str) else list(slots)
        fields = {n: getattr(obj, n) for n in names if hasattr(obj, n)}
    desc: dict[str, Any] = {"$class": _type_name(obj)}
    if isinstance(obj, BaseException):
        desc["text"] = _text(str(obj))
    if fields is None or (isinstance(obj, BaseException) and not fields):
        if not isinstance(obj, BaseException):
            desc["repr"] = _text(repr(obj))
        return desc
    desc["fields"] = {str(k): describe(v, depth + 1) for k, v in list(fields.items())[:MAX_ITEMS]}
    return desc


def _one_line(exc: BaseException) -> str:
    text = " ".join(ln.strip() for ln in str(exc).splitlines() if ln.strip())
    if isinstance(exc, _Refused):
        return text[:300]
    return f"{type(exc).__name__}: {text}"[:300] if text else type(exc).__name__


def _handle(app: App, req: dict[str, Any]) -> dict[str, Any]:
    op = req.get("op")
    if op == "decode":
        values = []
        for raw in req.get("values", []):
            try:
                obj = app.loads(base64.b64decode(raw))
                desc = describe(obj)
                if len(json.dumps(desc, ensure_ascii=False, default=str)) > MAX_JSON:
                    desc = {"$class": _type_name(obj), "repr": "<too large to show>"}
                values.append({"ok": True, "value": desc})
            except BaseException as exc:  # a value's own code may raise anything
                values.append({"ok": False, "error": _one_line(exc)})
        return {"values": values}
    if op == "build":
        obj = app.build(str(req.get("class", "")), req.get("data"))
        data = pickle.dumps(obj)
        return {"pickle": base64.b64encode(data).decode(), "repr": _text(repr(obj))}
    raise _Refused(f"unknown op {op!r}")


def _send(out: IO[str], msg: dict[str, Any]) -> None:
    out.write(json.dumps(msg, ensure_ascii=False, default=str) + "\n")
    out.flush()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tui.codec_worker")
    p.add_argument("--path", required=True)
    p.add_argument("--module", default=None)
    args = p.parse_args(argv)
    # The protocol keeps stdout's descriptor; fd 1 (print, C extensions) becomes stderr.
    out = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    try:
        _guard_dbos()
        app = App(args.path, args.module)
    except BaseException as exc:  # the app's import may raise anything, SystemExit included
        _send(out, {"ready": False, "error": _one_line(exc)})
        return 1
    _send(
        out, {"ready": True, "module": app.name, "as_main": app.as_main, "classes": app.classes()}
    )
    for line in sys.stdin:
        if not line.strip():
            continue
        req: dict[str, Any] = {}
        try:
            req = json.loads(line)
            answer = {"id": req.get("id"), "ok": True, **_handle(app, req)}
        except BaseException as exc:
            answer = {"id": req.get("id"), "ok": False, "error": _one_line(exc)}
        _send(out, answer)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
