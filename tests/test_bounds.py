"""Hostile input becomes a located error in bounded time and memory (issue 9, "Bad input")."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from assetgen.cli import main

from .projects import make_project, write

HOSTILE_PROMPTS = {
    "huge range": "{% for i in range(10**9) %}x{% endfor %}",
    "huge power": "{{ 10**100000 }}",
    "huge repeat": "{{ 'x' * 10**10 }}",
    "huge list repeat": "{{ ([1] * 10**9) | length }}",
    "huge center": "{{ 'x' | center(2000000000) }}",
    "huge indent": "{{ 'x\ny' | indent(2000000000) }}",
    "huge format filter": "{{ '%2000000000s' | format('x') }}",
    "huge percent": "{{ '%2000000000s' % 'x' }}",
    "huge str.format": "{{ '{:>2000000000}'.format('x') }}",
    "nested format width": "{{ '{:{}}'.format('x', 2000000000) }}",
    "nested loops": (
        "{% for a in range(99999) %}{% for b in range(99999) %}{% endfor %}{% endfor %}"
    ),
    "nested small loops": (
        "{% for a in range(9999) %}{% for b in range(9999) %}{% endfor %}{% endfor %}"
    ),
    "squaring": (
        "{% set ns = namespace(v=3) %}{% for i in range(40) %}{% set ns.v = ns.v * ns.v %}"
        "{% endfor %}{{ ns.v }}"
    ),
    "long output": "{% for i in range(10000) %}{{ 'word ' * 20 }}{% endfor %}",
    "recursive macro": "{% macro m(n) %}{{ m(n + 1) }}{% endmacro %}{{ m(0) }}",
    "deep ifs": "{% if true %}" * 2000 + "x" + "{% endif %}" * 2000,
}


def run(root: Path, *argv: str) -> tuple[int, str]:
    return main(["-C", str(root), *argv]), ""


def check_refused(
    root: Path, capsys: pytest.CaptureFixture[str], *needles: str, command: str = "plan"
) -> str:
    start = time.monotonic()
    code = main(["-C", str(root), command])
    elapsed = time.monotonic() - start
    err = capsys.readouterr().err
    assert code == 2, err
    assert elapsed < 10, elapsed
    assert "Traceback" not in err and "internal error" not in err, err
    for needle in needles:
        assert needle in err, err
    return err


@pytest.mark.parametrize("prompt", HOSTILE_PROMPTS.values(), ids=HOSTILE_PROMPTS.keys())
def test_hostile_inline_prompt_is_a_located_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], prompt: str
) -> None:
    escaped = prompt.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    make_project(tmp_path, f'[[asset]]\nname = "hero"\nprompt = "{escaped}"\n')
    check_refused(tmp_path, capsys, "assetgen.toml", "asset 'hero'", "field 'prompt'")


@pytest.mark.parametrize(
    ("files", "needle"),
    [
        ({"self.j2": "{% include 'self.j2' %}"}, "recursion"),
        ({"self.j2": "{% include 'a.j2' %}", "a.j2": "{% include 'self.j2' %}"}, "recursion"),
        ({"self.j2": "{% extends 'self.j2' %}"}, "template"),
        ({"self.j2": "{% if true %}" * 2000 + "x" + "{% endif %}" * 2000}, "template"),
    ],
    ids=["self-include", "mutual includes", "self-extends", "deep ifs"],
)
def test_hostile_template_file_is_a_located_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], files: dict[str, str], needle: str
) -> None:
    for name, text in files.items():
        write(tmp_path / "prompts" / name, text)
    make_project(tmp_path, '[[asset]]\nname = "hero"\ntemplate = "self.j2"\n')
    check_refused(tmp_path, capsys, "asset 'hero'", "field 'template'", needle)


def test_template_file_not_utf8_is_a_located_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "prompts").mkdir(parents=True)
    (tmp_path / "prompts" / "latin.j2").write_bytes(b"caf\xe9 \xff\xfe photo")
    make_project(tmp_path, '[[asset]]\nname = "hero"\ntemplate = "latin.j2"\n')
    check_refused(tmp_path, capsys, "asset 'hero'", "field 'template'", "UTF-8")


def test_prompt_longer_than_the_api_limit_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_project(tmp_path, '[[asset]]\nname = "hero"\nprompt = "{{ \'word \' * 8000 }}"\n')
    check_refused(tmp_path, capsys, "asset 'hero'", "32000")


def test_ordinary_numbers_and_formats_still_render(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    prompt = (
        "in {{ 2024 }}, {{ 2 ** 10 }} {{ '%05.1f' % 3.14159 }} {{ '{:>8}'.format('x') }} "
        "{{ 'ab' * 3 }} {{ 'x' | center(9) }}{% for i in range(3) %}{{ i }}{% endfor %}"
    )
    make_project(tmp_path, f'[[asset]]\nname = "hero"\nprompt = "{prompt}"\n')
    assert main(["-C", str(tmp_path), "plan"]) == 0, capsys.readouterr().err


@pytest.mark.parametrize(
    "pattern", ["{name:>999999999}.{ext}", "{name!r}.{ext}", "{name}-{width:09d}.{ext}"]
)
def test_filename_format_specs_are_refused_before_formatting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], pattern: str
) -> None:
    make_project(
        tmp_path,
        f'[[asset]]\nname = "hero"\nprompt = "a hero"\n'
        f'variants = [{{ width = 8, filename = "{pattern}" }}]\n',
    )
    check_refused(tmp_path, capsys, "asset 'hero'", "filename", "plain {")


def png_header(path: Path, size: tuple[int, int]) -> Path:
    """A small PNG whose header claims ``size``: only the first rows exist (never decodable)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", size[0], size[1], 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\0" * (size[0] + 1) * 4)
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("side", [12000, 20000])
@pytest.mark.parametrize("field", ["image", "references"])
def test_huge_input_image_is_refused_before_decoding(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], side: int, field: str
) -> None:
    png_header(tmp_path / "in" / "big.png", (side, side))
    value = '"in/big.png"' if field == "image" else '["in/big.png"]'
    make_project(tmp_path, f'[[asset]]\nname = "hero"\nprompt = "a hero"\n{field} = {value}\n')
    start = time.monotonic()
    code = main(["-C", str(tmp_path), "build"])
    err = capsys.readouterr().err
    assert code != 0 and time.monotonic() - start < 10
    assert "Traceback" not in err and "internal error" not in err, err
    assert "asset 'hero'" in err and "big.png" in err, err
    assert "pixels" in err, err


def test_open_image_checks_pixels_before_decoding(tmp_path: Path) -> None:
    from assetgen.errors import InputImageError
    from assetgen.masks import open_image

    path = png_header(tmp_path / "big.png", (12000, 12000))
    with pytest.raises(InputImageError, match="pixels"):
        open_image(path, asset="hero", field="image")


@pytest.fixture
def alarm() -> object:
    """Fail instead of hanging forever (a FIFO read blocks)."""
    import signal

    def stop(signum: int, frame: object) -> None:
        raise TimeoutError("hung")

    old = signal.signal(signal.SIGALRM, stop)
    signal.alarm(20)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


@pytest.mark.parametrize("kind", ["fifo", "dev-zero"])
def test_non_regular_input_never_hangs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], alarm: object, kind: str
) -> None:
    import os

    target = tmp_path / "in" / "pipe.png"
    target.parent.mkdir(parents=True)
    if kind == "fifo":
        os.mkfifo(target)
    else:
        target.symlink_to("/dev/zero")
    make_project(tmp_path, '[[asset]]\nname = "hero"\nprompt = "a hero"\nimage = "in/pipe.png"\n')
    code = main(["-C", str(tmp_path), "build"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err and "internal error" not in err, err
    assert "pipe.png" in err, err


def test_non_regular_files_are_not_hashed(tmp_path: Path, alarm: object) -> None:
    import os

    from assetgen.hashing import HashCache, NotARegularFile, sha256_file

    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(NotARegularFile):
        sha256_file(tmp_path / "fifo")
    assert HashCache().sha256_or_none(tmp_path / "fifo") is None
    assert HashCache().sha256_or_none(Path("/dev/zero")) is None


def test_huge_upscaled_variant_is_a_per_asset_failure(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_project(
        tmp_path,
        """
        [[asset]]
        name = "hero"
        prompt = "a hero"
        variants = [{ width = 100000, upscale = true }]

        [[asset]]
        name = "small"
        prompt = "a small one"
        variants = [{ width = 64 }]
        """,
    )
    code = main(["-C", str(tmp_path), "build"])
    err = capsys.readouterr().err
    assert code == 1, err
    assert "Traceback" not in err and "internal error" not in err, err
    assert "hero" in err and "16384" in err, err
    assert list((tmp_path / "public" / "img").glob("small*"))


def test_watch_builds_saves_made_while_another_build_holds_the_lock(tmp_path: Path) -> None:
    from assetgen.project import open_project

    from .test_watch import WatchProcess, save, site

    root = site(tmp_path / "site")
    spec = root / "assetgen.toml"
    w = WatchProcess(root, "--provider", "offline")
    try:
        w.started()
        project = open_project(spec, provider="offline")
        with project.exclusive(purpose="build", clean=False):
            save(spec, spec.read_text().replace("sunny", "stormy"))
            assert "building after it" in w.until(" → ")
            time.sleep(1.2)  # retried while busy: still one message, no error
        rebuilt = w.until(" → ", timeout=20)
        assert "generated sky" in rebuilt, w.seen
        assert not any("error" in line for line in w.seen), w.seen
    finally:
        w.close()
