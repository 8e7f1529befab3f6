"""Teams and CI: --locked/check, budgets, selection, refresh, candidates, manifest, gc."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from PIL import Image

from assetgen.cli import main
from assetgen.hashing import sha256_file
from assetgen.lockfile import LockStore
from tests.conftest import FAKE_API_KEY
from tests.fakeapi import FakeImagesAPI, Reply

from .projects import make_image, make_mask, make_project

SITE = """
[[asset]]
name = "hero-{{ season }}"
prompt = "{{ brand }} hero in {{ season }}"
matrix = { season = ["spring", "autumn"] }
variants = [{ width = 64, format = "webp" }, { width = 32, format = "png" }]

[[asset]]
name = "edit"
prompt = "the mascot waving"
image = "art/base.png"
mask = "art/mask.png"
quality = "low"
variants = [{ width = 48, format = "png" }]
"""


def run(root: Path, *args: str) -> int:
    return main(["-C", str(root), *args])


@pytest.fixture
def built(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """A built project, then "cloned": everything but the local .assetgen/ state."""
    work = tmp_path / "work"
    make_image(work / "art/base.png", (96, 96), (30, 100, 140))
    make_mask(work / "art/mask.png", (96, 96), (48, 0, 96, 48))
    make_project(work, SITE)
    assert run(work, "-q", "build") == 0
    clone = tmp_path / "clone"
    shutil.copytree(work, clone, ignore=shutil.ignore_patterns(".assetgen"))
    capsys.readouterr()
    return clone


def lock_of(root: Path) -> dict:
    store = LockStore(root / "assetgen.lock", root / ".assetgen/journal.jsonl")
    return store.load().assets


def out_of_date(root: Path, capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert run(root, *args) == 3
    return capsys.readouterr().err


# -- --locked and check ---------------------------------------------------------------


def test_locked_passes_on_a_fresh_clone_without_any_provider(
    built: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import assetgen.providers

    def no_provider(*args: object, **kwargs: object) -> None:
        raise AssertionError("--locked must never create a provider")

    monkeypatch.setattr(assetgen.providers, "create_provider", no_provider)
    lock = (built / "assetgen.lock").read_bytes()
    assert run(built, "build", "--locked") == 0
    assert run(built, "check") == 0
    assert "3 assets up to date with assetgen.lock" in capsys.readouterr().out
    assert (built / "assetgen.lock").read_bytes() == lock


def test_switching_provider_is_drift(built: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = built / "assetgen.toml"
    spec.write_text(spec.read_text().replace('name = "offline"', 'name = "openai"'))
    assert "provider changed (offline → openai)" in out_of_date(built, capsys, "check")


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("hero in {{ season }}", "hero at {{ season }}"), "hero-spring: prompt changed"),
        (('quality = "low"', 'quality = "high"'), "edit: parameter changed (quality: low → high)"),
        (("width = 64", "width = 65"), "hero-spring: variant settings changed"),
    ],
)  # fmt: skip
def test_each_spec_drift_is_named(
    built: Path, capsys: pytest.CaptureFixture[str], change: tuple[str, str], expected: str
) -> None:
    path = built / "assetgen.toml"
    path.write_text(path.read_text().replace(*change))
    err = out_of_date(built, capsys, "build", "--locked")
    assert expected in err
    assert "out of date" in err


def test_input_image_drift(built: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make_mask(built / "art/mask.png", (96, 96), (40, 0, 96, 48))
    assert "edit: input image changed (art/mask.png)" in out_of_date(built, capsys, "check")


def test_missing_original_in_store(built: Path, capsys: pytest.CaptureFixture[str]) -> None:
    original = lock_of(built)["hero-autumn"].original.path
    (built / original).unlink()
    err = out_of_date(built, capsys, "build", "--locked")
    assert f"hero-autumn: original missing: {original}" in err


def test_altered_variant(built: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (built / "public/img/edit-48w.png").write_bytes(b"edited by hand")
    assert "edit: variant altered: public/img/edit-48w.png" in out_of_date(built, capsys, "check")


def test_missing_variant_is_rerendered_unless_frozen(
    built: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    variant = built / "public/img/hero-spring-64w.webp"
    digest = sha256_file(variant)
    variant.unlink()
    err = out_of_date(built, capsys, "build", "--locked", "--frozen")
    assert "hero-spring: output missing: public/img/hero-spring-64w.webp" in err
    assert not variant.exists()
    assert run(built, "build", "--locked") == 0
    assert "re-rendering missing variants locally (no API call): hero-spring" in (
        capsys.readouterr().err
    )
    assert sha256_file(variant) == digest


def test_encoder_upgrade_alone_keeps_locked_green(built: Path) -> None:
    lock = built / "assetgen.lock"
    lock.write_text(lock.read_text().replace('encoder = "Pillow ', 'encoder = "Pillow 0.'))
    assert run(built, "check") == 0


def test_removed_asset_is_drift(built: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = built / "assetgen.toml"
    spec.write_text(spec.read_text().split('[[asset]]\nname = "edit"')[0])
    assert "edit: in the lock but no longer in the spec" in out_of_date(built, capsys, "check")


# -- budgets --------------------------------------------------------------------------

PAID = """\
[build]
out_dir = "public/img"

[provider]
name = "openai"
base_url = "{base_url}"
concurrency = 1
max_retries = 0

[provider.prices."gpt-image-2.6-flare"]
output = 40.0
per_image = {{ low = {{ "1024x1024" = 0.001 }} }}

[defaults]
quality = "low"

[[asset]]
name = "card-{{{{ n }}}}"
prompt = "a card number {{{{ n }}}}"
matrix = {{ n = [1, 2, 3] }}
variants = [{{ width = 32, format = "png" }}]
"""


@pytest.fixture
def paid(tmp_path: Path, fake_api: FakeImagesAPI, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("OPENAI_API_KEY", FAKE_API_KEY)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    (tmp_path / "assetgen.toml").write_text(PAID.format(base_url=fake_api.base_url))
    return tmp_path


def test_plan_over_budget_is_refused_with_the_figures(
    paid: Path, fake_api: FakeImagesAPI, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(paid, "build", "--max-cost", "0.002") == 2
    err = capsys.readouterr().err
    assert "3 generations are estimated at $0.0030, over the budget of $0.0020" in err
    assert fake_api.requests == []


def test_budget_stops_new_generations_mid_build(
    paid: Path, fake_api: FakeImagesAPI, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = paid / "assetgen.toml"
    spec.write_text(spec.read_text().replace("[build]\n", "[build]\nmax_cost = 0.005\n"))
    assert run(paid, "build", "--json") == 1
    report = json.loads(capsys.readouterr().out)
    assert (report["generated"], report["skipped"]) == (1, 2)
    assert len(fake_api.requests) == 1
    assert report["cost_usd"] >= 0.005
    assert "budget reached" in {a["status"]: a["error"] for a in report["assets"]}["skipped"]
    assert len(lock_of(paid)) == 1, "the paid image is kept"


def test_costly_plan_without_budget_refuses_in_ci_unless_yes(
    paid: Path, fake_api: FakeImagesAPI, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = paid / "assetgen.toml"
    spec.write_text(spec.read_text().replace("[build]\n", "[build]\nconfirm_above = 0.001\n"))
    assert run(paid, "build") == 2
    assert "pass --yes or --max-cost" in capsys.readouterr().err
    assert fake_api.requests == []
    assert run(paid, "-q", "build", "--yes") == 0
    assert len(fake_api.requests) == 3


# -- selection and refresh ----------------------------------------------------------------


def test_build_a_subset_by_glob(
    paid: Path, fake_api: FakeImagesAPI, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(paid, "-q", "build", "card-[12]") == 0
    assert sorted(lock_of(paid)) == ["card-1", "card-2"]
    assert run(paid, "build", "crad-3") == 2
    assert "did you mean 'card-3'?" in capsys.readouterr().err


def test_refresh_pays_again_and_replaces_the_result(
    paid: Path, fake_api: FakeImagesAPI, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(paid, "-q", "build") == 0
    before = lock_of(paid)["card-2"]
    assert run(paid, "-q", "build", "--refresh", "card-2") == 0
    assert len(fake_api.requests) == 4
    after = lock_of(paid)["card-2"]
    assert after.key == before.key and after.generated_at >= before.generated_at
    assert run(paid, "-q", "build") == 0 and len(fake_api.requests) == 4


# -- candidates -------------------------------------------------------------------------


def test_candidates_are_kept_and_pick_rerenders_without_the_api(
    paid: Path, fake_api: FakeImagesAPI, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = paid / "assetgen.toml"
    spec.write_text(spec.read_text().replace("n = [1, 2, 3]", "n = [1]") + "candidates = 3\n")
    assert run(paid, "-q", "build", "--yes") == 0
    entry = lock_of(paid)["card-1"]
    assert len(entry.candidates) == 3 and entry.selected == 0
    assert all((paid / c.path).exists() for c in entry.candidates)
    variant = paid / entry.variants[0].path
    first = sha256_file(variant)
    requests = len(fake_api.requests)
    assert run(paid, "pick", "card-1", "2") == 0
    assert len(fake_api.requests) == requests
    picked = lock_of(paid)["card-1"]
    assert picked.selected == 2 and picked.original == entry.candidates[2]
    assert sha256_file(variant) != first
    assert run(paid, "check") == 0
    assert run(paid, "pick", "card-1", "3") == 2


# -- manifest, gc, provenance -----------------------------------------------------------


def test_manifest_matches_the_files_on_disk(built: Path) -> None:
    spec = built / "assetgen.toml"
    spec.write_text(
        spec.read_text().replace(
            'templates = "prompts"\n',
            'templates = "prompts"\nmanifest = "public/img/assets.json"\n'
            'url_prefix = "/static/img"\n',
        )
    )
    assert run(built, "-q", "build") == 0
    manifest = json.loads((built / "public/img/assets.json").read_text())
    assert sorted(manifest["assets"]) == ["edit", "hero-autumn", "hero-spring"]
    for asset in manifest["assets"].values():
        for variant in asset["variants"]:
            path = built / "public/img" / variant["path"]
            assert path.stat().st_size == variant["bytes"]
            assert sha256_file(path) == variant["sha256"]
            assert variant["url"] == "/static/img/" + variant["path"]
            with Image.open(path) as image:
                assert image.size == (variant["width"], variant["height"])
    (built / "public/img/assets.json").unlink()
    assert run(built, "check") == 3
    assert run(built, "-q", "build") == 0 and run(built, "check") == 0


def test_gc_removes_only_unreferenced_objects(
    built: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = built / "assetgen.toml"
    old = lock_of(built)["hero-spring"].original.path
    spec.write_text(spec.read_text().replace("hero in", "hero, in"))
    assert run(built, "-q", "build") == 0
    capsys.readouterr()
    assert run(built, "gc") == 0
    listed = capsys.readouterr().out
    assert old in listed and "dry run" in listed
    assert (built / old).exists()
    assert run(built, "gc", "--yes") == 0
    assert not (built / old).exists()
    assert run(built, "check") == 0
    assert run(built, "gc") == 0
    assert "nothing to remove" in capsys.readouterr().out


def test_provenance_is_embedded_only_when_asked(built: Path) -> None:
    with Image.open(built / "public/img/edit-48w.png") as image:
        assert "Title" not in image.text and "Description" not in image.text
    spec = built / "assetgen.toml"
    spec.write_text(
        spec.read_text().replace(
            'templates = "prompts"\n', 'templates = "prompts"\nprovenance = true\n'
        )
    )
    assert run(built, "-q", "build") == 0
    with Image.open(built / "public/img/edit-48w.png") as image:
        assert image.text["Title"] == "edit"
        assert image.text["Description"] == "the mascot waving"


def test_cost_check_rules() -> None:
    from assetgen.budget import check_cost
    from assetgen.plan import Plan

    def plan_costing(*costs: float | None) -> Plan:
        from types import SimpleNamespace

        steps = [
            SimpleNamespace(action="generate", estimated_cost=c, name=f"a{i}")
            for i, c in enumerate(costs)
        ]
        return Plan(steps=steps)  # type: ignore[arg-type]

    assert check_cost(plan_costing(), None, 1.0).verdict == "ok"
    assert check_cost(plan_costing(0.5, 0.4), None, 1.0).verdict == "ok"
    assert check_cost(plan_costing(0.5, 0.6), None, 1.0).verdict == "ask"
    assert check_cost(plan_costing(0.5, 0.6), None, 1.0, yes=True).verdict == "ok"
    assert check_cost(plan_costing(None), None, 1.0).verdict == "ask"
    assert check_cost(plan_costing(0.5, 0.6), 2.0, 1.0).verdict == "ok"
    over = check_cost(plan_costing(0.5, 0.6), 1.0, 5.0)
    assert over.verdict == "refuse" and "$1.1000, over the budget of $1.0000" in over.message
    assert check_cost(plan_costing(None), 5.0, 1.0).verdict == "refuse"


def test_rerender_reencodes_without_generating(
    built: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lock = (built / "assetgen.lock").read_bytes()
    variant = built / "public/img/edit-48w.png"
    before = variant.stat().st_mtime_ns
    assert run(built, "-q", "build", "--rerender", "--json") == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["rendered"], report["generated"]) == (3, 0)
    assert variant.stat().st_mtime_ns != before
    assert (built / "assetgen.lock").read_bytes() == lock, "same encoder: same bytes, same lock"


def test_pick_refuses_an_out_of_date_asset(
    paid: Path, fake_api: FakeImagesAPI, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = paid / "assetgen.toml"
    spec.write_text(spec.read_text().replace("n = [1, 2, 3]", "n = [1]") + "candidates = 2\n")
    assert run(paid, "-q", "build", "--yes") == 0
    spec.write_text(spec.read_text().replace("a card number", "a playing card number"))
    capsys.readouterr()
    assert run(paid, "pick", "card-1", "1") == 2
    assert "card-1 is out of date (prompt changed)" in capsys.readouterr().err
    assert lock_of(paid)["card-1"].selected == 0
    assert len(fake_api.requests) == 1


def test_fewer_candidates_than_asked_is_a_warning_and_keeps_them(
    paid: Path, fake_api: FakeImagesAPI, capsys: pytest.CaptureFixture[str]
) -> None:
    import base64
    import io

    spec = paid / "assetgen.toml"
    spec.write_text(spec.read_text().replace("n = [1, 2, 3]", "n = [1]") + "candidates = 2\n")
    png = io.BytesIO()
    Image.new("RGB", (1024, 1024), (20, 120, 120)).save(png, format="PNG")
    usage = {
        "input_tokens": 10,
        "output_tokens": 272,
        "total_tokens": 282,
        "input_tokens_details": {"text_tokens": 10, "image_tokens": 0},
    }
    body = {"created": 1, "data": [{"b64_json": base64.b64encode(png.getvalue()).decode()}]}
    fake_api.script(Reply(body={**body, "usage": usage}))
    capsys.readouterr()
    assert run(paid, "build", "--yes") == 0
    assert "warning: card-1: asked for 2 images, got 1" in capsys.readouterr().err
    assert len(lock_of(paid)["card-1"].candidates) == 1


@pytest.mark.parametrize(("answer", "code", "requests"), [("n", 2, 0), ("y", 0, 3)])
def test_costly_plan_asks_on_a_terminal(
    paid: Path,
    fake_api: FakeImagesAPI,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    answer: str,
    code: int,
    requests: int,
) -> None:
    import io

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    asked: list[str] = []
    monkeypatch.setattr("sys.stdin", Terminal())
    monkeypatch.setattr("builtins.input", lambda prompt: asked.append(prompt) or answer)
    spec = paid / "assetgen.toml"
    spec.write_text(spec.read_text().replace("[build]\n", "[build]\nconfirm_above = 0.001\n"))
    assert run(paid, "-q", "build") == code
    assert asked == [
        "3 generations will cost an estimated $0.0030 (over [build] confirm_above = $0.0010). "
        "Go ahead? [y/N] "
    ]
    assert len(fake_api.requests) == requests
    if code:
        assert "stopped: nothing was generated" in capsys.readouterr().err
