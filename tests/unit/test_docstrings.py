"""The documentation that lives in docstrings cannot drift from the code.

- The app, and every widget, screen and modal with ``BINDINGS``, has a key table in its class
  docstring, as Textual's widgets do, and the table names exactly the keys bound (a binding
  added, removed or re-keyed without its row fails here).
- Every public function and method of the data core (``tui.data``) and of the data layer's
  contract (``tui.supervisor.contract.Source``) has a Google-style docstring: a summary, ``Args:``
  naming each argument, ``Returns:`` when it returns something.
- So has every widget class in ``tui.widgets``, and every public method of its own (Textual's
  hooks and overrides of a base class's methods are documented where they are declared).
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import pytest
from textual.binding import Binding
from textual.keys import key_to_character

import tui.data
import tui.modals
import tui.screens
import tui.widgets
from tui.app import AgentDeckApp
from tui.supervisor import contract

_TABLE_HEADER = "| Key(s) | Description |"
_SECTION = re.compile(r"^\s*(Args|Returns|Yields|Raises|Example|Examples|Note):\s*$")


def _modules(package: ModuleType) -> list[ModuleType]:
    return [
        importlib.import_module(f"{package.__name__}.{info.name}")
        for info in pkgutil.iter_modules(package.__path__)
    ]


def _classes_with_bindings() -> list[type]:
    found = []
    for package in (tui.widgets, tui.screens, tui.modals):
        for module in _modules(package):
            for _, cls in inspect.getmembers(module, inspect.isclass):
                if cls.__module__ == module.__name__ and "BINDINGS" in cls.__dict__:
                    found.append(cls)
    return [*found, AgentDeckApp]


def _binding_keys(binding: Any) -> tuple[list[str], str | None]:
    """The keys of one ``BINDINGS`` entry (a ``Binding`` or a tuple) and its key display."""
    if isinstance(binding, Binding):
        return [k.strip() for k in binding.key.split(",")], binding.key_display
    return [k.strip() for k in binding[0].split(",")], None


def _spellings(key: str, display: str | None) -> set[str]:
    """How a key may be written in a table: its name, its display, or the character it types."""
    names = {key}
    if display:
        names.add(display)
    if (char := key_to_character(key)) is not None:
        names.add(char)
    return names


def _key_table(doc: str) -> list[str]:
    """The keys listed in the first column of a docstring's key table."""
    lines = [line.strip() for line in doc.splitlines()]
    start = lines.index(_TABLE_HEADER)
    keys: list[str] = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        cell = line.split("|")[1]
        keys += [k.strip() for k in cell.split(",") if k.strip()]
    return keys


def _bound_in_mro(cls: type) -> set[str]:
    """Every spelling of every key bound by ``cls`` or a class it inherits from."""
    names: set[str] = set()
    for base in cls.__mro__:
        for binding in base.__dict__.get("BINDINGS", ()):
            keys, display = _binding_keys(binding)
            for key in keys:
                names |= _spellings(key, display)
    return names


BOUND = _classes_with_bindings()
#: Keys a class's table lists that a child widget handles, not one of its bindings.
_HANDLED_BY_CHILDREN = {"FindBar": {"enter"}}  # enter submits the Input (Input's binding)


def test_the_classes_with_bindings_are_found() -> None:
    names = {cls.__name__ for cls in BOUND}
    assert {"RowTable", "FindBar", "WorkflowsScreen", "HelpScreen"} <= names, names


@pytest.mark.parametrize("cls", BOUND, ids=lambda cls: f"{cls.__module__}.{cls.__name__}")
def test_every_binding_is_in_the_key_table(cls: type) -> None:
    doc = inspect.getdoc(cls) or ""
    assert _TABLE_HEADER in doc, f"{cls.__name__} has BINDINGS but no key table in its docstring"
    listed = set(_key_table(doc))
    for binding in cls.__dict__["BINDINGS"]:
        keys, display = _binding_keys(binding)
        for key in keys:
            assert _spellings(key, display) & listed, (
                f"{cls.__name__}: key {key!r} is bound but not in its docstring's key table"
            )
    handled = _bound_in_mro(cls) | _HANDLED_BY_CHILDREN.get(cls.__name__, set())
    stale = {key for key in listed if key not in handled}
    assert not stale, f"{cls.__name__}: its key table lists keys nothing binds: {sorted(stale)}"


def _is_public(name: str) -> bool:
    return not name.startswith("_")


def _public_callables() -> Iterator[tuple[str, Callable[..., Any] | property]]:
    """The public functions of ``tui.data``'s modules, the public methods and properties of
    their public classes, and the methods of the ``Source`` contract."""
    for module in _modules(tui.data):
        for name, obj in vars(module).items():
            if not _is_public(name) or getattr(obj, "__module__", None) != module.__name__:
                continue
            if inspect.isfunction(obj):
                yield f"{module.__name__}.{name}", obj
            elif inspect.isclass(obj):
                yield from _members(f"{module.__name__}.{name}", obj)
    yield from _members("tui.supervisor.contract.Source", contract.Source)


#: Textual calls these by name (handlers, watchers, actions bound to keys in the key table).
_HOOK_PREFIXES = ("on_", "watch_", "action_", "compute_", "validate_")


def _members(
    qualname: str, cls: type, *, own_only: bool = False
) -> Iterator[tuple[str, Callable[..., Any] | property]]:
    """The public methods and properties defined in ``cls``; with ``own_only``, not those that
    override a base class's or that Textual calls by name."""
    for name, member in vars(cls).items():
        if not _is_public(name):
            continue
        if own_only and (
            name.startswith(_HOOK_PREFIXES) or any(hasattr(base, name) for base in cls.__bases__)
        ):
            continue
        if isinstance(member, staticmethod | classmethod):
            member = member.__func__
        if inspect.isfunction(member) or isinstance(member, property):
            yield f"{qualname}.{name}", member


def _section(doc: str, title: str) -> str:
    """The text of one section (``Args``, ``Returns``...) of a Google-style docstring."""
    out: list[str] = []
    inside = False
    for line in doc.splitlines():
        if m := _SECTION.match(line):
            inside = m.group(1) == title
            continue
        if inside:
            out.append(line)
    return "\n".join(out)


def _widget_callables() -> Iterator[tuple[str, Callable[..., Any] | property]]:
    """The public functions of ``tui.widgets``' modules and the public methods of their own
    of its public classes."""
    for module in _modules(tui.widgets):
        for name, obj in vars(module).items():
            if not _is_public(name) or getattr(obj, "__module__", None) != module.__name__:
                continue
            if inspect.isfunction(obj):
                yield f"{module.__name__}.{name}", obj
            elif inspect.isclass(obj):
                yield from _members(f"{module.__name__}.{name}", obj, own_only=True)


def _widget_classes() -> list[type]:
    return [
        obj
        for module in _modules(tui.widgets)
        for name, obj in vars(module).items()
        if inspect.isclass(obj) and _is_public(name) and obj.__module__ == module.__name__
    ]


PUBLIC = list(_public_callables()) + list(_widget_callables())
WIDGETS = _widget_classes()


@pytest.mark.parametrize("cls", WIDGETS, ids=lambda cls: f"{cls.__module__}.{cls.__name__}")
def test_every_widget_class_has_a_docstring(cls: type) -> None:
    doc = cls.__dict__.get("__doc__") or ""
    # A dataclass without a docstring gets its signature as one.
    assert doc.strip() and not doc.startswith(f"{cls.__name__}("), f"{cls.__name__}: no docstring"


def test_the_public_api_is_found() -> None:
    names = {name for name, _ in PUBLIC}
    assert "tui.data.sql.DB.rows" in names
    assert "tui.data.reads.compile_filter" in names
    assert "tui.data.filters.Filter.compile" in names
    assert "tui.supervisor.contract.Source.list_page" in names
    assert "tui.widgets.rowtable.RowTable.set_rows" in names
    assert "tui.widgets.text.show_text" in names
    assert "tui.widgets.rowtable.RowTable.action_first" not in names


@pytest.mark.parametrize(("name", "obj"), PUBLIC, ids=[name for name, _ in PUBLIC])
def test_public_api_has_a_docstring(name: str, obj: Callable[..., Any] | property) -> None:
    doc = inspect.getdoc(obj) or ""
    assert doc.strip(), f"{name} has no docstring"
    summary = doc.split("\n\n", 1)[0]
    assert not _SECTION.match(summary.splitlines()[0]), f"{name}: the docstring needs a summary"
    if isinstance(obj, property):
        return
    signature = inspect.signature(obj)
    params = [
        p.name
        for p in signature.parameters.values()
        if p.name not in ("self", "cls") and p.kind is not inspect.Parameter.VAR_KEYWORD
    ]
    args = _section(doc, "Args")
    for param in params:
        assert re.search(rf"^\s*\*{{0,2}}{re.escape(param)}( \(.*\))?:", args, re.M), (
            f"{name}: argument {param!r} is not described under Args:"
        )
    returns = signature.return_annotation
    if returns not in ("None", None, inspect.Signature.empty):
        assert _section(doc, "Returns").strip() or _section(doc, "Yields").strip(), (
            f"{name} returns {returns} but its docstring has no Returns: section"
        )
