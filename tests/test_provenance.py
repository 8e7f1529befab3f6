"""C2PA provenance: originals' manifests in the lock, signed variants, `assetgen verify`.

Everything runs offline: the test suite makes a throwaway certificate chain
(one per session), the offline provider signs its originals with its own
placeholder chain, and the fake Images API answers with images signed by a
stand-in "OpenAI" chain. Variants are checked with c2pa-python directly, not
only through assetgen's reading of them.
"""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import c2pa
import pytest
from PIL import Image

from assetgen import provenance
from assetgen.cli import main
from assetgen.errors import LockfileError
from assetgen.lockfile import parse_lock
from assetgen.provenance_keys import ENV_CERT, ENV_KEY, ENV_TRUST, make_chain
from tests.conftest import FAKE_API_KEY
from tests.fakeapi import FakeImagesAPI, Reply

from .projects import make_project

FORMATS = ("png", "jpeg", "webp", "avif")
ASSET = """
[[asset]]
name = "hero"
prompt = "a calm teal landscape"
variants = [{{ widths = [96, 160], formats = {formats} }}]
"""


@dataclass(frozen=True)
class Chain:
    """A throwaway signing identity on disk."""

    chain: Path
    key: Path
    root: Path


@pytest.fixture(scope="session")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Chain:
    folder = tmp_path_factory.mktemp("c2pa-chain")
    pems = make_chain("assetgen test signer", "assetgen tests")
    paths = [folder / name for name in ("chain.pem", "key.pem", "root.pem")]
    for path, pem in zip(paths, pems, strict=True):
        path.write_bytes(pem)
    return Chain(*paths)


@pytest.fixture
def signer_env(chain: Chain, monkeypatch: pytest.MonkeyPatch) -> Chain:
    """The chain and key through the environment, as CI passes them."""
    monkeypatch.setenv(ENV_CERT, str(chain.chain))
    monkeypatch.setenv(ENV_KEY, str(chain.key))
    monkeypatch.delenv(ENV_TRUST, raising=False)
    return chain


def project(
    root: Path, mode: str, *, formats: tuple[str, ...] = ("webp", "png"), extra: str = ""
) -> Path:
    listed = json.dumps(list(formats))
    section = f'\n[provenance]\nc2pa = "{mode}"\n{extra}'
    make_project(root, section + ASSET.format(formats=listed))
    return root


def cli(root: Path, *args: str) -> int:
    return main(["-C", str(root), *args])


def lock_of(root: Path) -> dict:
    return tomllib.loads((root / "assetgen.lock").read_text())["assets"]


def reader_json(path: Path, trust_root: Path | None = None) -> dict | None:
    """c2pa-python's own report of a file, with ``trust_root`` as a trust anchor."""
    settings: dict = {"verify": {"ocsp_fetch": False, "remote_manifest_fetch": False}}
    if trust_root is not None:
        settings["trust"] = {"user_anchors": trust_root.read_text()}
    fmt = {"jpg": "jpeg"}.get(path.suffix[1:], path.suffix[1:])
    reader = c2pa.Reader.try_create(
        f"image/{fmt}", io.BytesIO(path.read_bytes()), None, c2pa.Context.from_dict(settings)
    )
    if reader is None:
        return None
    with reader:
        return json.loads(reader.json())


def available_formats() -> tuple[str, ...]:
    from assetgen.filenames import format_supported

    return tuple(fmt for fmt in FORMATS if format_supported(fmt))


# -- signing ----------------------------------------------------------------------------------


def test_each_variant_validates_as_derived_from_its_original(
    tmp_path: Path, signer_env: Chain
) -> None:
    formats = available_formats()
    root = project(tmp_path / "p", "sign", formats=formats)
    assert cli(root, "build") == 0  # the process pool: signing material crosses to workers

    entry = lock_of(root)["hero"]
    original = reader_json(root / entry["original"]["path"])
    assert original is not None
    created = original["manifests"][original["active_manifest"]]
    assert created["assertions"][-1]["data"]["actions"][0]["digitalSourceType"].endswith(
        "trainedAlgorithmicMedia"
    )
    assert {v["format"] for v in entry["variants"]} == set(formats)
    for variant in entry["variants"]:
        path = root / variant["path"]
        assert variant["c2pa"] is True
        assert hashlib.sha256(path.read_bytes()).hexdigest() == variant["sha256"]
        report = reader_json(path, trust_root=signer_env.root)
        assert report is not None, variant["path"]
        assert report["validation_state"] == "Trusted", (variant["path"], report)
        active = report["manifests"][report["active_manifest"]]
        (parent,) = active["ingredients"]
        assert parent["relationship"] == "parentOf"
        assert parent["active_manifest"] == original["active_manifest"]
        (recorded,) = [a for a in active["assertions"] if a["label"].startswith("c2pa.actions")]
        actions = [a["action"] for a in recorded["data"]["actions"]]
        assert actions == ["c2pa.opened", "c2pa.resized", "c2pa.transcoded"]
        with Image.open(path) as image:  # still an image every browser decodes
            assert image.size == (variant["width"], variant["height"])


def test_the_lock_records_the_originals_manifest(tmp_path: Path, signer_env: Chain) -> None:
    root = project(tmp_path / "p", "sign")
    assert cli(root, "build", "--jobs", "1") == 0
    (summary,) = lock_of(root)["hero"]["c2pa"]
    assert summary["sha256"] == lock_of(root)["hero"]["original"]["sha256"]
    assert summary["ai_generated"] is True
    assert summary["actions"] == ["c2pa.created"]
    assert summary["signer"] == "assetgen offline provider"
    # The offline placeholder is trusted by nobody: valid signature, untrusted signer.
    assert summary["validation_state"] == "valid"
    assert summary["codes"] == ["signingCredential.untrusted"]


def test_a_provider_answer_with_a_manifest_is_summarised_and_chained(
    tmp_path: Path, chain: Chain, fake_api: FakeImagesAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fake API answers like OpenAI's: an image signed as AI-generated by "OpenAI"."""
    monkeypatch.setenv("OPENAI_API_KEY", FAKE_API_KEY)
    monkeypatch.setenv(ENV_CERT, str(chain.chain))
    monkeypatch.setenv(ENV_KEY, str(chain.key))
    pems = make_chain("OpenAI stand-in", "OpenAI")
    openai = provenance.SigningMaterial(pems[0], pems[1])
    buffer = io.BytesIO()
    Image.new("RGB", (1024, 1024), (20, 120, 140)).save(buffer, "PNG")
    signed = provenance.sign_original(buffer.getvalue(), "png", openai, title="img.png",
                                      generator="OpenAI-API")  # fmt: skip
    fake_api.script(Reply.images(signed))
    base = (
        f'[build]\nout_dir = "public/img"\n\n[provider]\nname = "openai"\n'
        f'base_url = "{fake_api.base_url}"\nmax_retries = 0\n\n[defaults]\nquality = "low"\n'
        '\n[provenance]\nc2pa = "sign"\n'
    )
    root = tmp_path / "p"
    make_project(root, ASSET.format(formats='["webp"]'), base=base)
    assert cli(root, "build", "--jobs", "1", "--yes") == 0

    (summary,) = lock_of(root)["hero"]["c2pa"]
    assert (summary["signer"], summary["claim_generator"]) == ("OpenAI", "OpenAI-API 0.1.0")
    assert summary["ai_generated"] is True
    variant = root / lock_of(root)["hero"]["variants"][0]["path"]
    report = reader_json(variant)
    assert report is not None
    active = report["manifests"][report["active_manifest"]]
    assert active["ingredients"][0]["active_manifest"] == summary["manifest"]
    assert len(fake_api.requests) == 1


def test_turning_signing_on_re_renders_without_an_api_call(
    tmp_path: Path, signer_env: Chain, capsys: pytest.CaptureFixture[str]
) -> None:
    root = project(tmp_path / "p", "keep-original")
    assert cli(root, "build", "--jobs", "1") == 0
    before = lock_of(root)["hero"]
    spec = root / "assetgen.toml"
    spec.write_text(spec.read_text().replace('c2pa = "keep-original"', 'c2pa = "sign"'))
    capsys.readouterr()

    assert cli(root, "plan", "--json") == 0
    plan = json.loads(capsys.readouterr().out)
    assert (plan["render"], plan["api_calls"]) == (["hero"], 0)
    assert plan["assets"][0]["reason"] == "variant settings changed"
    assert cli(root, "build", "--jobs", "1", "--json") == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["generated"], report["rendered"]) == (0, 1)
    after = lock_of(root)["hero"]
    assert after["original"] == before["original"]
    assert all(v["c2pa"] for v in after["variants"])


# -- keep-original and off -----------------------------------------------------------------------


def test_keep_original_and_off_write_no_manifest_into_variants(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    keep = project(tmp_path / "keep", "keep-original")
    off = project(tmp_path / "off", "off")
    for root in (keep, off):
        assert cli(root, "build", "--jobs", "1") == 0
        for variant in lock_of(root)["hero"]["variants"]:
            assert reader_json(root / variant["path"]) is None
            assert "c2pa" not in variant

    assert lock_of(keep)["hero"]["c2pa"][0]["ai_generated"] is True
    assert "c2pa" not in lock_of(off)["hero"]
    assert reader_json(off / lock_of(off)["hero"]["original"]["path"]) is None
    assert b"c2pa" not in (off / "assetgen.lock").read_bytes()

    capsys.readouterr()
    assert cli(keep, "verify", "--json") == 0  # no manifest expected, none found
    report = json.loads(capsys.readouterr().out)
    assert report["assets"][0]["state"] == "none"
    assert report["assets"][0]["original"]["ai_generated"] is True


def test_off_imports_no_c2pa(tmp_path: Path) -> None:
    root = project(tmp_path / "p", "off")
    assert cli(root, "build", "--jobs", "1") == 0
    code = (
        "import sys; from assetgen.cli import main; "
        f"rc = main(['-q', '-C', {str(root)!r}, 'build']); "
        "print(rc, 'c2pa' in sys.modules, 'cryptography' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split()[-3:] == ["0", "False", "False"]


# -- verify -----------------------------------------------------------------------------------


def test_verify_passes_then_names_a_variant_altered_by_one_byte(
    tmp_path: Path, signer_env: Chain, capsys: pytest.CaptureFixture[str]
) -> None:
    root = project(tmp_path / "p", "sign", extra='trust_anchors = "root.pem"\n')
    (root / "root.pem").write_bytes(signer_env.root.read_bytes())
    assert cli(root, "build", "--jobs", "1") == 0
    capsys.readouterr()
    assert cli(root, "verify") == 0
    out = capsys.readouterr().out
    assert "hero: 4 chained to the original" in out
    assert "AI-generated" in out

    victim = lock_of(root)["hero"]["variants"][1]["path"]
    data = bytearray((root / victim).read_bytes())
    data[len(data) // 2] ^= 0x01
    (root / victim).write_bytes(bytes(data))
    assert cli(root, "verify") == 3
    captured = capsys.readouterr()
    assert f"hero: altered after the build: {victim}" in captured.err
    assert "1 provenance problem" in captured.err

    assert cli(root, "verify", "--json") == 3
    report = json.loads(capsys.readouterr().out)
    states = {v["path"]: v["state"] for v in report["assets"][0]["variants"]}
    assert states.pop(victim) == "altered"
    assert set(states.values()) == {"chained"}


def test_verify_reports_untrusted_signers_distinctly(
    tmp_path: Path, signer_env: Chain, capsys: pytest.CaptureFixture[str]
) -> None:
    root = project(tmp_path / "p", "sign")
    assert cli(root, "build", "--jobs", "1") == 0
    capsys.readouterr()
    assert cli(root, "-v", "verify") == 0  # no trust anchors: reported, not a problem
    assert "(signer not a trust anchor)" in capsys.readouterr().out

    other = tmp_path / "other-root.pem"
    other.write_bytes(make_chain("someone else")[2])
    with pytest.MonkeyPatch.context() as env:
        env.setenv(ENV_TRUST, str(other))
        assert cli(root, "verify") == 3
    assert "untrusted signer" in capsys.readouterr().err


def test_verify_flags_a_variant_copied_from_another_asset_and_unsigned_ones(
    tmp_path: Path, signer_env: Chain, capsys: pytest.CaptureFixture[str]
) -> None:
    root = project(tmp_path / "p", "sign")
    spec = root / "assetgen.toml"
    spec.write_text(spec.read_text() + ASSET.replace('"hero"', '"icon"').format(formats='["png"]'))
    assert cli(root, "build", "--jobs", "1") == 0
    lock_path = root / "assetgen.lock"
    assets = lock_of(root)
    # Swap in the other asset's (validly signed) file and record its hash: only the chain tells.
    hero, icon = assets["hero"]["variants"][0], assets["icon"]["variants"][0]
    (root / hero["path"]).write_bytes((root / icon["path"]).read_bytes())
    text = lock_path.read_text().replace(hero["sha256"], icon["sha256"])
    lock_path.write_text(text)
    capsys.readouterr()
    assert cli(root, "verify", "hero") == 3
    assert f"hero: not derived from its original: {hero['path']}" in capsys.readouterr().err
    assert cli(root, "verify", "icon") == 0


# -- spec and lock errors ----------------------------------------------------------------------


def test_signing_without_a_key_is_a_spec_error_before_anything_is_written(
    tmp_path: Path,
    chain: Chain,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv(ENV_KEY, raising=False)
    monkeypatch.setenv(ENV_CERT, str(chain.chain))
    root = project(tmp_path / "p", "sign")
    assert cli(root, "build") == 2
    err = capsys.readouterr().err
    assert "assetgen.toml: field 'provenance.key'" in err and ENV_KEY in err
    assert not (root / "assetgen.lock").exists() and not (root / "public").exists()


def test_a_key_that_does_not_sign_is_refused_without_showing_it(
    tmp_path: Path,
    chain: Chain,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    wrong = make_chain("wrong", days=30)[1]  # a key that does not match the chain's leaf
    monkeypatch.setenv(ENV_CERT, str(chain.chain))
    monkeypatch.setenv(ENV_KEY, wrong.decode())  # the PEM text itself, as CI secrets are
    root = project(tmp_path / "p", "sign")
    code = cli(root, "build")
    err = capsys.readouterr().err
    body = wrong.decode().splitlines()[1]
    assert code == 2 and "provenance.key" in err and body not in err


def test_the_key_appears_in_no_file_or_output(
    tmp_path: Path,
    chain: Chain,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    pem = chain.key.read_text()
    monkeypatch.setenv(ENV_CERT, str(chain.chain))
    monkeypatch.setenv(ENV_KEY, pem)
    root = project(tmp_path / "p", "sign", extra='alg = "es256"\n')
    assert cli(root, "build", "--jobs", "1", "-v") == 0
    assert cli(root, "gallery") == 0
    assert cli(root, "verify", "--json") == 0
    secret = "".join(pem.splitlines()[1:-1])
    written = capsys.readouterr()
    blobs = [written.out, written.err] + [
        p.read_bytes().decode("latin-1") for p in root.rglob("*") if p.is_file()
    ]
    assert all(secret[:40] not in blob.replace("\n", "") for blob in blobs)


def test_spec_errors_name_the_field(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    root = project(tmp_path / "p", "signed", extra='alg = "rsa"\nkey = "/etc/key.pem"\n')
    assert cli(root, "plan") == 2
    err = capsys.readouterr().err
    assert "field 'provenance.c2pa': unknown value 'signed'" in err and "did you mean 'sign'" in err
    assert "field 'provenance.alg'" in err
    assert "field 'provenance.key'" in err and "absolute path" in err

    # A format the SDK could not carry is refused at plan time, naming the asset.
    monkeypatch.delitem(provenance.C2PA_MIME_TYPES, "png")
    root = project(tmp_path / "q", "sign")
    assert cli(root, "plan") == 2
    err = capsys.readouterr().err
    assert "asset 'hero': field 'variants.format'" in err and "cannot sign png" in err


LOCK = """\
version = 1
[assets.hero]
key = "sha256:{key}"
provider = "offline"
model = "m"
prompt = "p"
[assets.hero.original]
path = "assets/generated/{sha2}/{sha}.png"
sha256 = "{sha}"
width = 1
height = 1
[[assets.hero.c2pa]]
sha256 = "{sha}"
validation_state = "{state}"
ai_generated = {ai}
"""


@pytest.mark.parametrize(
    ("state", "ai", "sha", "field"),
    [
        ("great", "true", "a" * 64, "c2pa[0].validation_state"),
        ("valid", '"yes"', "a" * 64, "c2pa[0].ai_generated"),
        ("valid", "true", "b" * 64, "c2pa[0].sha256"),
    ],
)
def test_a_damaged_c2pa_summary_in_the_lock_names_its_field(
    state: str, ai: str, sha: str, field: str
) -> None:
    text = LOCK.format(key="c" * 64, sha="a" * 64, sha2="aa", state=state, ai=ai)
    text = text.replace(
        f'[[assets.hero.c2pa]]\nsha256 = "{"a" * 64}"', f'[[assets.hero.c2pa]]\nsha256 = "{sha}"'
    )
    with pytest.raises(LockfileError) as caught:
        parse_lock(text, file="assetgen.lock")
    assert caught.value.field == field and caught.value.asset == "hero"


def test_a_lock_without_c2pa_fields_still_reads() -> None:
    text = LOCK.format(key="c" * 64, sha="a" * 64, sha2="aa", state="valid", ai="true")
    older = text.split("[[assets.hero.c2pa]]")[0]
    assert parse_lock(older, file="assetgen.lock").assets["hero"].c2pa == ()
    assert parse_lock(text, file="assetgen.lock").assets["hero"].c2pa[0].ai_generated is True


# -- gallery and manifest ----------------------------------------------------------------------


def test_gallery_and_manifest_show_provenance(tmp_path: Path, signer_env: Chain) -> None:
    root = project(tmp_path / "p", "sign")
    spec = root / "assetgen.toml"
    spec.write_text(
        spec.read_text().replace("[build]\n", '[build]\nmanifest = "public/assets.json"\n')
    )
    assert cli(root, "build", "--jobs", "1") == 0
    manifest = json.loads((root / "public/assets.json").read_text())["assets"]["hero"]
    assert manifest["c2pa"]["ai_generated"] is True
    assert all(v["c2pa"] is True for v in manifest["variants"])

    from assetgen.gallery import render_gallery
    from assetgen.project import open_project

    page = render_gallery(open_project(spec))
    assert 'data-provenance="chained"' in page.html
    victim = root / lock_of(root)["hero"]["variants"][0]["path"]
    victim.write_bytes(victim.read_bytes()[:-10])
    page = render_gallery(open_project(spec))
    assert 'data-provenance="altered"' in page.html and "c2pa altered" in page.html


def test_without_c2pa_python_a_mode_that_needs_it_is_a_spec_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(provenance, "available", lambda: False)
    root = project(tmp_path / "p", "keep-original")
    assert cli(root, "build") == 2
    assert cli(root, "verify") == 2
    err = capsys.readouterr().err
    assert err.count("assetgen.toml: field 'provenance.c2pa'") == 2
    assert "pip install 'assetgen-images[c2pa]'" in err
    assert not (root / "assetgen.lock").exists()


def test_drafts_are_never_signed(tmp_path: Path) -> None:
    from assetgen.project import open_project

    root = project(tmp_path / "p", "sign")
    draft = open_project(root / "assetgen.toml", draft=True)
    assert draft.spec.provenance.c2pa == "keep-original"
