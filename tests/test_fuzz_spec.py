"""A property-based fuzz of hostile specs, templates and input files (issue 9).

Whatever the spec says, ``plan`` and ``build`` (offline provider) must return
an exit code in {0, 1, 2, 3} within the deadline, print no traceback or
"internal error", and write or delete nothing outside the project folder (a
sentinel folder beside it is snapshotted). ``HYPOTHESIS_PROFILE=deep`` runs
many more examples.
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assetgen.cli import main

settings.register_profile(
    "ci",
    max_examples=50,
    deadline=10_000,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
)
settings.register_profile(
    "deep", max_examples=1000, deadline=10_000, suppress_health_check=[HealthCheck.too_slow]
)
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")

HOSTILE_TEMPLATES = [
    "{% for i in range(10**9) %}x{% endfor %}",
    "{{ 10**100000 }}",
    "{{ 'x' * 10**10 }}",
    "{{ 'x' | center(2000000000) }}",
    "{% for a in range(99999) %}{% for b in range(99999) %}{% endfor %}{% endfor %}",
    "{% include 'self.j2' %}",
    "{% extends 'self.j2' %}",
    "{% macro m(n) %}{{ m(n + 1) }}{% endmacro %}{{ m(0) }}",
    "{% if true %}" * 2000 + "x" + "{% endif %}" * 2000,
    "{{ '{:>999999999}'.format('x') }}",
    "{{ ''.__class__.__mro__ }}",
    "{{ undefined_variable }}",
    "{% for %}",
    "{{ brand }} at dusk",
    "a cat",
]
PATHS = [
    "in/ok.png",
    "in/fifo",
    "in/bomb.png",
    "../outside/x.png",
    "/etc/passwd",
    "in/\0nul.png",
    "x" * 5000,
    "in/",
    "@hero",
    "@missing",
    "ünïcødé/ß.png",
    "",
]
FILENAMES = [
    "{name}.{ext}",
    "{name:>999999999}.{ext}",
    "{name!r}.{ext}",
    "../{name}.{ext}",
    "/abs/{name}.{ext}",
    "{name}/{width}/{hash8}.{ext}",
    "{nope}.{ext}",
    "{name}",
]

toml_scalars = st.one_of(
    st.integers(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True),
    st.booleans(),
    st.text(max_size=40),
    st.sampled_from(PATHS),
)
toml_values = st.recursive(
    toml_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
names = st.one_of(
    st.sampled_from(["hero", "hero-{{ i }}", "{{ 'x' * 10**9 }}", "a" * 5000, "../up", "é\u202e"]),
    st.text(max_size=30),
)
variant = st.fixed_dictionaries(
    {},
    optional={
        "width": st.integers(min_value=-5, max_value=200_000) | toml_values,
        "height": st.integers(min_value=1, max_value=64),
        "upscale": st.booleans(),
        "format": st.sampled_from(["png", "jpeg", "webp", "gif"]),
        "filename": st.sampled_from(FILENAMES) | st.text(max_size=20),
        "fit": st.sampled_from(["cover", "contain", "inside", "nope"]),
    },
)
asset = st.fixed_dictionaries(
    {"name": names},
    optional={
        "prompt": st.sampled_from(HOSTILE_TEMPLATES) | st.text(max_size=40),
        "template": st.sampled_from(["self.j2", "other.j2", "latin.j2", "../x.j2", "stock/nope"]),
        "image": st.sampled_from(PATHS),
        "mask": st.sampled_from(PATHS),
        "references": st.lists(st.sampled_from(PATHS), max_size=3),
        "matrix": st.dictionaries(
            st.sampled_from(["i", "j", "k"]), st.lists(st.integers(0, 3), max_size=3), max_size=2
        ),
        "variants": st.lists(variant, max_size=2),
        "size": st.sampled_from(["auto", "64x64", "1x1", "99999x99999", "axb"]),
        "vars": st.dictionaries(st.text(max_size=6), toml_values, max_size=3),
        "junk": toml_values,
        "offline": toml_values,  # a provider's per-asset table (offline takes none)
    },
)
specs = st.fixed_dictionaries(
    {
        "provider": st.fixed_dictionaries(
            {"name": st.just("offline")},
            optional={
                "timeout": st.floats(allow_nan=True) | st.integers(),
                "requests_per_minute": st.floats(allow_nan=True),
            },
        ),
        "asset": st.lists(asset, min_size=1, max_size=3),
    },
    optional={
        "build": st.fixed_dictionaries(
            {},
            optional={
                "out_dir": st.sampled_from([*PATHS, "public/img"]),
                "store_dir": st.sampled_from([*PATHS, "assets/generated"]),
                "templates": st.sampled_from(["prompts", "..", "/", "\0"]),
            },
        ),
        "defaults": st.fixed_dictionaries({"size": st.just("64x64"), "quality": st.just("low")}),
        "vars": st.dictionaries(st.text(max_size=6), toml_values, max_size=3),
    },
)
PREFIXES = [
    "",
    "deep = " + "[" * 900 + "]" * 900,
    'nul = "a\\u0000b"',
    "name\u0000 = 1",
]
"""TOML the writer cannot make: prepended (top-level) to the generated spec."""
KNOWN_FAILURES = {
    "integer over 4300 digits": "big = 1" + "0" * 5000,
    "inline tables 900 deep": "deeper = " + "{a = " * 900 + "1" + "}" * 900,
}
"""Found by this fuzzer in the spec reader (not fixed here): tracebacks."""
template_files = st.dictionaries(
    st.sampled_from(["self.j2", "other.j2"]), st.sampled_from(HOSTILE_TEMPLATES), max_size=2
)


def _clean(value: Any) -> Any:
    """What tomli_w can write: no None, no NaN keys trouble, strings only as keys."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def _populate(project: Path, files: dict[str, str]) -> None:
    from PIL import Image

    from .test_bounds import png_header

    (project / "in").mkdir(parents=True)
    Image.new("RGB", (32, 32), (10, 20, 30)).save(project / "in" / "ok.png")
    png_header(project / "in" / "bomb.png", (12000, 12000))
    os.mkfifo(project / "in" / "fifo")
    (project / "prompts").mkdir()
    (project / "prompts" / "latin.j2").write_bytes(b"caf\xe9 \xff")
    for name, text in files.items():
        (project / "prompts" / name).write_text(text, encoding="utf-8")


def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    found = {}
    for path in sorted(folder.rglob("*")):
        stat = path.lstat()
        found[str(path.relative_to(folder))] = (stat.st_size, stat.st_mtime_ns)
    return found


def _run(project: Path, command: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["-C", str(project), command])
    return code, err.getvalue() + out.getvalue()


@settings(settings.get_profile(PROFILE))
@given(
    spec=specs,
    files=template_files,
    prefix=st.sampled_from(PREFIXES),
    text=st.none() | st.text(max_size=200),
)
def test_hostile_specs_fail_cleanly(
    spec: dict[str, Any], files: dict[str, str], prefix: str, text: str | None
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        sentinel = base / "outside"
        sentinel.mkdir()
        (sentinel / "x.png").write_bytes(b"keep me")
        project = base / "project"
        project.mkdir()
        _populate(project, files)
        source = text if text is not None else prefix + "\n" + tomli_w.dumps(_clean(spec))
        (project / "assetgen.toml").write_text(source, encoding="utf-8")
        before = _snapshot(sentinel), sorted(p.name for p in base.iterdir())
        for command in ("plan", "build"):
            code, output = _run(project, command)
            assert code in (0, 1, 2, 3), (command, code, output)
            assert "Traceback" not in output, (command, output)
            assert "internal error" not in output, (command, output)
        assert (_snapshot(sentinel), sorted(p.name for p in base.iterdir())) == before


@pytest.mark.parametrize("prefix", KNOWN_FAILURES.values(), ids=KNOWN_FAILURES.keys())
def test_what_the_fuzzer_found_stays_a_spec_error(prefix: str) -> None:
    """Reproducers the fuzzer found (tracebacks in the spec reader, since fixed)."""
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp)
        spec = {"provider": {"name": "offline"}, "asset": [{"name": "a", "prompt": "a cat"}]}
        (project / "assetgen.toml").write_text(prefix + "\n" + tomli_w.dumps(spec))
        code, output = _run(project, "plan")
        assert code == 2 and "Traceback" not in output, output
