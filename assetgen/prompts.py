"""Prompt templates: a sandboxed Jinja2 environment and whitespace normalisation.

Templates come from the project's template folder (``[build] templates``)
and from the stock presets shipped with assetgen, reachable from any spec as
``stock/<file>`` (``template = "stock/photo.j2"`` or
``{% extends "stock/photo.j2" %}``). Rendering is strict: an undefined
variable is an error naming the asset and the variable, never an empty string
sent to a paid API.
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from importlib import resources
from pathlib import Path
from types import FrameType
from typing import Any

import jinja2
from jinja2 import filters as jinja_filters
from jinja2.exceptions import SecurityError
from jinja2.loaders import split_template_path
from jinja2.sandbox import SandboxedEnvironment

from .errors import SpecError
from .hashing import text_sha256
from .limits import (
    MAX_FORMAT_WIDTH,
    MAX_INT_BITS,
    MAX_LOOP_ITEMS,
    MAX_PROMPT_CHARS,
    MAX_RANGE,
    MAX_RENDER_CHARS,
    MAX_RENDER_SECONDS,
)
from .validation import did_you_mean

STOCK_PREFIX = "stock"
MAX_COMPILED = 4096
"""Inline templates kept compiled per environment (a spec has a few per ``[[asset]]``)."""


def normalise(text: str) -> str:
    """Collapse every run of whitespace to one space: reformatting costs nothing."""
    return " ".join(text.split())


def stock_templates_dir() -> Path:
    """Where the stock templates are: inside the installed package, else the repo."""
    packaged = Path(str(resources.files("assetgen"))) / "templates"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parent.parent / "templates"


class TemplateLimit(SecurityError):
    """A template went past one of :mod:`assetgen.limits` (a user error, not a bug)."""


_SPECS = re.compile(r"\{[^{}]*?:([^{}]*)\}|%([-#0 +]*[\d*]*(?:\.[\d*]*)?)")
"""The spec of each ``{field:spec}`` and ``%spec`` in a format string."""


def _check_format(fmt: object) -> None:
    """Refuse format strings whose widths or precisions would build huge strings."""
    if not isinstance(fmt, str):
        return
    if re.search(r"\{[^{}]*:[^{}]*\{", fmt):
        raise TemplateLimit("nested format specs (a width from an argument) are not allowed")
    for match in _SPECS.finditer(fmt):
        spec = match.group(1) or match.group(2) or ""
        numbers = [int(n) for n in re.findall(r"\d+", spec)]
        if "*" in spec or any(n > MAX_FORMAT_WIDTH for n in numbers):
            raise TemplateLimit(
                f"format widths are limited to {MAX_FORMAT_WIDTH} (in {match.group()!r})"
            )


def _check_size(value: object) -> object:
    if isinstance(value, str | list | tuple) and len(value) > MAX_RENDER_CHARS:
        raise TemplateLimit(f"a value of {len(value)} items; the limit is {MAX_RENDER_CHARS}")
    return value


def _check_width(width: object) -> None:
    if isinstance(width, int) and abs(width) > MAX_FORMAT_WIDTH:
        raise TemplateLimit(f"widths are limited to {MAX_FORMAT_WIDTH}, got {width}")
    if isinstance(width, str) and len(width) > MAX_FORMAT_WIDTH:
        raise TemplateLimit(f"indents are limited to {MAX_FORMAT_WIDTH} characters")


def _center(value: str, width: int = 80) -> str:
    _check_width(width)
    return jinja_filters.do_center(value, width)


def _indent(value: str, width: int | str = 4, first: bool = False, blank: bool = False) -> str:
    _check_width(width)
    return _check_size(jinja_filters.do_indent(value, width, first, blank))  # type: ignore[return-value]


def _format(value: str, *args: Any, **kwargs: Any) -> str:
    _check_format(value)
    return jinja_filters.do_format(value, *args, **kwargs)


class BoundedSandbox(SandboxedEnvironment):
    """The sandbox, with :mod:`assetgen.limits` on loops, numbers, strings and time.

    Jinja's own sandbox stops attribute tricks but not a template that asks
    for ``10**100000``, ``'x' * 10**10`` or a billion loop iterations.
    """

    intercepted_binops = frozenset(["**", "*", "%", "+"])

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.loop_items = 0
        """``range()`` numbers yielded in the current render."""
        self.globals["range"] = self._range
        self.filters.update(center=_center, indent=_indent, format=_format)
        self._compiled: dict[str, jinja2.Template] = {}

    def compiled(self, source: str) -> jinja2.Template:
        """``from_string(source)``, compiled once per source (a matrix renders one
        name and one prompt template per entry: compiling each is most of the cost)."""
        template = self._compiled.get(source)
        if template is None:
            if len(self._compiled) >= MAX_COMPILED:
                self._compiled.clear()
            template = self._compiled[source] = self.from_string(source)
        return template

    def _range(self, *args: int) -> range:
        numbers = range(*args)
        if len(numbers) > MAX_RANGE:
            raise TemplateLimit(f"range() of {len(numbers)} numbers; the limit is {MAX_RANGE}")
        self.loop_items += len(numbers)
        if self.loop_items > MAX_LOOP_ITEMS:
            raise TemplateLimit(f"loops over more than {MAX_LOOP_ITEMS} numbers in one render")
        return numbers

    def call_binop(
        self, context: jinja2.runtime.Context, operator: str, left: Any, right: Any
    ) -> Any:
        """``left operator right``, refused when the result would be huge."""
        if operator == "**":
            _check_power(left, right)
        elif operator == "*":
            _check_product(left, right)
        elif operator == "%" and isinstance(left, str):
            _check_format(left)
        result = super().call_binop(context, operator, left, right)
        return _check_size(result)

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        """``str.format`` and ``format_map`` in templates, with bounded widths."""
        wrapped = super().wrap_str_format(value)
        if wrapped is None:
            return None
        fmt = value.__self__

        def bounded(*args: Any, **kwargs: Any) -> str:
            _check_format(fmt)
            return wrapped(*args, **kwargs)

        return bounded


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_power(base: Any, exponent: Any) -> None:
    ints = _is_int(base) and _is_int(exponent) and exponent > 0 and abs(base) > 1
    if ints and abs(base).bit_length() * exponent > MAX_INT_BITS:
        raise TemplateLimit(f"{base} ** {exponent} is too large ({MAX_INT_BITS} bits at most)")


def _check_product(left: Any, right: Any) -> None:
    if _is_int(left) and _is_int(right):
        if left.bit_length() + right.bit_length() > MAX_INT_BITS:
            raise TemplateLimit(f"a product over {MAX_INT_BITS} bits")
        return
    for sequence, count in ((left, right), (right, left)):
        sized = isinstance(sequence, str | list | tuple) and _is_int(count)
        if sized and len(sequence) * count > MAX_RENDER_CHARS:
            raise TemplateLimit(
                f"repeating {len(sequence)} items {count} times; the limit is {MAX_RENDER_CHARS}"
            )


class RenderTimeout(TemplateLimit):
    """A render ran past :data:`~assetgen.limits.MAX_RENDER_SECONDS`."""


@contextmanager
def _deadline(env: BoundedSandbox, seconds: float) -> Iterator[None]:
    """Stop the template code of ``env`` after ``seconds`` (a line tracer, this thread).

    Only frames of compiled templates get the line tracer; under a debugger or
    coverage (another tracer) the render is bounded by the other limits alone.
    """
    env.loop_items = 0
    if sys.gettrace() is not None:
        yield
        return
    end = time.monotonic() + seconds

    def check(frame: FrameType, event: str, arg: object) -> Callable[..., Any] | None:
        if time.monotonic() > end:
            raise RenderTimeout(f"rendering took more than {seconds:g} s")
        return check if frame.f_globals.get("environment") is env else None

    sys.settrace(check)
    try:
        yield
    finally:
        sys.settrace(None)


def _bounded_render(
    env: BoundedSandbox, template: jinja2.Template, variables: dict[str, Any]
) -> str:
    """Render ``template``, stopping at the size and time limits."""
    parts: list[str] = []
    total = 0
    with _deadline(env, MAX_RENDER_SECONDS):
        for chunk in template.generate(variables):
            total += len(chunk)
            if total > MAX_RENDER_CHARS:
                raise TemplateLimit(f"the output passed {MAX_RENDER_CHARS} characters")
            parts.append(chunk)
    return "".join(parts)


_USER_ERRORS = (
    jinja2.TemplateError,
    RecursionError,
    MemoryError,
    UnicodeError,
    OverflowError,
    ValueError,
    ZeroDivisionError,
    TypeError,
)
"""What a template can raise by itself: the template's fault, so a spec error."""


TemplateRead = tuple[str, str] | None
"""How a template name was found: ``(file, SHA-256 of the source compiled)``, or
``None`` when no file had it (``{% include ... ignore missing %}``)."""


class RecordingLoader(jinja2.ChoiceLoader):
    """The project's folder, then the stock templates; records what each render read.

    Every use of a template goes through the loader (a first load) or through
    the ``uptodate`` check of the copy Jinja2 keeps compiled: both record the
    name with the file and the digest of the source that was compiled, so
    :attr:`reads` names exactly what the renders since :meth:`begin` depended
    on (includes, imports and extends too, and names that were not found).
    """

    def __init__(self, loaders: list[jinja2.BaseLoader]) -> None:
        super().__init__(loaders)
        self.reads: dict[str, TemplateRead] = {}

    def begin(self) -> None:
        """Start recording afresh (one expansion of a spec)."""
        self.reads = {}

    def get_source(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str | None, Callable[[], bool] | None]:
        try:
            source, filename, uptodate = super().get_source(environment, template)
        except jinja2.TemplateNotFound:
            self.reads[template] = None
            raise
        read = (filename or "", text_sha256(source))
        self.reads[template] = read

        def checked() -> bool:
            self.reads[template] = read
            return uptodate() if uptodate is not None else True

        return source, filename, checked

    # ChoiceLoader.load asks its loaders directly; BaseLoader.load goes through
    # get_source above (same templates, same compilation).
    load = jinja2.BaseLoader.load


def template_files(templates_dir: Path, name: str) -> list[Path]:
    """Every file the loader may read for the template ``name``, in the order it looks."""
    try:
        pieces = split_template_path(name)
    except jinja2.TemplateNotFound:
        return []
    found = [templates_dir.joinpath(*pieces)]
    if len(pieces) > 1 and pieces[0] == STOCK_PREFIX:
        found.append(stock_templates_dir().joinpath(*pieces[1:]))
    return found


@cache
def environment(templates_dir: Path) -> BoundedSandbox:
    """One environment per template folder, so compiled templates are reused."""
    loader = RecordingLoader(
        [
            jinja2.FileSystemLoader(str(templates_dir)),
            jinja2.PrefixLoader(
                {STOCK_PREFIX: jinja2.FileSystemLoader(str(stock_templates_dir()))}
            ),
        ]
    )
    return BoundedSandbox(
        loader=loader,
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=False,
    )


_MISSING_KEY = re.compile(r"^'dict object' has no attribute '(?P<key>[^']*)'$")


def undefined_error(
    exc: jinja2.UndefinedError,
    source: str,
    variables: dict[str, Any],
    asset: str,
    field: str,
    file: str,
) -> SpecError:
    """An undefined variable, in the spec's words: which table lacks which key.

    Jinja2 says ``'dict object' has no attribute 'calendar'``; the template's
    source tells which variable was indexed (``subjects.calendar``), and the
    variables tell what that table does have.
    """
    hint = "define it in [vars], the asset's vars or its matrix"
    message = f"undefined variable: {exc.message}"
    found = _MISSING_KEY.match(exc.message or "")
    if found:
        key = found["key"]
        uses = re.findall(
            rf"(\w+)\s*(?:\.\s*{re.escape(key)}\b|\[\s*['\"]{re.escape(key)}['\"])", source
        )
        tables = [u for u in dict.fromkeys(uses) if isinstance(variables.get(u), dict)]
        if len(tables) == 1:
            table = variables[tables[0]]
            keys = ", ".join(sorted(map(str, table))[:20]) or "nothing"
            message = f"{tables[0]!r} has no key {key!r} (it has: {keys})"
            hint = did_you_mean(key, [str(k) for k in table]) or f"add {key!r} to {tables[0]!r}"
    return SpecError(message, file=file, asset=asset, field=field, hint=hint)


class PromptRenderer:
    """Renders names, inline prompts and template files for one project."""

    def __init__(self, templates_dir: Path, *, spec_file: str) -> None:
        self.templates_dir = templates_dir
        self.spec_file = spec_file
        self.env = environment(templates_dir)
        self.loader.begin()

    @property
    def loader(self) -> RecordingLoader:
        assert isinstance(self.env.loader, RecordingLoader)
        return self.env.loader

    def reads(self) -> dict[str, TemplateRead]:
        """Every template name the renders of this renderer used, and how it was found."""
        return dict(self.loader.reads)

    def render_string(
        self, source: str, variables: dict[str, Any], *, asset: str, field: str
    ) -> str:
        """Render an inline template (a name, an inline prompt, an input path)."""
        try:
            return _bounded_render(self.env, self.env.compiled(source), variables)
        except jinja2.UndefinedError as exc:
            raise undefined_error(exc, source, variables, asset, field, self.spec_file) from exc
        except _USER_ERRORS as exc:
            raise self._error(exc, asset=asset, field=field, file=self.spec_file) from exc

    def render_file(self, name: str, variables: dict[str, Any], *, asset: str) -> str:
        """Render the template file ``name`` from the project or stock folder."""
        try:
            return _bounded_render(self.env, self.env.get_template(name), variables)
        except jinja2.TemplateNotFound as exc:
            missing = exc.name or name
            raise SpecError(
                f"template {missing!r} not found in {self.templates_dir.name}/ "
                f"(stock templates: '{STOCK_PREFIX}/<file>')",
                file=self.spec_file,
                asset=asset,
                field="template",
                hint=did_you_mean(str(missing), self.known_templates()),
            ) from exc
        except jinja2.UndefinedError as exc:
            source = self.source_of(name)
            raise undefined_error(exc, source, variables, asset, "template", name) from exc
        except _USER_ERRORS as exc:
            raise self._error(exc, asset=asset, field="template", file=name) from exc

    def known_templates(self) -> list[str]:
        try:
            return [n for n in self.env.list_templates() if not n.startswith(".")][:10_000]
        except (OSError, TypeError):
            return []

    def source_of(self, name: str) -> str:
        try:
            assert self.env.loader is not None
            return self.env.loader.get_source(self.env, name)[0]
        except Exception:  # only for a friendlier message: never a new failure
            return ""

    def render_prompt(
        self, prompt: str | None, template: str | None, variables: dict[str, Any], *, asset: str
    ) -> str:
        """The asset's normalised prompt from its inline ``prompt`` or its ``template``."""
        if template is not None:
            text = self.render_file(template, variables, asset=asset)
        else:
            text = self.render_string(prompt or "", variables, asset=asset, field="prompt")
        text = normalise(text)
        field = "template" if template is not None else "prompt"
        if not text:
            raise SpecError(
                "the prompt renders to nothing", file=self.spec_file, asset=asset, field=field
            )
        if len(text) > MAX_PROMPT_CHARS:
            raise SpecError(
                f"the prompt renders to {len(text)} characters; at most {MAX_PROMPT_CHARS}",
                file=self.spec_file,
                asset=asset,
                field=field,
            )
        return text

    @staticmethod
    def _error(exc: BaseException, *, asset: str, field: str, file: str) -> SpecError:
        if isinstance(exc, jinja2.UndefinedError):
            message = f"undefined variable: {exc.message}"
            hint = "define it in [vars], the asset's vars or its matrix"
            return SpecError(message, file=file, asset=asset, field=field, hint=hint)
        if isinstance(exc, jinja2.TemplateSyntaxError):
            where = exc.filename or file
            return SpecError(
                f"template syntax error at line {exc.lineno}: {exc.message}",
                file=Path(where).name if exc.filename else file,
                asset=asset,
                field=field,
            )
        if isinstance(exc, TemplateLimit):
            return SpecError(f"template limit: {exc}", file=file, asset=asset, field=field)
        if isinstance(exc, RecursionError):
            message = "the template nests or includes itself too deeply (recursion)"
            return SpecError(message, file=file, asset=asset, field=field)
        if isinstance(exc, MemoryError):
            message = "the template needs too much memory to render"
            return SpecError(message, file=file, asset=asset, field=field)
        if isinstance(exc, UnicodeError):
            message = f"a template file is not UTF-8 text: {exc}"
            return SpecError(message, file=file, asset=asset, field=field)
        return SpecError(f"template error: {exc}", file=file, asset=asset, field=field)
