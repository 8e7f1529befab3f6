"""The spec may not point assetgen at what it does not own, nor make it hang or blow up.

Output folders and files stay apart from the project's own files (issue 9, items 1, 4
and 5), inputs stay inside the project unless allowed (item 6), and hostile specs
(deep nesting, huge integers, NUL bytes, long names, huge matrices) are located spec
errors (exit 2) in bounded time.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from assetgen.cli import main
from assetgen.paths import resolve_inside
from assetgen.project import open_project

from .projects import make_image, write

BARE = '[[asset]]\nname = "hero"\nprompt = "a {{ brand }} hero"\n'
ASSET = BARE + "variants = [{ width = 64 }]\n"
EDIT = (
    '[[asset]]\nname = "edit"\nprompt = "an edit"\nimage = "{image}"\n'
    "variants = [{{ width = 64 }}]\n"
)


def project(root: Path, assets: str = ASSET, **build: object) -> Path:
    """A project at ``root``: ``[build]`` = the test defaults overridden by ``build``."""
    fields = {
        "out_dir": "public/img",
        "store_dir": "assets/generated",
        "templates": "prompts",
        **build,
    }
    lines = "".join(f"{k} = {json.dumps(v)}\n" for k, v in fields.items() if v is not None)
    text = (
        f'[build]\n{lines}\n[provider]\nname = "offline"\nmodel = "sketch"\n\n'
        '[defaults]\nsize = "256x256"\nquality = "low"\n\n[vars]\nbrand = "Acme"\n\n' + assets
    )
    root.mkdir(parents=True, exist_ok=True)
    (root / "prompts").mkdir(exist_ok=True)
    spec = root / "assetgen.toml"
    spec.write_text(text, encoding="utf-8")
    return spec


def edit_project(root: Path, image: str, **build: object) -> Path:
    return project(root, EDIT.format(image=image), **build)


def run(root: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["-C", str(root), *args])
    captured = capsys.readouterr()
    return code, captured.err


def refused(root: Path, capsys: pytest.CaptureFixture[str], *args: str) -> str:
    """Run ``assetgen plan`` (or ``args``); assert a clean spec error; return stderr."""
    code, err = run(root, capsys, *(args or ("plan",)))
    assert code == 2, err
    assert "Traceback" not in err and err.startswith("error")
    assert "assetgen.toml" in err
    return err


# -- item 1: store_dir and out_dir never overlap what assetgen does not own ------------


@pytest.mark.parametrize(
    ("build", "field", "words"),
    [
        ({"store_dir": "."}, "build.store_dir", "is the project folder itself"),
        (
            {"store_dir": "static", "out_dir": "static/img"},
            "build.store_dir",
            "contains out_dir (static/img)",
        ),
        ({"store_dir": "site", "out_dir": "site"}, "build.store_dir", "contains out_dir (site)"),
        ({"store_dir": "prompts"}, "build.store_dir", "contains the templates folder (prompts)"),
        ({"store_dir": ".git/store"}, "build.store_dir", "is inside .git/"),
        ({"store_dir": ".assetgen"}, "build.store_dir", "is inside .assetgen/"),
        ({"store_dir": ".assetgen/cache"}, "build.store_dir", "is inside .assetgen/"),
        ({"out_dir": "."}, "build.out_dir", "is the project folder itself"),
        (
            {"out_dir": "public", "store_dir": "public/originals"},
            "build.out_dir",
            "contains store_dir (public/originals)",
        ),
        ({"out_dir": "prompts/img"}, "build.out_dir", "overlaps the templates folder (prompts)"),
        ({"out_dir": "site", "templates": "site/prompts"}, "build.out_dir", "templates folder"),
        ({"out_dir": ".assetgen/out"}, "build.out_dir", "is inside .assetgen/"),
        (
            {"lockfile": "public/img/assetgen.lock"},
            "build.lockfile",
            "is inside out_dir (public/img)",
        ),
    ],
)
def test_output_folders_must_not_overlap(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    build: dict[str, str],
    field: str,
    words: str,
) -> None:
    (tmp_path / ".git").mkdir()
    project(tmp_path, **build)
    err = refused(tmp_path, capsys)
    assert f"field {field!r}" in err and words in err, err


def test_store_dir_containing_an_input_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_image(tmp_path / "art/base.png")
    edit_project(tmp_path, "art/base.png", store_dir="art")
    err = refused(tmp_path, capsys)
    assert "asset 'edit': field 'image'" in err and "is inside store_dir (art)" in err


def test_out_dir_containing_an_input_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_image(tmp_path / "public/img/logo.png")
    edit_project(tmp_path, "public/img/logo.png")
    err = refused(tmp_path, capsys)
    assert "field 'image'" in err and "is inside out_dir (public/img)" in err


def test_templated_input_inside_the_store_is_refused_after_rendering(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_image(tmp_path / "assets/generated/ab/x.png")
    assets = EDIT.format(image="{{ where }}/ab/x.png").replace(
        'name = "edit"', 'name = "edit"\nvars = { where = "assets/generated" }'
    )
    project(tmp_path, assets)
    err = refused(tmp_path, capsys)
    assert "asset 'edit': field 'image'" in err and "is inside store_dir" in err


def test_overlap_is_judged_on_resolved_paths(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``storelink -> public`` is the folder that holds out_dir, whatever it is called."""
    (tmp_path / "public").mkdir()
    (tmp_path / "storelink").symlink_to("public")
    project(tmp_path, store_dir="storelink")
    err = refused(tmp_path, capsys)
    assert "field 'build.store_dir': 'storelink' contains out_dir (public/img)" in err


def test_gc_with_the_store_at_the_root_deletes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The reproducer: ``store_dir = "."`` made ``gc --yes`` delete ``.git``."""
    write(tmp_path / ".git/HEAD", "ref: refs/heads/main\n")
    write(tmp_path / "ab/cd.png", "not an object")
    project(tmp_path, store_dir=".")
    before = sorted(p for p in tmp_path.rglob("*"))
    refused(tmp_path, capsys, "gc", "--yes")
    assert sorted(p for p in tmp_path.rglob("*")) == before


def test_the_default_layout_and_the_draft_build_still_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Draft paths live under .assetgen/draft: assetgen's own, so they are allowed."""
    make_image(tmp_path / "art/base.png")
    edit_project(tmp_path, "art/base.png", manifest="public/img/assets.json")
    code, err = run(tmp_path, capsys, "build")
    assert code == 0, err
    assert (tmp_path / "public/img/assets.json").is_file()
    draft = open_project(tmp_path / "assetgen.toml", draft=True)
    assert draft.spec.build.out_dir.startswith(".assetgen/draft/")
    assert [step.name for step in draft.plan().steps] == ["edit"]
    code, err = run(tmp_path, capsys, "gallery", "--draft")
    assert code == 0, err


# -- item 4: output files never name the project's own files ---------------------------


@pytest.mark.parametrize(
    ("build", "field", "words"),
    [
        ({"manifest": "assetgen.toml"}, "build.manifest", "is the spec file"),
        ({"manifest": "assetgen.lock"}, "build.manifest", "is the lockfile"),
        ({"lockfile": "assetgen.toml"}, "build.lockfile", "is the spec file"),
        (
            {"lockfile": "data.lock", "manifest": "data.lock"},
            "build.manifest",
            "is the lockfile",
        ),
        ({"lockfile": "public"}, "build.lockfile", "is a folder"),
        ({"manifest": "prompts"}, "build.manifest", "is a folder"),
        (
            {"manifest": "assets/generated/assets.json"},
            "build.manifest",
            "is inside store_dir (assets/generated)",
        ),
        (
            {"lockfile": "assetgen.toml/assetgen.lock"},
            "build.lockfile",
            "assetgen.toml is a file, not a folder",
        ),
        ({"out_dir": "assetgen.toml"}, "build.out_dir", "assetgen.toml is a file, not a folder"),
        ({"manifest": ".assetgen/hashes.json"}, "build.manifest", "is inside .assetgen/"),
    ],
)
def test_output_files_must_not_name_the_projects_own_files(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    build: dict[str, str],
    field: str,
    words: str,
) -> None:
    (tmp_path / "public").mkdir()
    spec = project(tmp_path, **build)
    text = spec.read_text()
    err = refused(tmp_path, capsys, "build")
    assert f"field {field!r}" in err and words in err, err
    assert spec.read_text() == text


def test_manifest_naming_an_input_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = make_image(tmp_path / "art/base.png")
    content = base.read_bytes()
    edit_project(tmp_path, "art/base.png", manifest="art/base.png")
    err = refused(tmp_path, capsys, "build")
    assert "asset 'edit': field 'image'" in err and "is also [build] manifest" in err
    assert base.read_bytes() == content


def test_manifest_inside_out_dir_is_fine(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project(tmp_path, manifest="public/img/assets.json")
    code, err = run(tmp_path, capsys, "build")
    assert code == 0, err
    assert "hero" in json.loads((tmp_path / "public/img/assets.json").read_text())["assets"]


# -- item 5: output paths never escape through a symlinked folder -----------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("out_dir", "outlink"),
        ("store_dir", "outlink/store"),
        ("lockfile", "outlink/assetgen.lock"),
        ("manifest", "outlink/assets.json"),
    ],
)
def test_output_paths_cannot_escape_through_a_symlink(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], field: str, value: str
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    root = tmp_path / "proj"
    root.mkdir()
    (root / "outlink").symlink_to(elsewhere)
    project(root, **{field: value})
    err = refused(root, capsys, "build")
    assert f"field 'build.{field}'" in err and "through a symlink" in err
    assert str(elsewhere) in err
    assert list(elsewhere.iterdir()) == []


def test_a_dangling_symlink_is_judged_by_its_target(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "proj"
    root.mkdir()
    (root / "outlink").symlink_to(tmp_path / "not-yet")
    project(root, out_dir="outlink")
    assert "through a symlink" in refused(root, capsys, "build")
    assert not (tmp_path / "not-yet").exists()


def test_resolve_inside() -> None:
    """The helper other modules use for lock, journal and cache paths."""
    root = Path(__file__).parent.resolve()
    assert resolve_inside(root, "data") == root / "data"
    assert resolve_inside(root, "..") is None
    assert resolve_inside(root, "/etc/passwd") is None
    assert resolve_inside(root, "a\0b") is None


# -- item 6: inputs stay inside the project unless allowed -------------------------------


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """An image outside the project (the project is tmp_path/proj)."""
    return make_image(tmp_path / "outside/real.png")


@pytest.mark.parametrize("how", ["relative", "absolute", "symlink", "templated"])
def test_inputs_outside_the_project_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], outside: Path, how: str
) -> None:
    root = tmp_path / "proj"
    root.mkdir()
    image = {"relative": "../outside/real.png", "absolute": str(outside)}.get(how, "art/x.png")
    if how == "symlink":
        (root / "art").mkdir()
        (root / "art/x.png").symlink_to(outside)
    if how == "templated":
        image = "{{ '../outside' }}/real.png"
    edit_project(root, image)
    err = refused(root, capsys, "build")
    assert "asset 'edit': field 'image'" in err
    assert "outside the project folder" in err and "[build] allow_inputs" in err
    assert not (root / "assets").exists()


def test_etc_passwd_is_not_an_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    edit_project(tmp_path, "/etc/passwd")
    err = refused(tmp_path, capsys)
    assert "field 'image'" in err and "[build] allow_inputs" in err


@pytest.mark.parametrize("image", ["../brand/real.png", "BRAND/real.png"])
def test_allow_inputs_admits_a_folder_outside(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], image: str
) -> None:
    make_image(tmp_path / "brand/real.png")
    root = tmp_path / "proj"
    edit_project(root, image.replace("BRAND", str(tmp_path / "brand")), allow_inputs=["../brand"])
    code, err = run(root, capsys, "build")
    assert code == 0, err
    assert (root / "public/img/edit-64w.webp").is_file()


def test_allow_inputs_admits_only_its_folders(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], outside: Path
) -> None:
    (tmp_path / "brand").mkdir()
    edit_project(tmp_path / "proj", "../outside/real.png", allow_inputs=["../brand"])
    assert "[build] allow_inputs" in refused(tmp_path / "proj", capsys)


def test_allow_inputs_must_be_a_list_of_folders(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project(tmp_path, allow_inputs="../brand")
    assert "field 'build.allow_inputs': expected a list of folder paths" in refused(
        tmp_path, capsys
    )


def test_templates_folder_outside_the_project_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Templates are sent as prompts: a symlinked folder could send any text file."""
    write(tmp_path / "secrets/id_rsa", "PRIVATE KEY")
    root = tmp_path / "proj"
    root.mkdir()
    (root / "tpl").symlink_to(tmp_path / "secrets")
    project(root, '[[asset]]\nname = "a"\ntemplate = "id_rsa"\n', templates="tpl")
    err = refused(root, capsys)
    assert "field 'build.templates'" in err and "allow_inputs" in err


def test_a_folder_as_input_is_a_spec_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "art/folder.png").mkdir(parents=True)
    edit_project(tmp_path, "art/folder.png")
    assert "field 'image': 'art/folder.png' is a folder" in refused(tmp_path, capsys)


@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_a_fifo_or_a_device_as_input_never_hangs(tmp_path: Path, kind: str) -> None:
    """Opening a FIFO blocks and /dev/zero never ends: both are refused before reading."""
    if kind == "fifo":
        os.mkfifo(tmp_path / "pipe.png")
        edit_project(tmp_path, "pipe.png")
    else:
        edit_project(tmp_path, "/dev/zero", allow_inputs=["/dev"])
    for template in (False, True):
        if template:  # after rendering too, not only when written literally
            spec = tmp_path / "assetgen.toml"
            spec.write_text(spec.read_text().replace('image = "', "image = \"{{ '' }}"))
        started = time.monotonic()
        result = subprocess.run(
            [sys.executable, "-m", "assetgen", "-C", str(tmp_path), "plan"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 2, result.stderr
        assert "field 'image'" in result.stderr and "not a regular file" in result.stderr
        assert time.monotonic() - started < 30


# -- hostile specs: located errors, bounded time ----------------------------------------


def hostile(tmp_path: Path, text: str, capsys: pytest.CaptureFixture[str]) -> str:
    (tmp_path / "assetgen.toml").write_text(text, encoding="utf-8")
    started = time.monotonic()
    err = refused(tmp_path, capsys)
    assert time.monotonic() - started < 10
    return err


def test_toml_nested_900_levels(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = hostile(tmp_path, "[vars]\nx = " + "[" * 900 + "]" * 900 + "\n", capsys)
    assert "nested too deeply" in err


def test_toml_nested_past_the_limit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = hostile(tmp_path, "[vars]\nx = " + "[" * 60 + "]" * 60 + "\n", capsys)
    assert "field 'vars.x" in err and "nested more than 32 levels deep" in err


def test_integer_over_4300_digits(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = hostile(tmp_path, "[vars]\nx = " + "9" * 5000 + "\n", capsys)
    assert "not valid TOML" in err


@pytest.mark.parametrize("field", ["take", "candidates"])
def test_integer_past_64_bits(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], field: str
) -> None:
    text = project(tmp_path).read_text() + f"{field} = {'9' * 4000}\n"
    err = hostile(tmp_path, text, capsys)
    assert f"field 'asset[0].{field}': integer out of range" in err
    assert len(err) < 1000


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("out_dir", "pub\0lic"),
        ("store_dir", "a\0b"),
        ("lockfile", "x\0.lock"),
        ("manifest", "m\0.json"),
        ("templates", "p\0"),
        ("allow_inputs", ["../a\0"]),
    ],
)
def test_nul_bytes_in_build_paths(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], field: str, value: object
) -> None:
    project(tmp_path, **{field: value})
    err = refused(tmp_path, capsys)
    assert f"field 'build.{field}" in err and "NUL" in err


@pytest.mark.parametrize(
    ("line", "field"),
    [
        ('image = "art/\\u0000x.png"', "image"),
        ('references = ["a\\u0000"]', "references[0]"),
        ('variants = [{ width = 8, filename = "{name}\\u0000.{ext}" }]', "variants[0].filename"),
    ],
)
def test_nul_bytes_in_asset_paths(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], line: str, field: str
) -> None:
    project(tmp_path, BARE + line + "\n")
    err = refused(tmp_path, capsys)
    assert f"field {field!r}" in err and "NUL" in err


def test_nul_byte_in_a_template_name(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project(tmp_path, '[[asset]]\nname = "a"\ntemplate = "x\\u0000.j2"\n')
    assert "field 'template'" in refused(tmp_path, capsys)


@pytest.mark.parametrize("field", ["out_dir", "store_dir", "lockfile", "manifest"])
def test_5000_character_names(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], field: str
) -> None:
    project(tmp_path, **{field: "a" * 5000})
    err = refused(tmp_path, capsys, "build")
    assert f"field 'build.{field}'" in err and "longer than" in err
    assert len(err) < 1000


@pytest.mark.parametrize(
    ("line", "field"),
    [
        ('image = "{}.png"'.format("x" * 5000), "image"),
        ("image = \"{{ 'x' * 300 }}.png\"", "image"),
        ('variants = [{ width = 8, filename = "{name}' + "y" * 300 + '.{ext}" }]', "filename"),
        ('template = "{}.j2"'.format("t" * 5000), "template"),
    ],
)
def test_long_input_and_output_names(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], line: str, field: str
) -> None:
    assets = BARE.replace('prompt = "a {{ brand }} hero"\n', "") if "template" in line else BARE
    project(tmp_path, assets + line + "\n")
    err = refused(tmp_path, capsys)
    assert field in err and "longer than" in err
    assert len(err) < 1000


def test_a_matrix_of_a_million_is_refused_before_expanding(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    values = list(range(1000))
    assets = (
        '[[asset]]\nname = "i-{{ a }}-{{ b }}"\nprompt = "x"\n'
        f"matrix = {{ a = {values}, b = {values} }}\n"
    )
    err = hostile(tmp_path, project(tmp_path, assets).read_text(), capsys)
    assert "field 'matrix'" in err and "1,000,000 combinations" in err and "10,000" in err


def test_matrices_adding_up_past_the_limit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    values = list(range(6000))
    assets = "".join(
        f'[[asset]]\nname = "{n}-{{{{ a }}}}"\nprompt = "x"\nmatrix = {{ a = {values} }}\n'
        for n in ("one", "two")
    )
    err = hostile(tmp_path, project(tmp_path, assets).read_text(), capsys)
    assert "12,000 concrete assets" in err and "10,000" in err


def test_a_variant_set_of_millions_is_refused_before_expanding(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    widths = list(range(1, 2001))
    text = (
        project(tmp_path)
        .read_text()
        .replace("[vars]", f"[variant_sets.many]\nwidths = {widths}\nheights = {widths}\n\n[vars]")
    )
    err = hostile(tmp_path, text, capsys)
    assert "field 'variant_sets.many'" in err and "4,000,000 variants" in err


def test_a_huge_spec_file_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = project(tmp_path).read_text() + "# " + "x" * (5 * 1024 * 1024) + "\n"
    assert "larger than 4 MiB" in hostile(tmp_path, text, capsys)


def test_a_huge_value_is_quoted_short(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = project(tmp_path).read_text() + f'take = "{"z" * 100_000}"\n'
    err = hostile(tmp_path, text, capsys)
    assert "field 'take'" in err and "100000 characters" in err and len(err) < 1000
