"""Guards of the public exports, the import layers and library ownership."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import assetgen

PACKAGE = Path(assetgen.__file__).parent

LAYERS = {
    0: {
        "editor_temps",
        "__init__",
        "errors",
        "events",
        "fsutil",
        "checks",
        "spec_types",
        "filenames",
        "wording",
        "secrets",
        "paths",
        "limits",
        "reasons",
        "params",
    },
    1: {
        "spec",
        "validation",
        "prompts",
        "hashing",
        "masks",
        "layout",
        "chroma",
        "provenance",
        "provenance_keys",
        "prices",
        "options",
        "provider_spec",
        "provider_registry",
    },
    2: {"graph", "dependencies"},
    3: {
        "store",
        "lockfile",
        "variants",
        "providers",
        "manifest",
        "report",
        "batch_state",
        "batch_options",
        "provenance_lock",
        "state_cache",
        "key_memo",
        "keyrecords",
        "storage",
        "remote_storage",
    },
    4: {"cache_tiers", "plan", "shards", "budget", "outputs", "models_report"},
    5: {"project", "verify", "gc", "provenance_verify"},
    6: {"build", "batching", "cache_commands"},
    7: {"session", "watch", "gallery"},
    8: {"console", "scaffold", "cli", "__main__"},
}
LAYER_OF = {module: layer for layer, modules in LAYERS.items() for module in modules}

OWNERS = {
    "httpx": {"providers/openai/provider.py", "providers/openai/batch.py"},
    "jinja2": {"prompts.py", "gallery.py"},
    "tomli_w": {"lockfile.py"},
    "fsspec": {"remote_storage.py"},
    "watchfiles": {"watch.py"},
    "c2pa": {"provenance.py"},
    "cryptography": {"provenance_keys.py"},
    "PIL": {
        "variants.py",
        "masks.py",
        "chroma.py",
        "store.py",
        "filenames.py",
        "gallery.py",
        "providers/offline_render.py",
        "providers/openai/inputs.py",
        "providers/decode.py",
        "providers/contract.py",
    },
}


def modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def top_module(path: Path) -> str:
    return path.relative_to(PACKAGE).parts[0].removesuffix(".py")


def imports(path: Path) -> list[tuple[str, int]]:
    """(imported name, level) for every import in the file, nested ones too."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.extend((alias.name, 0) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            found.append((node.module or "", node.level))
    return found


def internal_target(path: Path, name: str, level: int) -> str | None:
    """The top-level assetgen module an import refers to, if it is internal."""
    if level == 0:
        parts = name.split(".")
        return parts[1] if parts[0] == "assetgen" and len(parts) > 1 else None
    base = path.relative_to(PACKAGE).parent.parts
    base = base[: len(base) - (level - 1)] if level > 1 else base
    target = [*base, *(name.split(".") if name else [])]
    return target[0] if target else None


def test_every_module_has_a_layer() -> None:
    assert {top_module(p) for p in modules()} <= set(LAYER_OF)


def test_modules_import_only_from_their_layer_or_below() -> None:
    violations = []
    for path in modules():
        own = LAYER_OF[top_module(path)]
        for name, level in imports(path):
            target = internal_target(path, name, level)
            if target and LAYER_OF.get(target, 0) > own:
                violations.append(f"{path.relative_to(PACKAGE)} imports {target}")
    assert violations == []


def module_graph() -> dict[str, set[str]]:
    """Top-level module -> the internal top-level modules it imports (itself excluded)."""
    edges: dict[str, set[str]] = {}
    for path in modules():
        own = top_module(path)
        targets = {internal_target(path, name, level) for name, level in imports(path)}
        edges.setdefault(own, set()).update(t for t in targets if t and t != own)
    return edges


def test_no_import_cycles() -> None:
    """Layers forbid upward imports; this forbids cycles inside one layer too."""
    edges = module_graph()
    state: dict[str, str] = {}
    cycles: list[str] = []

    def visit(module: str, path: list[str]) -> None:
        state[module] = "active"
        for target in sorted(edges.get(module, ())):
            if state.get(target) == "active":
                cycles.append(" -> ".join([*path[path.index(target) :], target]))
            elif target not in state:
                visit(target, [*path, target])
        state[module] = "done"

    for module in sorted(edges):
        if module not in state:
            visit(module, [module])
    assert cycles == []


def test_the_ownership_list_is_current() -> None:
    """Every listed owner exists and still imports its library."""
    stale = []
    for library, owners in OWNERS.items():
        for owner in owners:
            path = PACKAGE / owner
            names = (
                {name.split(".")[0] for name, level in imports(path)} if path.exists() else set()
            )
            if library not in names:
                stale.append(f"{owner} no longer imports {library}")
    assert stale == []


def test_each_third_party_library_has_its_owners() -> None:
    violations = []
    for path in modules():
        relative = path.relative_to(PACKAGE).as_posix()
        for name, level in imports(path):
            library = name.split(".")[0]
            if level == 0 and library in OWNERS and relative not in OWNERS[library]:
                violations.append(f"{relative} imports {library}")
    assert violations == []


def test_public_exports_resolve() -> None:
    assert sorted(assetgen.__all__) == sorted(
        [
            "__version__",
            "AssetgenError",
            "SpecError",
            "ProviderError",
            "load_spec",
            "Spec",
            "Session",
            "CheckResult",
            "open_project",
            "Project",
            "Plan",
            "build",
            "BuildOptions",
            "BuildReport",
            "create_provider",
            "Event",
            "main",
        ]
    )
    for name in assetgen.__all__:
        assert getattr(assetgen, name) is not None


def test_version_starts_without_heavy_imports() -> None:
    code = (
        "import sys; from assetgen.cli import parser; "
        "heavy = [m for m in ('PIL', 'httpx', 'jinja2', 'watchfiles', 'c2pa', 'cryptography') "
        "if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
    version = subprocess.run(
        [sys.executable, "-m", "assetgen", "--version"], capture_output=True, text=True, check=True
    )
    assert version.stdout.strip() == f"assetgen {assetgen.__version__}"
