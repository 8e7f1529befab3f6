"""The model table: `assetgen models`, lifecycle notes, estimates and the 2.x families."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest

import assetgen.models_report
from assetgen.cli import main
from assetgen.errors import ProviderError, SpecError
from assetgen.events import Event
from assetgen.providers.base import ImageRequest, InputImage
from assetgen.providers.openai.lifecycle import is_openai_endpoint
from assetgen.providers.openai.models import PROFILES
from assetgen.providers.openai.provider import OpenAIProvider
from assetgen.spec_types import DEFAULT_MODEL, ProviderConfig
from tests.conftest import FAKE_API_KEY
from tests.fakeapi import FakeImagesAPI

from .projects import make_image, make_project

AFTER_SHUTDOWN = date(2026, 12, 2)
OPENAI_SPEC = """\
[build]
out_dir = "public/img"

[provider]
name = "openai"
base_url = "{base_url}"
max_retries = 0
{provider_extra}
[defaults]
size = "1024x1024"
quality = "{quality}"
"""
CARDS = """
[[asset]]
name = "card-{{ n }}"
prompt = "a playing card number {{ n }}"
matrix = { n = [1, 2, 3] }
variants = [{ width = 32, format = "png" }]
"""


class FixedDay(date):
    @classmethod
    def today(cls) -> FixedDay:
        return cls(2026, 12, 2)


@pytest.fixture(autouse=True)
def _today(monkeypatch: pytest.MonkeyPatch) -> None:
    """`assetgen models` and the provider judge lifecycles as of 2026-12-02."""
    monkeypatch.setattr(assetgen.models_report, "date", FixedDay)
    monkeypatch.setattr("assetgen.providers.openai.provider.date", FixedDay)


@pytest.fixture
def api_env(fake_api: FakeImagesAPI, monkeypatch: pytest.MonkeyPatch) -> FakeImagesAPI:
    monkeypatch.setenv("OPENAI_API_KEY", FAKE_API_KEY)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    return fake_api


def openai_project(
    root: Path,
    base_url: str,
    *,
    body: str = CARDS,
    quality: str = "low",
    provider_extra: str = "",
) -> Path:
    base = OPENAI_SPEC.format(base_url=base_url, quality=quality, provider_extra=provider_extra)
    make_project(root, body, base=base)
    return root


def models_json(*argv: str) -> dict[str, Any]:
    return {model["id"]: model for model in json.loads(run_models(*argv))["models"]}


def run_models(*argv: str) -> str:
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main([*argv, "models", "--json"]) == 0
    return out.getvalue()


# -- assetgen models ------------------------------------------------------------------------


def test_models_lists_every_known_model_with_status_and_prices(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["-C", str(tmp_path), "models"]) == 0
    out = capsys.readouterr().out
    for model in PROFILES:
        assert f"\n{model}  " in f"\n{out}"
    assert "gpt-image-2.6-flare  current · the default" in out
    assert "gpt-image-1-mini  shut down 2026-12-01 → gpt-image-2.6-flare" in out
    assert "gpt-image-1  shut down 2026-10-23 → gpt-image-2.6-sunburst" in out
    assert "text $5.00 (cached $1.25), image in $8.00 (cached $2.00), image out $30.00" in out
    assert "(assumed: 4× high)" in out and "auto (estimated as max)" in out


def test_models_json_carries_the_table(tmp_path: Path) -> None:
    models = models_json("-C", str(tmp_path))
    assert list(models) == list(PROFILES)
    flare, two, mini = (
        models["gpt-image-2.6-flare"],
        models["gpt-image-2"],
        models["gpt-image-1-mini"],
    )
    assert flare["status"] == "current" and flare["transparency"] == "unknown"
    assert flare["qualities"] == ["auto", "low", "medium", "high", "xhigh", "max"]
    assert flare["complexity"] == ["low", "medium", "high"] and flare["max_inputs"] == 16
    assert flare["auto_quality_estimated_as"] == "max"
    assert flare["assumed_qualities"] == ["xhigh", "max"]
    assert flare["per_image"]["low"] == {
        "1024x1024": 0.006,
        "1536x1024": 0.00501,
        "1024x1536": 0.00501,
    }
    assert flare["per_image"]["high"]["1024x1024"] == pytest.approx(7024 * 30 / 1e6)
    assert models["gpt-image-2.5-sunburst"]["complexity"] == []
    assert two["transparency"] == "no" and two["prices"]["output"] == 30.0
    assert two["custom_sizes"] == {
        "multiple": 16, "max_edge": 3840, "max_pixels": 8_294_400, "max_ratio": 3.0,
        "min_pixels": 655_360,
    }  # fmt: skip
    assert two["prices"]["cached_text_input"] == 1.25 and two["prices"]["cached_image_input"] == 2
    assert models["gpt-image-2-2026-04-21"]["snapshot_of"] == "gpt-image-2"
    assert mini["status"] == "shut down" and mini["shutdown"] == "2026-12-01"
    assert mini["successors"][0] == "gpt-image-2.6-flare" and mini["input_fidelity"] is False
    assert mini["per_image"]["low"]["1024x1024"] == 0.005
    assert models["gpt-image-1"]["shutdown"] == "2026-10-23"
    assert all(model["sources"] and model["sources_as_of"] for model in models.values())


def test_models_applies_the_projects_price_overrides(tmp_path: Path) -> None:
    extra = '[provider.prices."gpt-image-2.6-flare"]\noutput = 24.0\n'
    openai_project(tmp_path, "https://api.cometapi.com/v1", provider_extra=extra)
    report = json.loads(run_models("-C", str(tmp_path)))
    assert report["spec"] == "assetgen.toml" and report["project_model"] == DEFAULT_MODEL
    flare = {model["id"]: model for model in report["models"]}["gpt-image-2.6-flare"]
    assert flare["overridden"] == ["output"] and flare["in_use"] is True
    assert flare["per_image"]["low"]["1024x1024"] == pytest.approx(200 * 24 / 1e6)


def test_models_shows_a_project_model_not_in_the_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    extra = 'model = "acme-image-9"\n[provider.prices.acme-image-9]\noutput = 10.0\n'
    openai_project(tmp_path, "https://relay.example/v1", provider_extra=extra)
    assert main(["-C", str(tmp_path), "models", "acme-image-9"]) == 0
    out = capsys.readouterr().out
    assert "acme-image-9  current · this project's model · not in assetgen's table" in out
    assert main(["-C", str(tmp_path), "models", "gpt-image-9"]) == 2
    assert "no model 'gpt-image-9'" in capsys.readouterr().err


def test_an_unquoted_dotted_model_id_is_named_with_the_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], api_env: FakeImagesAPI
) -> None:
    extra = "[provider.prices.gpt-image-1.5]\noutput = 32.0\n"
    openai_project(tmp_path, api_env.base_url, provider_extra=extra)
    fix = "assetgen.toml: field 'provider.prices.\"gpt-image-1.5\"': quote the model id: "
    fix += '[provider.prices."gpt-image-1.5"]'
    assert main(["-C", str(tmp_path), "models"]) == 2
    assert fix in capsys.readouterr().err
    assert main(["-C", str(tmp_path), "plan"]) == 2
    assert fix in capsys.readouterr().err
    quoted = (tmp_path / "assetgen.toml").read_text().replace("gpt-image-1.5]", '"gpt-image-1.5"]')
    (tmp_path / "assetgen.toml").write_text(quoted)
    assert models_json("-C", str(tmp_path))["gpt-image-1.5"]["overridden"] == ["output"]


def test_other_price_problems_name_the_spec_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], api_env: FakeImagesAPI
) -> None:
    extra = '[provider.prices."gpt-image-2"]\ninput = 2.0\n'
    openai_project(tmp_path, api_env.base_url, provider_extra=extra)
    assert main(["-C", str(tmp_path), "plan"]) == 2
    err = capsys.readouterr().err
    assert "assetgen.toml: field 'provider.prices.gpt-image-2.input': unknown price" in err


# -- a current default ------------------------------------------------------------------------


def test_init_names_a_current_model(tmp_path: Path) -> None:
    assert main(["-C", str(tmp_path), "init"]) == 0
    text = (tmp_path / "assetgen.toml").read_text()
    assert f'model = "{DEFAULT_MODEL}"' in text
    assert PROFILES[DEFAULT_MODEL].status(AFTER_SHUTDOWN) == "current"
    assert main(["-C", str(tmp_path), "-q", "build"]) == 0


# -- lifecycle: once per build, with the successor and the line to change ----------------------


def request(**fields: Any) -> ImageRequest:
    values: dict[str, Any] = {
        "asset": "hero",
        "key": "sha256:" + "0" * 64,
        "prompt": "A teal fox in a coral forest",
        "model": "gpt-image-1-mini",
        "quality": "low",
    }
    return ImageRequest(**{**values, **fields})


def test_a_retired_model_is_refused_on_openais_own_endpoint() -> None:
    config = ProviderConfig(base_url="https://api.openai.com/v1", base_url_set=True)
    provider = OpenAIProvider(config, today=AFTER_SHUTDOWN)
    with pytest.raises(SpecError) as caught:
        provider.check(request())
    assert caught.value.field == "model" and caught.value.asset == "hero"
    assert 'set [provider] model = "gpt-image-2.6-flare" in assetgen.toml' in caught.value.message
    with pytest.raises(SpecError, match=r"gpt-image-2\.6-sunburst"):
        provider.check(request(model="gpt-image-1.5"))
    provider.check(request(model="gpt-image-2.6-flare"))
    assert is_openai_endpoint("https://API.openai.com/v1/") and not is_openai_endpoint(
        "https://api.cometapi.com/v1"
    )


def test_a_retired_model_elsewhere_warns_once_per_build_and_is_sent(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], api_env: FakeImagesAPI
) -> None:
    openai_project(tmp_path, api_env.base_url, provider_extra='model = "gpt-image-1-mini"\n')
    assert main(["-C", str(tmp_path), "-q", "build"]) == 0
    warnings = [line for line in capsys.readouterr().err.splitlines() if "shut down" in line]
    assert len(warnings) == 1 and len(api_env.requests) == 3
    assert "may still serve it, so it is sent" in warnings[0]
    assert 'set [provider] model = "gpt-image-2.6-flare" in assetgen.toml' in warnings[0]


def test_a_retired_model_on_openai_is_never_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(500)

    monkeypatch.setenv("OPENAI_API_KEY", "sk-unused")
    config = ProviderConfig(base_url="https://api.openai.com/v1", base_url_set=True)
    transport = httpx.MockTransport(record)  # no test reaches the internet, even on old code
    provider = OpenAIProvider(config, transport=transport, today=AFTER_SHUTDOWN)
    with pytest.raises(SpecError, match="so OpenAI's API refuses it"):
        generate(provider, request())
    assert sent == []


# -- estimates --------------------------------------------------------------------------------


def test_auto_quality_is_estimated_at_the_models_dearest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], api_env: FakeImagesAPI
) -> None:
    openai_project(tmp_path, api_env.base_url, quality="auto")
    assert main(["-C", str(tmp_path), "plan"]) == 0
    out = capsys.readouterr().out
    max_square = round(7024 * 4 * 30 / 1e6, 4)  # max counted as 4 × high
    assert out.count(f"~${max_square:.4f}") == 3
    assert f"estimated cost ${3 * 7024 * 4 * 30 / 1e6:.4f}" in out


def test_custom_sizes_are_estimated_by_area_and_never_below_the_square(
    api_env: FakeImagesAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    provider = fake_provider(api_env, monkeypatch)
    square = provider.estimate_cost(request(model="gpt-image-2", quality="high"))
    assert square == pytest.approx(7024 * 30 / 1e6, abs=1e-6)
    wide = provider.estimate_cost(request(model="gpt-image-2", quality="high", size="3840x2160"))
    assert wide == pytest.approx(7024 * 30 / 1e6 * 3840 * 2160 / 1024**2, abs=1e-6)
    small = provider.estimate_cost(request(model="gpt-image-2", quality="high", size="1024x640"))
    assert small == square


def test_edit_estimates_include_their_input_images(
    tmp_path: Path, api_env: FakeImagesAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    square = make_image(tmp_path / "square.png", (1024, 1024))
    wide = make_image(tmp_path / "wide.png", (1536, 1024))
    provider = fake_provider(api_env, monkeypatch)

    def edit(model: str, *images: Path, **fields: Any) -> float | None:
        inputs = tuple(InputImage("reference", path, "0" * 64) for path in images)
        return provider.estimate_cost(request(model=model, references=inputs, **fields))

    def usd(value: float) -> Any:
        return pytest.approx(value, abs=1e-6)

    # 1.x: 65 tokens + 129 per 512 px tile, the shorter side scaled to 512 px.
    assert edit("gpt-image-1-mini", square) == usd(0.005 + 194 * 2.5e-6)
    assert edit("gpt-image-1-mini", square, wide) == pytest.approx(
        0.005 + (194 + 323) * 2.5e-6, abs=1e-6
    )
    high = edit("gpt-image-1.5", wide, input_fidelity="high")
    assert high == usd(272 * 32e-6 + (323 + 6144) * 8e-6)
    # 2.x: every input image at the patch budget; n images count their inputs n times.
    assert edit("gpt-image-2.6-flare", square, n=2) == pytest.approx(
        2 * (0.006 + 1536 * 8e-6), abs=1e-6
    )
    missing = InputImage("image", tmp_path / "not-made-yet.png", "")
    unknown = provider.estimate_cost(request(image=missing))
    assert unknown == pytest.approx(
        0.005 + (65 + 4 * 129) * 2.5e-6, abs=1e-6
    )  # counted at its largest


def fake_provider(
    fake: FakeImagesAPI, monkeypatch: pytest.MonkeyPatch, events: list[Event] | None = None
) -> OpenAIProvider:
    monkeypatch.setenv("OPENAI_API_KEY", fake.key)
    config = ProviderConfig(base_url=fake.base_url, base_url_set=True, max_retries=0)
    sink = events.append if events is not None else (lambda event: None)
    return OpenAIProvider(config, emit=sink, today=AFTER_SHUTDOWN)


# -- the fake API accepts every request built for each model ------------------------------


def generate(provider: OpenAIProvider, req: ImageRequest) -> Any:
    import asyncio

    async def run() -> Any:
        try:
            return await provider.generate(req)
        finally:
            await provider.aclose()

    return asyncio.run(run())


@pytest.mark.parametrize("model", list(PROFILES))
def test_the_fake_api_takes_every_request_built_for_each_model(
    model: str, tmp_path: Path, api_env: FakeImagesAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    profile = PROFILES[model]
    base = make_image(tmp_path / "base.png", (1024, 1024))
    provider = fake_provider(api_env, monkeypatch)
    image = InputImage("image", base, "0" * 64)
    complexities = profile.complexities or (None,)
    background = "opaque" if profile.transparency is False else "transparent"
    fidelity = "high" if "input_fidelity" in profile.edit_fields else None
    for quality in profile.qualities:
        for complexity in complexities:
            fields = {"model": model, "quality": quality, "complexity": complexity}
            provider.check(request(**fields, background=background))
            generate(provider, request(**fields, background=background))
            generate(provider, request(**fields, image=image, input_fidelity=fidelity))
    sent = [r.json or r.fields for r in api_env.requests]
    assert all(r.status == 200 for r in api_env.requests)
    assert {body["quality"] for body in sent} == set(profile.qualities)
    assert all(("complexity" in body) == bool(profile.complexities) for body in sent)


def test_complexity_goes_only_to_models_that_take_it(
    api_env: FakeImagesAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    provider = fake_provider(api_env, monkeypatch)
    with pytest.raises(SpecError, match="does not take complexity") as caught:
        provider.check(request(model="gpt-image-2.5-flare", complexity="high"))
    assert caught.value.field == "complexity"
    with pytest.raises(SpecError, match="expected one of low, medium, high"):
        provider.check(request(model="gpt-image-2.6-flare", complexity="extreme"))
    with pytest.raises(SpecError, match="expected one of auto, low, medium, high, got 'max'"):
        provider.check(request(model="gpt-image-2", quality="max"))
    with pytest.raises(SpecError, match="too small"):
        provider.check(request(model="gpt-image-2", size="800x800"))
    assert api_env.requests == []


def test_a_transparency_refusal_from_a_model_marked_unknown_is_explained(
    api_env: FakeImagesAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    api_env.opaque_only.add("gpt-image-2.6-sunburst")
    provider = fake_provider(api_env, monkeypatch)
    req = request(model="gpt-image-2.6-sunburst", background="transparent")
    provider.check(req)  # unknown: asked for, and sent
    with pytest.raises(ProviderError) as caught:
        generate(provider, req)
    text = str(caught.value)
    assert "Transparent background is not supported for this model" in text
    assert "does not know whether gpt-image-2.6-sunburst makes transparent backgrounds" in text


# -- complexity in the spec ---------------------------------------------------------------------


def test_complexity_is_a_spec_field_and_in_the_key_only_when_set(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    body = '[[asset]]\nname = "a"\nprompt = "p"\n'
    make_project(tmp_path, body)
    assert main(["-C", str(tmp_path), "show", "a", "--json"]) == 0
    plain = json.loads(capsys.readouterr().out)
    assert "complexity" not in plain["params"]
    make_project(tmp_path, body + 'complexity = "high"\n')
    assert main(["-C", str(tmp_path), "show", "a", "--json"]) == 0
    detailed = json.loads(capsys.readouterr().out)
    assert detailed["params"]["complexity"] == "high" and detailed["key"] != plain["key"]
    make_project(tmp_path, body + 'complexity = "extreme"\nquality = "ultra"\n')
    assert main(["-C", str(tmp_path), "plan"]) == 2
    err = capsys.readouterr().err
    assert "field 'complexity'" in err and "field 'quality'" in err
