"""Prompt templates: a sandboxed Jinja2 environment and whitespace normalisation.

Templates come from the project's template folder (``[build] templates``)
and from the stock presets shipped with assetgen, reachable from any spec as
``stock/<file>`` (``template = "stock/photo.j2"`` or
``{% extends "stock/photo.j2" %}``). Rendering is strict: an undefined
variable is an error naming the asset and the variable, never an empty string
sent to a paid API.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from .errors import SpecError

STOCK_PREFIX = "stock"


def normalise(text: str) -> str:
    """Collapse every run of whitespace to one space: reformatting costs nothing."""
    return " ".join(text.split())


def stock_templates_dir() -> Path:
    """Where the stock templates are: inside the installed package, else the repo."""
    packaged = Path(str(resources.files("assetgen"))) / "templates"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parent.parent / "templates"


@cache
def environment(templates_dir: Path) -> SandboxedEnvironment:
    """One environment per template folder, so compiled templates are reused."""
    loader = jinja2.ChoiceLoader(
        [
            jinja2.FileSystemLoader(str(templates_dir)),
            jinja2.PrefixLoader(
                {STOCK_PREFIX: jinja2.FileSystemLoader(str(stock_templates_dir()))}
            ),
        ]
    )
    return SandboxedEnvironment(
        loader=loader,
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=False,
    )


class PromptRenderer:
    """Renders names, inline prompts and template files for one project."""

    def __init__(self, templates_dir: Path, *, spec_file: str) -> None:
        self.templates_dir = templates_dir
        self.spec_file = spec_file
        self.env = environment(templates_dir)

    def render_string(
        self, source: str, variables: dict[str, Any], *, asset: str, field: str
    ) -> str:
        """Render an inline template (a name, an inline prompt, an input path)."""
        try:
            return self.env.from_string(source).render(variables)
        except jinja2.TemplateError as exc:
            raise self._error(exc, asset=asset, field=field, file=self.spec_file) from exc

    def render_file(self, name: str, variables: dict[str, Any], *, asset: str) -> str:
        """Render the template file ``name`` from the project or stock folder."""
        try:
            return self.env.get_template(name).render(variables)
        except jinja2.TemplateNotFound as exc:
            missing = exc.name or name
            raise SpecError(
                f"template {missing!r} not found in {self.templates_dir.name}/ "
                f"(stock templates: '{STOCK_PREFIX}/<file>')",
                file=self.spec_file,
                asset=asset,
                field="template",
            ) from exc
        except jinja2.TemplateError as exc:
            raise self._error(exc, asset=asset, field="template", file=name) from exc

    def render_prompt(
        self, prompt: str | None, template: str | None, variables: dict[str, Any], *, asset: str
    ) -> str:
        """The asset's normalised prompt from its inline ``prompt`` or its ``template``."""
        if template is not None:
            text = self.render_file(template, variables, asset=asset)
        else:
            text = self.render_string(prompt or "", variables, asset=asset, field="prompt")
        text = normalise(text)
        if not text:
            raise SpecError(
                "the prompt renders to nothing", file=self.spec_file, asset=asset, field="prompt"
            )
        return text

    @staticmethod
    def _error(exc: jinja2.TemplateError, *, asset: str, field: str, file: str) -> SpecError:
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
        return SpecError(f"template error: {exc}", file=file, asset=asset, field=field)
