"""Spec validation: every error names file, asset and field, all at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from assetgen.cli import main
from assetgen.errors import SpecError, SpecErrors
from assetgen.graph import expand
from assetgen.hashing import HashCache
from assetgen.params import GenerationParams
from assetgen.spec import load_spec

from .projects import BASE_SPEC, make_image, make_project


def problems(spec_path: Path) -> list[str]:
    """Every problem message of a spec, from loading and expanding it."""
    try:
        spec = load_spec(spec_path)
        expand(spec, HashCache())
    except SpecErrors as exc:
        return [str(error) for error in exc.errors]
    except SpecError as exc:
        return [str(exc)]
    return []


def one_problem(spec_path: Path) -> str:
    found = problems(spec_path)
    assert len(found) == 1, found
    return found[0]


def test_valid_spec_loads_with_defaults(tmp_path: Path) -> None:
    path = make_project(tmp_path, '[[asset]]\nname = "a"\nprompt = "a cat"\n')
    spec = load_spec(path)
    assert spec.root == tmp_path.resolve()
    assert spec.provider.name == "offline"
    assert spec.assets[0].params == GenerationParams(size="256x256", quality="low", model="sketch")
    assert spec.assets[0].params.fields() == {
        "size": "256x256",
        "quality": "low",
        "background": "auto",
    }
    assert problems(path) == []


def test_unknown_key_with_did_you_mean(tmp_path: Path) -> None:
    path = make_project(tmp_path, '[[asset]]\nname = "hero"\nprompt = "x"\nsise = "1024x1024"\n')
    message = one_problem(path)
    assert message.startswith("assetgen.toml: asset 'hero': field 'sise': unknown key")
    assert "did you mean 'size'?" in message


def test_unknown_section_key(tmp_path: Path) -> None:
    path = make_project(tmp_path, '[build2]\nx = 1\n[[asset]]\nname = "a"\nprompt = "x"\n')
    assert "field 'build2': unknown key (did you mean 'build'?)" in one_problem(path)


def test_unknown_provider_setting_value(tmp_path: Path) -> None:
    base = BASE_SPEC.replace('name = "offline"\n', 'name = "offline"\nimage_field = "images"\n')
    path = make_project(tmp_path, '[[asset]]\nname = "a"\nprompt = "x"\n', base=base)
    message = one_problem(path)
    assert "field 'provider.image_field': unknown value 'images'" in message
    assert "auto, image[], image" in message


def test_wrong_type(tmp_path: Path) -> None:
    path = make_project(tmp_path, '[[asset]]\nname = "a"\nprompt = "x"\ntake = "one"\n')
    message = one_problem(path)
    assert "asset 'a': field 'take': expected an integer >= 0, got str 'one'" in message


def test_unknown_values_list_the_allowed_ones(tmp_path: Path) -> None:
    path = make_project(
        tmp_path,
        '[[asset]]\nname = "a"\nprompt = "x"\nquality = "ultra"\nsize = "big"\n'
        'variants = [{ width = 10, format = "gif" }]\n',
    )
    found = problems(path)
    assert len(found) == 3, found
    assert any(
        "field 'quality': unknown value 'ultra'; expected one of: auto, low" in m for m in found
    )
    assert any("field 'size': expected a size like" in m for m in found)
    assert any("field 'variants[0].format': unknown value 'gif'" in m for m in found)


def test_every_problem_reported_at_once(tmp_path: Path) -> None:
    path = make_project(
        tmp_path,
        '[[asset]]\nname = "a"\nprompt = "x"\nqualty = "low"\n'
        '[[asset]]\nname = "b"\n'
        '[[asset]]\nname = "c"\nprompt = "x"\nvariants = ["nope"]\n',
    )
    found = problems(path)
    assert len(found) == 3
    assert "asset 'b': field 'prompt': give exactly one of 'prompt' or 'template'" in found[1]
    assert "asset 'c': field 'variants[0]': no variant set 'nope'" in found[2]


def test_missing_input_files(tmp_path: Path) -> None:
    make_image(tmp_path / "art/base.png")
    path = make_project(
        tmp_path,
        '[[asset]]\nname = "e"\nprompt = "x"\nimage = "art/base.png"\nmask = "art/missing.png"\n'
        'references = ["art/ref.png"]\n',
    )
    found = problems(path)
    assert "asset 'e': field 'mask': file not found: art/missing.png" in found[0]
    assert "asset 'e': field 'references[0]': file not found: art/ref.png" in found[1]


def test_missing_template(tmp_path: Path) -> None:
    path = make_project(tmp_path, '[[asset]]\nname = "a"\ntemplate = "nope.j2"\n')
    assert "asset 'a': field 'template': template 'nope.j2' not found" in one_problem(path)


def test_duplicate_names_after_matrix_expansion(tmp_path: Path) -> None:
    path = make_project(
        tmp_path,
        '[[asset]]\nname = "hero"\nprompt = "{{ s }}"\nmatrix = { s = ["a", "b"] }\n',
    )
    assert "duplicate asset name 'hero'" in one_problem(path)


def test_unsafe_names(tmp_path: Path) -> None:
    path = make_project(
        tmp_path, '[[asset]]\nname = "../{{ s }}"\nprompt = "x"\nmatrix = { s = ["a"] }\n'
    )
    assert "'../a' is not a safe file name" in one_problem(path)


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("out_dir", "../outside", "must stay inside the project folder"),
        ("store_dir", "/tmp/store", "not an absolute path"),
        ("lockfile", "sub/../../x.lock", "must stay inside the project folder"),
    ],
)
def test_output_paths_must_stay_in_the_project(
    tmp_path: Path, field: str, value: str, reason: str
) -> None:
    base = BASE_SPEC.replace("[build]\n", f'[build]\n{field} = "{value}"\n', 1)
    base = base.replace(f'{field} = "public/img"\n', "").replace(
        f'{field} = "assets/generated"\n', ""
    )
    path = make_project(tmp_path, '[[asset]]\nname = "a"\nprompt = "x"\n', base=base)
    message = one_problem(path)
    assert f"field 'build.{field}'" in message and reason in message


def test_variant_filename_cannot_escape(tmp_path: Path) -> None:
    path = make_project(
        tmp_path,
        '[[asset]]\nname = "a"\nprompt = "x"\n'
        'variants = [{ width = 8, filename = "../{name}.{ext}" }]\n',
    )
    assert "field 'variants[0].filename'" in one_problem(path)


def test_undefined_variable_names_the_variable(tmp_path: Path) -> None:
    path = make_project(tmp_path, '[[asset]]\nname = "a"\nprompt = "a {{ colour }} cat"\n')
    message = one_problem(path)
    assert "asset 'a': field 'prompt': undefined variable" in message and "colour" in message


def test_invalid_toml_names_the_file(tmp_path: Path) -> None:
    path = make_project(tmp_path, "[[asset]\nname = \n")
    assert one_problem(path).startswith("assetgen.toml: not valid TOML")


def test_cli_exits_2_without_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make_project(tmp_path, '[[asset]]\nname = "a"\nprompt = "x"\nsize = 5\n')
    assert main(["-C", str(tmp_path), "plan"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert "assetgen.toml: asset 'a': field 'size'" in err


def test_cli_without_spec_says_how_to_start(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["-C", str(tmp_path), "plan"]) == 2
    assert "assetgen init" in capsys.readouterr().err
