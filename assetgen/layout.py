"""Which folders of a project assetgen owns, and the rules that keep them apart.

assetgen deletes and overwrites files in its output folders (``out_dir``,
``store_dir``) and rewrites its output files (``lockfile``, ``manifest``), so
none of them may be, contain or sit inside what it does not own: the project
folder itself, the spec, ``.git``, ``.assetgen`` (local state), the prompt
templates or an input image. Inputs it reads (and uploads) must be inside the
project, or inside a folder listed in ``[build] allow_inputs``.

Every rule compares *resolved* paths (symlinks followed), so an in-project
symlink to another place counts as that other place.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .paths import (
    UnresolvablePath,
    blocking_file,
    file_kind_problem,
    is_within,
    overlap,
    path_text_problem,
    real_path,
)
from .spec_types import DEFAULT_STATE_DIR, BuildConfig

Problem = tuple[str, str]
"""``(field, message)``: a broken rule, for the spec reader to locate."""

ALLOW_HINT = "list its folder in [build] allow_inputs to allow it"


@dataclass(frozen=True)
class Layout:
    """The resolved locations of a project's folders and files."""

    root: Path
    spec: Path
    state: Path
    git: Path
    out: Path
    store: Path
    templates: Path
    lockfile: Path
    manifest: Path | None
    allowed_inputs: tuple[Path, ...] = ()

    def shown(self, path: Path) -> str:
        """``path`` as messages show it: project-relative when inside the project."""
        if is_within(path, self.root):
            return path.relative_to(self.root).as_posix() or "."
        return str(path)

    def input_problem(self, path: Path) -> str | None:
        """Why the resolved input ``path`` may not be read, or ``None`` if it may."""
        if not any(is_within(path, folder) for folder in (self.root, *self.allowed_inputs)):
            return f"resolves to {path}, outside the project folder; {ALLOW_HINT}"
        for folder, what in ((self.store, "store_dir"), (self.out, "out_dir")):
            if is_within(path, folder):
                return (
                    f"is inside {what} ({self.shown(folder)}), which assetgen writes; "
                    "keep input art elsewhere (an asset's own image is '@name')"
                )
        for file, what in ((self.lockfile, "lockfile"), (self.manifest, "manifest")):
            if path == file:
                return f"is also [build] {what}, which assetgen overwrites"
        return None


def build_layout(root: Path, spec: Path, build: BuildConfig) -> tuple[Layout | None, list[Problem]]:
    """Resolve every folder of ``build``; report the ones that cannot be resolved."""
    problems: list[Problem] = []
    resolved: dict[str, Path | None] = {}
    named = {
        "out_dir": build.out_dir,
        "store_dir": build.store_dir,
        "templates": build.templates,
        "lockfile": build.lockfile,
        "manifest": build.manifest,
    }
    for field, value in named.items():
        resolved[field] = None if value is None else _resolve(root, value, field, problems)
    allowed = tuple(
        _resolve(root, value, f"allow_inputs[{i}]", problems)
        for i, value in enumerate(build.allow_inputs)
    )
    if problems:
        return None, problems
    layout = Layout(
        root=root,
        spec=spec,
        state=root / DEFAULT_STATE_DIR,
        git=root / ".git",
        out=resolved["out_dir"],  # type: ignore[arg-type]
        store=resolved["store_dir"],  # type: ignore[arg-type]
        templates=resolved["templates"],  # type: ignore[arg-type]
        lockfile=resolved["lockfile"],  # type: ignore[arg-type]
        manifest=resolved["manifest"],
        allowed_inputs=tuple(p for p in allowed if p is not None),
    )
    return layout, problems


def _resolve(root: Path, value: str, field: str, problems: list[Problem]) -> Path | None:
    try:
        return real_path(root / value)
    except UnresolvablePath as exc:
        problems.append((field, str(exc)))
        return None


def layout_problems(layout: Layout) -> list[Problem]:
    """Every broken rule between the project's output folders and what they must not touch."""
    return [
        *_escapes(layout),
        *_folder_problems(layout, "store_dir", layout.store),
        *_folder_problems(layout, "out_dir", layout.out),
        *_store_problems(layout),
        *_out_problems(layout),
        *_file_problems(layout, "lockfile", layout.lockfile),
        *(_file_problems(layout, "manifest", layout.manifest) if layout.manifest else []),
        *_templates_problems(layout),
    ]


def _escapes(layout: Layout) -> list[Problem]:
    """Output paths that leave the project through a symlinked folder."""
    outputs = {
        "out_dir": layout.out,
        "store_dir": layout.store,
        "lockfile": layout.lockfile,
        "manifest": layout.manifest,
    }
    return [
        (field, f"resolves to {path} through a symlink, outside the project folder")
        for field, path in outputs.items()
        if path is not None and not is_within(path, layout.root)
    ]


def _folder_problems(layout: Layout, field: str, folder: Path) -> list[Problem]:
    """What an output folder (``out_dir``, ``store_dir``) may never be, contain or be in."""
    if not is_within(folder, layout.root):
        return []  # reported by _escapes
    if folder == layout.root:
        return [(field, "is the project folder itself; give it a folder of its own")]
    problems: list[Problem] = []
    for owned, what in ((layout.state, DEFAULT_STATE_DIR), (layout.git, ".git")):
        if is_within(folder, owned):
            problems.append((field, f"is inside {what}/, which assetgen does not own"))
        elif is_within(owned, folder):
            problems.append((field, f"contains {what}/, which assetgen does not own"))
    for file, what in ((layout.spec, "the spec"), (layout.lockfile, "the lockfile")):
        if is_within(file, folder):
            problems.append((field, f"contains {what} ({layout.shown(file)})"))
    blocker = blocking_file(folder, layout.root, include_self=True)
    if blocker is not None:
        problems.append((field, f"{layout.shown(blocker)} is a file, not a folder"))
    return problems


def _store_problems(layout: Layout) -> list[Problem]:
    store, shown = layout.store, layout.shown
    problems: list[Problem] = []
    if is_within(layout.out, store):
        problems.append(
            ("store_dir", f"contains out_dir ({shown(layout.out)}); give each its own folder")
        )
    if is_within(layout.templates, store) and layout.templates != layout.root:
        problems.append(("store_dir", f"contains the templates folder ({shown(layout.templates)})"))
    return problems


def _out_problems(layout: Layout) -> list[Problem]:
    out, shown = layout.out, layout.shown
    problems: list[Problem] = []
    # out_dir inside (or equal to) the store is reported once, on store_dir
    if is_within(layout.store, out) and layout.store != out:
        problems.append(("out_dir", f"contains store_dir ({shown(layout.store)})"))
    # Every folder is inside a templates folder that is the project root; that is fine.
    if layout.templates != layout.root and overlap(out, layout.templates):
        problems.append(("out_dir", f"overlaps the templates folder ({shown(layout.templates)})"))
    return problems


def _file_problems(layout: Layout, field: str, path: Path) -> list[Problem]:
    """What the lockfile or the manifest may never be."""
    if not is_within(path, layout.root):
        return []  # reported by _escapes
    shown = layout.shown
    checks = [
        (path == layout.spec, "is the spec file"),
        (field == "manifest" and path == layout.lockfile, "is the lockfile"),
        (is_within(path, layout.store), f"is inside store_dir ({shown(layout.store)})"),
        (
            field == "lockfile" and is_within(path, layout.out),
            f"is inside out_dir ({shown(layout.out)}), which holds only variants",
        ),
        (is_within(path, layout.state), f"is inside {DEFAULT_STATE_DIR}/, assetgen's local state"),
        (is_within(path, layout.git), "is inside .git/"),
        (path.is_dir(), "is a folder; name a file"),
    ]
    problems = [(field, message) for failed, message in checks if failed]
    blocker = blocking_file(path, layout.root, include_self=False)
    if blocker is not None:
        problems.append((field, f"{shown(blocker)} is a file, not a folder"))
    return problems


def _templates_problems(layout: Layout) -> list[Problem]:
    """Templates are read and sent as prompts: the same rule as input images."""
    templates = layout.templates
    if any(is_within(templates, folder) for folder in (layout.root, *layout.allowed_inputs)):
        return []
    return [("templates", f"resolves to {templates}, outside the project folder; {ALLOW_HINT}")]


def check_input(layout: Layout, source: str, root: Path) -> tuple[Path | None, str | None]:
    """The resolved file of the input ``source`` (project-relative), or why it is refused."""
    reason = path_text_problem(source)
    if reason:
        return None, reason
    try:
        path = real_path(root / source)
    except UnresolvablePath as exc:
        return None, str(exc)
    reason = layout.input_problem(path) or file_kind_problem(path)
    return (None, reason) if reason else (path, None)
