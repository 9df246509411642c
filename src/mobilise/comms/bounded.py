"""A Jinja sandbox whose rendering is bounded in output size and time.

The sandbox alone stops a template author reaching into Python objects, not one making
the server build a gigabyte (``{{ 'A' * 1000000000 }}``) or loop for hours. Here every
way a template can make much from little is checked before it happens: ``*``, ``+``,
``**`` and ``%`` on their operands, calls and filters on their numeric arguments, every
``for`` loop as it iterates, and the output as it is produced, against a character
budget and a deadline per render. Going over either raises ``RenderLimit``.
"""

from __future__ import annotations

import functools
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sized
from typing import Any

from jinja2 import nodes
from jinja2.runtime import Context
from jinja2.sandbox import SandboxedEnvironment
from jinja2.visitor import NodeTransformer

from mobilise.core.errors import InvalidInput

MAX_OUTPUT = 500_000  # characters of one rendered subject or body; an e-mail is far less
MAX_SECONDS = 2.0
MAX_EXPONENT = 64
MAX_INTEGER_BITS = 4096
_WIDE_FORMAT = re.compile(r"%[-+ #0]*\d{7,}|\{[^{}]*:[^{}]*\d{7,}")
_GUARD = "mobilise_bounded_iter"
_CONCAT = "mobilise_bounded_concat"


class RenderLimit(InvalidInput):
    """A template went over the output or time bound of one render."""


class _Budget(threading.local):
    deadline: float = float("inf")


_budget = _Budget()


def _tick() -> None:
    if time.monotonic() > _budget.deadline:
        raise RenderLimit(f"the template took longer than {MAX_SECONDS:g} s to render")


def _too_long(size: int) -> None:
    if size > MAX_OUTPUT:
        raise RenderLimit(f"the template would produce {size:,} characters at one step; "
                          f"at most {MAX_OUTPUT:,}")


def _size(value: Any, depth: int = 0) -> int | None:
    """Characters a value stands for: a string its length, a list or tuple the sum of
    its items' (``['x' * 400000] * 400000`` is 160 billion, not 400,000)."""
    if isinstance(value, str):
        return len(value)
    if isinstance(value, list | tuple) and depth < 3:
        return sum(_size(item, depth + 1) or 1 for item in value)
    return len(value) if isinstance(value, Sized) and not isinstance(value, dict) else None


def _int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_arguments(args: Iterable[Any]) -> None:
    for arg in args:
        if isinstance(arg, int) and not isinstance(arg, bool) and abs(arg) > MAX_OUTPUT:
            _too_long(abs(arg))
        if isinstance(arg, str) and _WIDE_FORMAT.search(arg):
            raise RenderLimit("the template formats a field wider than the output allows")


def _bounded_concat(*parts: Any) -> str:
    # ``a ~ b ~ c``: Jinja joins the parts in one step, so their total is checked first.
    texts = [str(p) for p in parts]
    _too_long(sum(len(t) for t in texts))
    return "".join(texts)


def _bounded_iter(iterable: Any) -> Iterator[Any]:
    for count, item in enumerate(iterable):
        if count % 256 == 0:
            _tick()
        yield item


class BoundedEnvironment(SandboxedEnvironment):
    intercepted_binops = frozenset({"*", "+", "**", "%", "//"})

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.globals[_GUARD] = _bounded_iter
        self.globals[_CONCAT] = _bounded_concat
        self.filters = {name: _bounded_filter(name, f) for name, f in self.filters.items()}

    def _generate(self, source: nodes.Template, name: str | None, filename: str | None,
                  defer_init: bool = False) -> str:
        return super()._generate(_Guarded().visit(source), name, filename, defer_init)

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        _tick()
        if operator == "*":
            for seq, times in ((left, right), (right, left)):
                size = _size(seq)
                if size is not None and isinstance(times, int):
                    _too_long(size * times)
        elif operator == "+":
            a, b = _size(left), _size(right)
            if a is not None and b is not None:
                _too_long(a + b)
        elif operator == "**" and isinstance(right, int | float) and abs(right) > MAX_EXPONENT:
            raise RenderLimit(f"the template raises to a power over {MAX_EXPONENT}")
        if operator in {"*", "**"} and _int(left) and _int(right):
            # Python's integers have no ceiling: (10 ** 64) ** 64 ** ... grows without one.
            bits = left.bit_length() * (right if operator == "**" else 1) + (
                0 if operator == "**" else right.bit_length())
            if bits > MAX_INTEGER_BITS:
                raise RenderLimit("the template computes an integer too large to show")
        elif operator == "%" and isinstance(left, str):
            _check_arguments([left])
        result = super().call_binop(context, operator, left, right)
        size = _size(result)
        if size is not None:
            _too_long(size)
        return result

    def call(__self, __context: Context, __obj: Any, *args: Any,  # noqa: N805
             **kwargs: Any) -> Any:
        _tick()
        _check_arguments([*args, *kwargs.values()])
        return super().call(__context, __obj, *args, **kwargs)

    def getattr(self, obj: Any, attribute: str) -> Any:
        _tick()
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        _tick()
        return super().getitem(obj, argument)


class _Guarded(NodeTransformer):
    """Every loop iterates through a guard that watches the clock (a loop that produces
    no output is bounded too), and every ``~`` joins through one that counts."""

    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        node.iter = nodes.Call(nodes.Name(_GUARD, "load"), [node.iter], [], None, None)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        return nodes.Call(nodes.Name(_CONCAT, "load"), list(node.nodes), [], None, None)


def _before(name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """What a filter would build, checked before it builds it."""
    _check_arguments([*args[1:], *kwargs.values()])
    value = args[0] if args else None
    if name == "format" and isinstance(value, str):
        _check_arguments([value])
    elif name == "join" and isinstance(value, list | tuple):
        sep = args[1] if len(args) > 1 else kwargs.get("d", "")
        _too_long((_size(value) or 0) + len(str(sep)) * len(value))
    elif name == "replace" and isinstance(value, str) and len(args) > 2:
        old, new = str(args[1]), str(args[2])
        grows = max(len(new) - len(old), 0) * (value.count(old) if old else len(value) + 1)
        _too_long(len(value) + grows)


def _bounded_filter(name: str, filter_: Callable[..., Any]) -> Callable[..., Any]:
    # A filter marked pass_context / pass_eval_context / pass_environment is handed that
    # first: its value and arguments come after.
    skip = 1 if getattr(filter_, "jinja_pass_arg", None) is not None else 0

    @functools.wraps(filter_)
    def bounded(*args: Any, **kwargs: Any) -> Any:
        _tick()
        _before(name, args[skip:], kwargs)
        result = filter_(*args, **kwargs)
        size = _size(result)
        if size is not None:
            _too_long(size)
        return result

    return bounded


def render_bounded(chunks: Iterator[str]) -> str:
    """Join what a template's ``generate`` yields (lazily: nothing runs before the first
    chunk is asked for), within the output and time bounds."""
    _budget.deadline = time.monotonic() + MAX_SECONDS
    try:
        out: list[str] = []
        total = 0
        for chunk in chunks:
            total += len(chunk)
            if total > MAX_OUTPUT:
                raise RenderLimit(f"the template renders more than {MAX_OUTPUT:,} characters")
            out.append(chunk)
            _tick()
        return "".join(out)
    finally:
        _budget.deadline = float("inf")
