"""The ``openai`` provider against the fake Images API (a real local HTTP server)."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageChops, ImageDraw

from assetgen.errors import InputImageError, ProviderAuthError, ProviderError, SpecError
from assetgen.events import Event
from assetgen.providers.base import ImageRequest, ImageResult, InputImage
from assetgen.providers.openai.provider import OpenAIProvider
from assetgen.providers.openai.retry import RetryPolicy, retry_after, should_retry
from assetgen.spec_types import ProviderConfig
from tests.fakeapi import FakeImagesAPI, Reply

KEY_ENV = "ASSETGEN_TEST_IMAGES_KEY"
FAST = RetryPolicy(max_retries=2, initial_delay=0.01, max_delay=0.02)
MakeProvider = Callable[..., OpenAIProvider]


@pytest.fixture
def events() -> list[Event]:
    return []


@pytest.fixture
def make_provider(
    fake_api: FakeImagesAPI, monkeypatch: pytest.MonkeyPatch, events: list[Event]
) -> MakeProvider:
    monkeypatch.setenv(KEY_ENV, fake_api.key)

    def make(
        *, retry: RetryPolicy = FAST, today: date = date(2026, 11, 25), **fields: Any
    ) -> OpenAIProvider:
        values: dict[str, Any] = {"base_url": fake_api.base_url, "base_url_set": True}
        config = ProviderConfig(api_key_env=KEY_ENV, **{**values, **fields})
        return OpenAIProvider(config, emit=events.append, retry=retry, today=today)

    return make


def request(**fields: Any) -> ImageRequest:
    values: dict[str, Any] = {
        "asset": "hero",
        "key": "sha256:" + "0" * 64,
        "prompt": "A teal fox in a coral forest",
        "model": "gpt-image-1-mini",
        "quality": "low",
    }
    return ImageRequest(**{**values, **fields})


def run(provider: OpenAIProvider, *requests: ImageRequest) -> list[Any]:
    """Results (or exceptions) of the requests, sent concurrently; closes the provider."""

    async def go() -> list[Any]:
        try:
            calls = (provider.generate(r) for r in requests)
            return await asyncio.gather(*calls, return_exceptions=True)
        finally:
            await provider.aclose()

    return asyncio.run(go())


def generate(provider: OpenAIProvider, req: ImageRequest) -> ImageResult:
    [result] = run(provider, req)
    if isinstance(result, BaseException):
        raise result
    assert isinstance(result, ImageResult)
    return result


def failure(provider: OpenAIProvider, req: ImageRequest) -> BaseException:
    [result] = run(provider, req)
    assert isinstance(result, BaseException), "expected the request to fail"
    return result


def open_image(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def write_image(
    path: Path, size: tuple[int, int] = (64, 48), fmt: str = "PNG", mode: str = "RGB"
) -> InputImage:
    image = Image.new(mode, size, (30, 120, 110))
    ImageDraw.Draw(image).ellipse((4, 4, size[0] - 4, size[1] - 4), fill=(240, 110, 90))
    image.save(path, fmt)
    return InputImage("image", path, "0" * 64)


def write_mask(path: Path, size: tuple[int, int] = (64, 48), *, alpha: bool = False) -> InputImage:
    """White (or alpha 0) box in the upper left quarter: the region to edit."""
    box = (0, 0, size[0] // 2 - 1, size[1] // 2 - 1)
    if alpha:
        image = Image.new("RGBA", size, (0, 0, 0, 255))
        ImageDraw.Draw(image).rectangle(box, fill=(0, 0, 0, 0))
    else:
        image = Image.new("L", size, 0)
        ImageDraw.Draw(image).rectangle(box, fill=255)
    image.save(path, "PNG")
    return InputImage("mask", path, "1" * 64)


def reference(path: Path, fmt: str) -> InputImage:
    write_image(path, (40, 40), fmt)
    return InputImage("reference", path, "2" * 64)


# -- generations ---------------------------------------------------------------------


def test_every_generation_parameter_reaches_the_wire(
    make_provider: MakeProvider, fake_api: FakeImagesAPI
) -> None:
    req = request(
        n=2,
        size="1536x1024",
        quality="high",
        background="opaque",
        output_format="webp",
        output_compression=70,
        moderation="low",
    )
    result = generate(make_provider(), req)
    [sent] = fake_api.requests
    assert sent.path == "/v1/images/generations"
    assert sent.json == {
        "model": "gpt-image-1-mini",
        "prompt": "A teal fox in a coral forest",
        "n": 2,
        "size": "1536x1024",
        "quality": "high",
        "background": "opaque",
        "output_format": "webp",
        "output_compression": 70,
        "moderation": "low",
    }
    assert sent.headers["authorization"] == f"Bearer {fake_api.key}"
    assert sent.headers["user-agent"].startswith("assetgen/")
    assert result.format == "webp" and len(result.images) == 2
    assert open_image(result.images[0]).size == (1536, 1024)
    assert result.request_id and result.model == "gpt-image-1-mini"


def test_fields_left_unset_or_meaningless_are_not_sent(
    make_provider: MakeProvider, fake_api: FakeImagesAPI
) -> None:
    req = request(output_format="png", output_compression=100, input_fidelity="high")
    generate(make_provider(organization="org-1", project="proj-1"), req)
    [sent] = fake_api.requests
    assert set(sent.json or {}) == {
        "model",
        "prompt",
        "n",
        "size",
        "quality",
        "background",
        "output_format",
    }
    assert sent.headers["openai-organization"] == "org-1"
    assert sent.headers["openai-project"] == "proj-1"


def test_connections_are_reused(make_provider: MakeProvider, fake_api: FakeImagesAPI) -> None:
    provider = make_provider()

    async def twice() -> None:
        try:
            await provider.generate(request())
            await provider.generate(request())
        finally:
            await provider.aclose()

    asyncio.run(twice())
    assert len({sent.client_port for sent in fake_api.requests}) == 1


# -- edits ---------------------------------------------------------------------------


def test_edit_sends_base_then_references_as_image_array_with_mask(
    make_provider: MakeProvider, fake_api: FakeImagesAPI, tmp_path: Path
) -> None:
    base = write_image(tmp_path / "base.png")
    refs = (reference(tmp_path / "style.jpg", "JPEG"), reference(tmp_path / "pose.webp", "WEBP"))
    mask = write_mask(tmp_path / "arm.png", alpha=True)
    req = request(image=base, mask=mask, references=refs, size="auto", moderation="auto")
    generate(make_provider(), req)
    [sent] = fake_api.requests
    assert sent.path == "/v1/images/edits"
    assert sent.file_names() == ["image[]", "image[]", "image[]", "mask"]
    assert [p.filename for p in sent.files] == ["base.png", "style.jpg", "pose.webp", "arm.png"]
    assert [p.content_type for p in sent.files] == [
        "image/png",
        "image/jpeg",
        "image/webp",
        "image/png",
    ]
    assert sent.files[0].data == base.path.read_bytes()
    assert sent.files[3].data == mask.path.read_bytes()  # already in the API's form
    assert "moderation" not in sent.fields and "input_fidelity" not in sent.fields
    assert sent.fields["model"] == "gpt-image-1-mini" and sent.fields["n"] == "1"


def test_single_image_edit_uses_the_plain_image_field(
    make_provider: MakeProvider, fake_api: FakeImagesAPI, tmp_path: Path
) -> None:
    base = write_image(tmp_path / "photo.jpeg", fmt="JPEG")
    result = generate(make_provider(), request(image=base, size="auto"))
    [sent] = fake_api.requests
    assert sent.file_names() == ["image"]
    assert sent.files[0].content_type == "image/jpeg"
    assert open_image(result.images[0]).size == (64, 48)


def test_image_field_can_be_forced_for_relays(
    make_provider: MakeProvider, fake_api: FakeImagesAPI, tmp_path: Path
) -> None:
    base = write_image(tmp_path / "base.png")
    generate(make_provider(image_field="image[]"), request(image=base, size="auto"))
    [sent] = fake_api.requests
    assert sent.file_names() == ["image[]"]
    ref = write_image(tmp_path / "ref.png")
    two = request(image=base, references=(ref,), size="auto")
    with pytest.raises(SpecError) as caught:
        make_provider(image_field="image").check(two)
    assert 'image_field = "image" sends one image part only' in caught.value.message
    assert len(fake_api.requests) == 1


def test_input_fidelity_is_sent_to_models_that_take_it(
    make_provider: MakeProvider, fake_api: FakeImagesAPI, tmp_path: Path
) -> None:
    base = write_image(tmp_path / "base.png")
    req = request(model="gpt-image-1.5", image=base, input_fidelity="high")
    generate(make_provider(), req)
    assert fake_api.requests[0].fields["input_fidelity"] == "high"


def test_black_and_white_mask_becomes_png_with_alpha(
    make_provider: MakeProvider, fake_api: FakeImagesAPI, tmp_path: Path
) -> None:
    base = write_image(tmp_path / "base.png")
    mask = write_mask(tmp_path / "mask.png")
    generate(make_provider(), request(image=base, mask=mask, size="auto"))
    sent = open_image(fake_api.requests[0].files[-1].data)
    assert sent.mode == "RGBA" and sent.size == (64, 48)
    alpha = sent.getchannel("A")
    assert alpha.getpixel((2, 2)) == 0  # white in the drawing: edit here
    assert alpha.getpixel((60, 40)) == 255


def test_keep_unmasked_keeps_every_pixel_outside_the_mask(
    make_provider: MakeProvider, tmp_path: Path
) -> None:
    base = write_image(tmp_path / "base.png")
    mask = write_mask(tmp_path / "mask.png")
    for fmt in ("png", "webp"):
        req = request(image=base, mask=mask, size="auto", output_format=fmt)
        result = generate(make_provider(), req)
        assert result.format == fmt
        kept = open_image(result.images[0]).convert("RGB")
        with Image.open(base.path) as original, Image.open(mask.path) as region:
            diff = ImageChops.difference(kept, original.convert("RGB")).convert("L")
            outside = ImageChops.multiply(diff, ImageChops.invert(region.convert("L")))
            assert outside.getbbox() is None
            assert diff.getbbox() is not None  # the model did paint inside the mask


def test_without_keep_unmasked_the_model_answer_is_returned_as_is(
    make_provider: MakeProvider, tmp_path: Path
) -> None:
    base = write_image(tmp_path / "base.png")
    mask = write_mask(tmp_path / "mask.png")
    req = request(image=base, mask=mask, size="auto", keep_unmasked=False)
    provider = make_provider()
    result = generate(provider, req)
    with Image.open(base.path) as original:
        repainted = open_image(result.images[0]).convert("RGB")
        assert repainted.getpixel((60, 40)) != original.convert("RGB").getpixel((60, 40))


def test_mask_of_another_size_is_refused_before_any_request(
    make_provider: MakeProvider, fake_api: FakeImagesAPI, tmp_path: Path
) -> None:
    base = write_image(tmp_path / "base.png")
    mask = write_mask(tmp_path / "wrong.png", (32, 32))
    req = request(image=base, mask=mask)
    provider = make_provider()
    with pytest.raises(InputImageError) as checked:
        provider.check(req)
    error = failure(provider, req)
    assert isinstance(error, InputImageError)
    for text in (str(checked.value), str(error)):
        assert "'hero'" in text and "wrong.png" in text and "32x32" in text and "64x48" in text
    assert fake_api.requests == []


def test_too_many_images_are_refused_before_any_request(
    make_provider: MakeProvider, fake_api: FakeImagesAPI, tmp_path: Path
) -> None:
    base = write_image(tmp_path / "base.png")
    refs = tuple(reference(tmp_path / f"ref{i}.png", "PNG") for i in range(16))
    req = request(image=base, references=refs)
    with pytest.raises(InputImageError, match="17 input images"):
        make_provider().check(req)
    assert isinstance(failure(make_provider(), req), InputImageError)
    assert fake_api.requests == []


def test_too_large_or_unsupported_images_are_refused_before_any_request(
    make_provider: MakeProvider, fake_api: FakeImagesAPI, tmp_path: Path
) -> None:
    base = write_image(tmp_path / "base.png")
    huge = reference(tmp_path / "huge.png", "PNG")
    with huge.path.open("r+b") as handle:
        handle.truncate(50 * 1024 * 1024 + 1)  # sparse: instant
    gif = reference(tmp_path / "anim.gif", "GIF")
    provider = make_provider()
    with pytest.raises(InputImageError, match=r"huge\.png is 50\.0 MB") as large:
        provider.check(request(image=base, references=(huge,)))
    assert large.value.field == "references[0]"
    with pytest.raises(InputImageError, match=r"anim\.gif is GIF"):
        provider.check(request(image=base, references=(gif,)))
    assert isinstance(failure(provider, request(image=base, references=(huge,))), InputImageError)
    assert fake_api.requests == []


# -- what a model cannot do fails before any money is spent -------------------------------


def test_gpt_image_2_takes_custom_sizes_but_no_transparency(
    make_provider: MakeProvider, fake_api: FakeImagesAPI
) -> None:
    provider = make_provider()
    req = request(model="gpt-image-2", size="1536x864")
    provider.check(req)
    with pytest.raises(SpecError) as transparent:
        provider.check(request(model="gpt-image-2", background="transparent"))
    assert transparent.value.asset == "hero" and transparent.value.field == "background"
    for size in ("1000x1000", "3840x1024", "3840x3840", "1024x4096"):
        with pytest.raises(SpecError, match=size):
            provider.check(request(model="gpt-image-2", size=size))
    with pytest.raises(SpecError, match="does not take size"):
        provider.check(request(size="1536x864"))
    assert open_image(generate(provider, req).images[0]).size == (1536, 864)
    assert len(fake_api.requests) == 1


def test_check_reports_every_unsupported_parameter(
    make_provider: MakeProvider, tmp_path: Path
) -> None:
    base = write_image(tmp_path / "base.png")
    req = request(
        image=base,
        input_fidelity="high",
        moderation="low",
        background="transparent",
        output_format="jpeg",
        n=11,
    )
    with pytest.raises(SpecError) as caught:
        make_provider().check(req)
    assert caught.value.asset == "hero"
    for name in ("background", "input_fidelity", "n"):
        assert f"{name}: " in caught.value.message
    assert "size" not in caught.value.message
    assert "moderation" not in caught.value.message


def test_moderation_from_defaults_does_not_break_edits(
    make_provider: MakeProvider, fake_api: FakeImagesAPI, tmp_path: Path
) -> None:
    base = write_image(tmp_path / "base.png")
    req = request(image=base, size="auto", moderation="low")
    provider = make_provider()
    provider.check(req)
    generate(provider, req)
    [sent] = fake_api.requests
    assert "moderation" not in sent.fields


# -- retries --------------------------------------------------------------------------


def test_429_waits_as_long_as_retry_after_asks(
    make_provider: MakeProvider, fake_api: FakeImagesAPI, events: list[Event]
) -> None:
    fake_api.script(Reply.rate_limited(retry_after=0.2), Reply.rate_limited(retry_after_ms=150))
    started = time.monotonic()
    generate(make_provider(), request())
    assert time.monotonic() - started >= 0.35
    retries = [event for event in events if event.kind == "retry"]
    assert [event.delay for event in retries] == [0.2, 0.15]  # type: ignore[attr-defined]
    assert [event.status for event in retries] == [429, 429]  # type: ignore[attr-defined]
    assert retries[0].asset == "hero"
    assert len(fake_api.requests) == 3


def test_server_error_then_success(
    make_provider: MakeProvider, fake_api: FakeImagesAPI, events: list[Event]
) -> None:
    fake_api.script(Reply.server_error(500), Reply.html(502))
    result = generate(make_provider(), request())
    assert len(result.images) == 1
    assert [r.status for r in fake_api.requests] == [500, 502, 200]
    assert [event.kind for event in events].count("retry") == 2


def test_gives_up_when_the_retries_are_spent(
    make_provider: MakeProvider, fake_api: FakeImagesAPI
) -> None:
    fake_api.script(*[Reply.server_error(503)] * 4)
    error = failure(make_provider(), request())
    assert isinstance(error, ProviderError) and error.status == 503 and error.retryable
    assert "gave up after 3 attempts" in str(error)
    assert len(fake_api.requests) == 3


def test_a_too_long_retry_after_is_not_waited_for(
    make_provider: MakeProvider, fake_api: FakeImagesAPI
) -> None:
    fake_api.script(Reply.rate_limited(retry_after=3600))
    error = failure(make_provider(), request())
    assert "asks to wait 3600 s" in str(error)
    assert len(fake_api.requests) == 1


def test_insufficient_quota_is_not_retried(
    make_provider: MakeProvider, fake_api: FakeImagesAPI
) -> None:
    fake_api.script(Reply.quota())
    error = failure(make_provider(), request())
    assert isinstance(error, ProviderError) and error.code == "insufficient_quota"
    assert "exceeded your current quota" in str(error)
    assert len(fake_api.requests) == 1


def test_cut_off_and_slow_responses_are_retried(
    make_provider: MakeProvider, fake_api: FakeImagesAPI, events: list[Event]
) -> None:
    fake_api.script(Reply.cut(), Reply.slow(0.6))
    result = generate(make_provider(timeout=0.3), request())
    assert len(result.images) == 1
    assert len(fake_api.requests) == 3 and fake_api.requests[0].status is None
    messages = [event.message for event in events if event.kind == "retry"]
    assert "connection" in messages[0] and "in time" in messages[1]


# -- refusals and errors ----------------------------------------------------------------


def test_moderation_refusal_carries_the_provider_message_and_code(
    make_provider: MakeProvider, fake_api: FakeImagesAPI
) -> None:
    fake_api.script(Reply.moderation())
    error = failure(make_provider(), request())
    assert isinstance(error, ProviderError) and not error.retryable
    assert error.code == "moderation_blocked" and error.status == 400 and error.asset == "hero"
    assert "rejected by the safety system" in str(error)
    assert len(fake_api.requests) == 1


def test_model_not_found_is_one_clear_line(
    make_provider: MakeProvider, fake_api: FakeImagesAPI
) -> None:
    fake_api.retired.add("gpt-image-1-mini")
    error = failure(make_provider(), request())
    assert isinstance(error, ProviderError) and error.code == "model_not_found"
    text = str(error)
    assert "\n" not in text
    assert "'gpt-image-1-mini' is not available" in text and "[provider] model" in text


def test_missing_key_names_the_environment_variable(
    make_provider: MakeProvider, fake_api: FakeImagesAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(KEY_ENV)
    error = failure(make_provider(), request())
    assert isinstance(error, ProviderAuthError) and error.exit_code == 2
    assert str(error) == f"no API key: set the environment variable {KEY_ENV}"
    assert fake_api.requests == []


def test_rejected_key_is_an_auth_error(
    make_provider: MakeProvider, fake_api: FakeImagesAPI
) -> None:
    fake_api.key = "sk-another-key"
    error = failure(make_provider(), request())
    assert isinstance(error, ProviderAuthError) and error.status == 401
    assert KEY_ENV in str(error)


def test_the_key_never_appears_in_errors_or_events(
    make_provider: MakeProvider, fake_api: FakeImagesAPI, events: list[Event]
) -> None:
    key = fake_api.key
    echo = Reply.error(400, f"Bad request from key {key}.", code="invalid_value")
    fake_api.script(Reply.error(500, f"Key {key} hit a snag.", type="server_error"), echo)
    errors = [failure(make_provider(), request())]
    unreachable = {"base_url": "http://127.0.0.1:9/v1"}
    errors.append(
        failure(make_provider(retry=RetryPolicy(max_retries=0), **unreachable), request())
    )
    texts = [event.message + repr(event) for event in events]
    for error in errors:
        seen: BaseException | None = error
        while seen is not None:
            texts.append(str(seen))
            seen = seen.__cause__ or seen.__context__
    assert any("Bad request from key [redacted]" in text for text in texts)
    assert not [text for text in texts if key in text]


def test_a_wrong_base_url_gives_a_clear_error(
    make_provider: MakeProvider, fake_api: FakeImagesAPI
) -> None:
    site = fake_api.base_url.removesuffix("/v1")
    error = failure(make_provider(base_url=site), request())
    assert isinstance(error, ProviderError) and error.status == 404
    assert "non-JSON body (text/html" in str(error) and "base_url" in str(error)
    fake_api.script(Reply(301, b"", {"location": "https://example.org/v1/images/generations"}))
    error = failure(make_provider(), request())
    assert "redirects (301) to https://example.org" in str(error)


def test_base_url_from_the_environment_unless_the_spec_set_one(
    fake_api: FakeImagesAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", fake_api.base_url + "/")
    assert OpenAIProvider(ProviderConfig()).base_url == fake_api.base_url
    config = ProviderConfig(base_url="https://api.example.org/v1", base_url_set=True)
    assert OpenAIProvider(config).base_url == "https://api.example.org/v1"


# -- usage, cost, model notes -------------------------------------------------------------


def test_usage_and_cost_from_the_price_table(make_provider: MakeProvider) -> None:
    result = generate(make_provider(), request())
    usage = result.usage
    assert usage is not None and usage.output_tokens == 272 and usage.input_text_tokens > 0
    expected = (usage.input_text_tokens * 2.0 + usage.output_tokens * 8.0) / 1e6
    assert result.cost_usd == pytest.approx(expected)
    prices = {"gpt-image-1-mini": {"text_input": 1.6, "image_input": 2.0, "output": 6.4}}
    cheaper = generate(make_provider(prices=prices), request())
    assert cheaper.cost_usd == pytest.approx(expected * 0.8)


def test_estimate_cost_by_quality_and_size(make_provider: MakeProvider) -> None:
    provider = make_provider()

    def estimate(**fields: Any) -> float | None:
        return provider.estimate_cost(request(**fields))

    assert estimate(quality="low", size="1024x1024") == 0.005
    assert estimate(quality="medium", size="1536x1024", n=2) == 0.03
    assert estimate(quality="auto", size="1024x1024") == 0.036  # auto is priced as high
    assert estimate(quality="high", size="auto") == 0.052  # auto: the dearest size
    assert estimate(model="gpt-image-1.5", size="1024x1024") == pytest.approx(272 * 32 / 1e6)
    assert estimate(model="gpt-image-2") == pytest.approx(200 * 30 / 1e6)  # low, square
    assert estimate(model="acme-image-9") is None
    table = {"acme-image-9": {"per_image": {"low": {"1024x1024": 0.002}}}}
    assert make_provider(prices=table).estimate_cost(request(model="acme-image-9")) == 0.002


def test_bad_price_overrides_are_spec_errors(make_provider: MakeProvider) -> None:
    with pytest.raises(SpecError, match="unknown price 'input'"):
        make_provider(prices={"gpt-image-1-mini": {"input": 2.0}})
    with pytest.raises(SpecError) as caught:
        make_provider(prices={"gpt-image-1-mini": {"output": "cheap"}})
    assert caught.value.field == "provider.prices.gpt-image-1-mini.output"


def test_an_unknown_model_passes_with_one_warning(
    make_provider: MakeProvider, fake_api: FakeImagesAPI, events: list[Event]
) -> None:
    fake_api.models.add("acme-image-9")
    provider = make_provider()
    provider.check(request(model="acme-image-9"))
    result = generate(provider, request(model="acme-image-9"))
    warnings = [event for event in events if event.kind == "warning"]
    assert len(warnings) == 1 and "acme-image-9" in warnings[0].message
    assert result.cost_usd is None and len(fake_api.requests) == 1


def test_a_model_past_its_shutdown_warns_but_still_sends(
    make_provider: MakeProvider, fake_api: FakeImagesAPI, events: list[Event]
) -> None:
    generate(make_provider(today=date(2026, 12, 2)), request())
    [warning] = [event for event in events if event.kind == "warning"]
    assert "shut down upstream on 2026-12-01" in warning.message
    assert "locked assets stay valid" in warning.message
    assert "[provider] model" in warning.message and "asset's model" in warning.message
    assert len(fake_api.requests) == 1
    events.clear()
    make_provider(today=date(2026, 11, 25)).check(request())
    [soon] = events
    assert (
        soon.kind == "warning" and "shuts down upstream on 2026-12-01 (in 6 days)" in soon.message
    )
    events.clear()
    make_provider(today=date(2026, 6, 1)).check(request())
    assert [event.kind for event in events] == ["info"]


# -- pacing -----------------------------------------------------------------------------


def test_concurrency_limit_is_respected(
    make_provider: MakeProvider, fake_api: FakeImagesAPI
) -> None:
    fake_api.latency = 0.15
    results = run(make_provider(concurrency=2), *[request()] * 6)
    assert all(isinstance(result, ImageResult) for result in results)
    assert fake_api.max_concurrent == 2


def test_requests_per_minute_spaces_requests(make_provider: MakeProvider) -> None:
    started = time.monotonic()
    run(make_provider(requests_per_minute=600), *[request()] * 3)
    assert time.monotonic() - started >= 0.2


def test_the_fake_refuses_what_the_real_service_refuses(
    fake_api: FakeImagesAPI, tmp_path: Path
) -> None:
    """The checks above mean something only if the fake is strict."""
    import httpx

    async def post(fields: dict[str, Any], files: list[Any] | None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {fake_api.key}"}
        async with httpx.AsyncClient(base_url=fake_api.base_url, headers=headers) as client:
            if files is None:
                return await client.post("/images/generations", json=fields)
            return await client.post("/images/edits", data=fields, files=files)

    png = write_image(tmp_path / "a.png").path.read_bytes()
    image = [("image", ("a.png", png, "image/png"))]
    body = {"model": "gpt-image-1-mini", "prompt": "x"}
    cases: list[tuple[dict[str, Any], list[Any] | None, str]] = [
        ({**body, "style": "vivid"}, None, "unknown_parameter"),
        ({**body, "size": "1536x864"}, None, "invalid_value"),
        ({**body, "quality": "ultra"}, None, "invalid_value"),
        ({**body, "background": "transparent", "output_format": "jpeg"}, None, "invalid_value"),
        ({**body, "moderation": "low"}, image, "unknown_parameter"),
        ({**body, "input_fidelity": "high"}, image, "invalid_value"),
        (
            body,
            [("image", ("a.png", png, "application/octet-stream"))],
            "unsupported_file_mimetype",
        ),
        (body, [*image, ("mask", ("m.png", png, "image/png"))], "invalid_image_file"),
    ]
    for fields, files, code in cases:
        response = asyncio.run(post(fields, files))
        assert response.status_code == 400, (fields, code)
        assert response.json()["error"]["code"] == code, (fields, code)


def test_an_error_envelope_in_a_200_answer_is_an_error(
    make_provider: MakeProvider, fake_api: FakeImagesAPI
) -> None:
    fake_api.script(
        Reply(200, {"error": {"message": "upstream busy (request id: r1)", "code": ""}})
    )
    error = failure(make_provider(), request())
    assert isinstance(error, ProviderError) and "upstream busy (request id: r1)" in str(error)


def test_retry_policy_hints_and_backoff() -> None:
    policy = RetryPolicy(initial_delay=0.5, max_delay=8.0)
    assert policy.delay(0, {"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    assert retry_after({"retry-after": "Wed, 25 Nov 2026 12:00:30 GMT"}, now=1795608000.0) == 30
    assert policy.delay(0, {"retry-after": "121"}) is None
    assert policy.backoff(5, draw=lambda: 1.0) == 8.0  # capped
    assert policy.backoff(1, draw=lambda: 0.5) == 0.5  # full jitter: a draw below the cap
    assert should_retry(500, None, {}) and not should_retry(500, "invalid_request", {})
    assert not should_retry(429, "insufficient_quota", {})
    assert should_retry(400, None, {"x-should-retry": "true"})
    assert not should_retry(503, None, {"x-should-retry": "false"})
