"""What a new user meets on the command line (issue 10): options, show, check, init, wording."""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path

import pytest

from assetgen import console
from assetgen.cli import main
from tests.conftest import FAKE_API_KEY
from tests.fakeapi import FakeImagesAPI, Reply

from .projects import make_mask, make_project

TWO_ICONS = """
[[asset]]
name = "icon-{{ k }}"
prompt = "an icon: {{ k }}"
matrix = { k = ["home", "mail"] }
variants = [{ width = 64, format = "webp" }]

[[asset]]
name = "hero"
prompt = "a hero"
"""


@pytest.fixture
def site(tmp_path: Path) -> Path:
    make_project(tmp_path, TWO_ICONS)
    return tmp_path


def run(root: Path, *args: str) -> int:
    return main(["-C", str(root), *args])


def edit(root: Path, old: str, new: str) -> None:
    spec = root / "assetgen.toml"
    text = spec.read_text()
    assert old in text
    spec.write_text(text.replace(old, new))


# -- 9: options where people type them ----------------------------------------------------


def test_global_options_work_after_the_command(
    site: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["build", "icon-*", "-v", "-C", str(site)]) == 0
    captured = capsys.readouterr()
    assert "generate icon-home" in captured.err and "hero" not in captured.err
    assert main(["plan", "-q", "-C", str(site), "-c", "assetgen.toml", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["generate"] == ["hero"]


def test_a_global_option_before_the_command_is_not_reset_by_it(
    site: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["-C", str(site), "-q", "build"]) == 0
    captured = capsys.readouterr()
    assert "3 generated" in captured.out and captured.err == ""
    assert main(["-C", str(site), "-v", "plan"]) == 0
    assert "fresh     icon-home" in capsys.readouterr().out  # listed only with -v


def test_show_takes_globs_and_several_names(site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(site, "show", "icon-*") == 0
    out = capsys.readouterr().out
    assert out.count("name:") == 2 and "icon-home" in out and "icon-mail" in out
    assert run(site, "show", "icon-*", "--json") == 0
    assert [i["name"] for i in json.loads(capsys.readouterr().out)] == ["icon-home", "icon-mail"]
    assert run(site, "show", "hero", "icon-mail", "--json") == 0
    assert [i["name"] for i in json.loads(capsys.readouterr().out)] == ["hero", "icon-mail"]
    assert run(site, "show", "hero", "--json") == 0
    assert json.loads(capsys.readouterr().out)["name"] == "hero"  # one name: one object
    assert run(site, "show", "nope-*") == 2
    assert "'nope-*' matches no asset" in capsys.readouterr().err


# -- 10: check says what to do ----------------------------------------------------------


def test_check_ends_with_the_command_that_fixes_drift(
    site: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(site, "-q", "build") == 0
    edit(site, '"a hero"', '"a bigger hero"')
    capsys.readouterr()
    assert run(site, "check") == 3
    err = capsys.readouterr().err.strip().splitlines()
    assert "hero: prompt changed" in "\n".join(err)
    assert err[-1].startswith("to fix: run `assetgen build`")
    assert "then commit assetgen.lock, assets/generated/ and public/img/" in err[-1]
    assert run(site, "check", "her*") == 3
    assert "run `assetgen build 'her*'`" in capsys.readouterr().err


def test_check_json_gives_the_same_reasons_as_build_json(
    site: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(site, "-q", "build") == 0
    edit(site, '"a hero"', '"a bigger hero"')
    edit(site, "width = 64", "width = 65")
    capsys.readouterr()
    assert run(site, "check", "--json") == 3
    checked = json.loads(capsys.readouterr().out)
    assert checked["up_to_date"] is False
    assert checked["out_of_date"] == ["hero", "icon-home", "icon-mail"]
    assert checked["fix"].startswith("run `assetgen build`")
    assert run(site, "build", "--json") == 0
    built = json.loads(capsys.readouterr().out)
    reasons = {a["name"]: a["reason"] for a in built["assets"]}
    assert {a["name"]: a["reason"] for a in checked["assets"]} == reasons
    assert reasons["hero"] == "prompt changed"
    assert run(site, "check", "--json") == 0
    assert json.loads(capsys.readouterr().out)["up_to_date"] is True


# -- 11: no Python in human output ------------------------------------------------------


def test_plan_names_parameters_as_the_spec_does(
    site: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(site, "-q", "build") == 0
    edit(site, '"a hero"', '"a hero"\ncandidates = 3')
    capsys.readouterr()
    assert run(site, "plan") == 0
    out = capsys.readouterr().out
    assert "parameter changed (candidates: 1 → 3)" in out
    assert "None" not in out and " n:" not in out


def test_show_speaks_toml_and_labels_the_lock_when_out_of_date(
    site: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(site, "show", "hero") == 0
    out = capsys.readouterr().out
    assert "locked:    no (not built yet)" in out
    assert not any(word in out for word in ("None", "True", "False", "{"))
    assert run(site, "-q", "build") == 0
    edit(site, '"a hero"', '"a hero"\ncandidates = 2')
    capsys.readouterr()
    assert run(site, "show", "hero") == 0
    lines = capsys.readouterr().out.splitlines()
    fields = {line.split(":", 1)[0]: line.split(":", 1)[1].strip() for line in lines}
    assert fields["locked"].startswith("no: out of date")
    assert fields["lock"] == "the previous generation (the next build replaces it)"
    assert "candidates=2" in fields["params"] and "candidates" not in fields["  params"]
    assert fields["  original"].startswith("assets/generated/")
    assert "original" not in fields  # the lock's original is not the spec's
    assert lines.index("lock:      the previous generation (the next build replaces it)") < min(
        i for i, line in enumerate(lines) if line.startswith("  original: ")
    )
    assert not any(word in "\n".join(lines) for word in ("None", "True", "False"))


def test_show_of_an_asset_made_from_another_has_no_none_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_mask(tmp_path / "mask.png", (256, 256), (0, 0, 128, 128))
    make_project(
        tmp_path,
        '[[asset]]\nname = "a"\nprompt = "x"\n\n'
        '[[asset]]\nname = "b"\nprompt = "y"\nimage = "@a"\nmask = "mask.png"\n',
    )
    assert run(tmp_path, "show", "b") == 0
    out = capsys.readouterr().out
    assert "key:       (known once its @inputs are generated)" in out
    assert "None" not in out and "True" not in out


# -- 14: init says what it did ----------------------------------------------------------


def test_init_says_what_it_created_appended_and_kept(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / ".gitignore").write_text("node_modules/\n")
    (tmp_path / "prompts").mkdir()
    (tmp_path / "prompts/hero.j2").write_text("my own {{ mood }} hero\n")
    assert run(tmp_path, "init") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[:3] == [
        "created assetgen.toml",
        "kept prompts/hero.j2 (yours, unchanged: the starter spec uses it)",
        "appended to .gitignore (added .assetgen/)",
    ]
    assert (tmp_path / "prompts/hero.j2").read_text() == "my own {{ mood }} hero\n"
    assert run(tmp_path, "init", "--force") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "overwrote assetgen.toml"
    assert "kept .gitignore (already ignores .assetgen/)" in lines


# -- 6 and 7: an unreachable host, a hung server ------------------------------------------

OPENAI = """\
[build]
out_dir = "public/img"

[provider]
name = "openai"
model = "gpt-image-1"
base_url = "{base_url}"
max_retries = {retries}
{extra}

[defaults]
size = "1024x1024"
quality = "low"

[[asset]]
name = "card-{{{{ n }}}}"
prompt = "a card {{{{ n }}}}"
matrix = {{ n = [{numbers}] }}
"""


def openai_project(root: Path, base_url: str, *, count: int, retries: int, extra: str = "") -> None:
    numbers = ", ".join(str(n) for n in range(1, count + 1))
    base = OPENAI.format(base_url=base_url, retries=retries, extra=extra, numbers=numbers)
    make_project(root, "", base=base)


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])  # closed again on leaving: nothing listens


def test_an_unreachable_host_is_named_once_then_the_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-unreachable")
    host = f"http://127.0.0.1:{closed_port()}"
    openai_project(tmp_path, f"{host}/v1", count=5, retries=1)
    assert run(tmp_path, "build", "--yes") == 1
    captured = capsys.readouterr()
    err = [line for line in captured.err.splitlines() if not line.startswith("warning:")]
    assert sum("connection to" in line for line in err) == 2  # one retry, one failure in full
    assert sum("same error as" in line for line in err) == 4
    advice = [line for line in err if "could not reach" in line]
    assert advice == [
        f"error: could not reach {host}: check [provider] base_url (or $OPENAI_BASE_URL), "
        "the network, and any proxy (HTTPS_PROXY, HTTP_PROXY, NO_PROXY)"
    ]
    assert err[-1] == "failed: card-1, card-2, card-3, card-4, card-5"
    assert "5 failed" in captured.out
    assert len(err) <= 9


def test_a_slow_request_says_so_in_ci_logs_and_a_timeout_names_the_setting(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    fake_api: FakeImagesAPI,
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", FAKE_API_KEY)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.setattr(console, "HEARTBEAT_SECONDS", 0.4)
    monkeypatch.setattr(console, "REDRAW_SECONDS", 0.05)
    openai_project(tmp_path, fake_api.base_url, count=1, retries=0, extra="timeout = 5")
    fake_api.script(Reply.slow(1.5))
    assert run(tmp_path, "build", "--yes") == 0
    err = capsys.readouterr().err
    beats = re.findall(r"^  card-1: waiting for the API, \d+ s$", err, re.MULTILINE)
    assert 2 <= len(beats) <= 4, err

    openai_project(tmp_path, fake_api.base_url, count=2, retries=0, extra="timeout = 0.3")
    fake_api.script(Reply.slow(2.0), Reply.slow(2.0))
    assert run(tmp_path, "-q", "build", "--yes") == 1
    err = capsys.readouterr().err
    assert "[provider] timeout = 0.3 s" in err
    assert "could not reach" not in err  # it answered, just too slowly


# -- 8: errors that point the right way ----------------------------------------------------


def test_a_list_for_width_suggests_widths_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_project(
        tmp_path,
        """
        [variant_sets.resp]
        width = [800, 1600]

        [[asset]]
        name = "hero-{{ s }}"
        prompt = "a {{ s }} hero"
        matrix = { s = ["a", "b"] }
        variants = ["resp", { filename = "{nme}.{ext}" }]
        """,
    )
    assert run(tmp_path, "plan") == 2
    err = capsys.readouterr().err
    assert err.count("variant_sets.resp.width") == 1 and "did you mean 'widths'?" in err
    assert err.count("{nme}") == 2, err  # once as written, once as the unknown placeholder


def test_a_missing_table_key_names_the_table_once_for_the_whole_matrix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_project(
        tmp_path,
        """
        [[asset]]
        name = "hero-{{ season }}"
        template = "hero.j2"
        vars = { subjects = { clock = "a clock", calender = "a calendar" } }
        matrix = { season = ["spring", "autumn", "winter"] }

        [[asset]]
        name = "icon"
        template = "heroo.j2"
        """,
    )
    (tmp_path / "prompts").mkdir(exist_ok=True)
    (tmp_path / "prompts/hero.j2").write_text("{{ subjects.calendar }} in {{ season }}")
    assert run(tmp_path, "plan") == 2
    err = capsys.readouterr().err
    assert "'subjects' has no key 'calendar'" in err and "dict object" not in err
    assert "did you mean 'calender'?" in err
    assert err.count("has no key") == 1 and "2 more of its matrix entries" in err
    assert "template 'heroo.j2' not found" in err and "did you mean 'hero.j2'?" in err
