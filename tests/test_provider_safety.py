"""What comes back from the provider, the API key, and bounds on the wire (issue 9).

Every test runs against the real fake Images API (tests/fakeapi.py): damaged
answers, hostile usage and prices, keys that no header can carry, and a
server that trickles its answer one byte at a time.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import time
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import pytest
from PIL import Image

from assetgen.cli import main
from assetgen.errors import ProviderAuthError, ProviderError, SpecError
from assetgen.events import Event
from assetgen.hashing import sha256_file
from assetgen.providers.base import ImageRequest, ImageResult, InputImage
from assetgen.providers.decode import UndecodableImage, check_image
from assetgen.providers.openai.limits import MAX_RESPONSE_BYTES
from assetgen.providers.openai.models import parse_price_overrides
from assetgen.providers.openai.provider import OpenAIProvider
from assetgen.providers.openai.retry import RetryPolicy
from assetgen.providers.openai.wire import MalformedUsage, parse_usage
from assetgen.secrets import REDACTED, Redactor, key_problem
from assetgen.spec_types import ProviderConfig
from tests.conftest import FAKE_API_KEY
from tests.fakeapi import FakeImagesAPI, Reply

from .projects import make_image, make_project

KEY_ENV = "ASSETGEN_TEST_SAFETY_KEY"
FAST = RetryPolicy(max_retries=2, initial_delay=0.01, max_delay=0.02)
MakeProvider = Callable[..., OpenAIProvider]


# -- helpers ------------------------------------------------------------------------------


@pytest.fixture
def events() -> list[Event]:
    return []


@pytest.fixture
def make_provider(
    fake_api: FakeImagesAPI, monkeypatch: pytest.MonkeyPatch, events: list[Event]
) -> MakeProvider:
    monkeypatch.setenv(KEY_ENV, fake_api.key)

    def make(
        *, retry: RetryPolicy = FAST, max_response_bytes: int = MAX_RESPONSE_BYTES, **fields: Any
    ) -> OpenAIProvider:
        values: dict[str, Any] = {"base_url": fake_api.base_url, "base_url_set": True}
        config = ProviderConfig(api_key_env=KEY_ENV, **{**values, **fields})
        return OpenAIProvider(
            config,
            emit=events.append,
            retry=retry,
            today=date(2026, 11, 25),
            max_response_bytes=max_response_bytes,
        )

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


def outcome(provider: OpenAIProvider, req: ImageRequest) -> ImageResult | BaseException:
    async def go() -> ImageResult | BaseException:
        try:
            return await provider.generate(req)
        except Exception as exc:
            return exc
        finally:
            await provider.aclose()

    return asyncio.run(go())


def png(size: tuple[int, int] = (64, 64)) -> bytes:
    buffer = io.BytesIO()
    Image.effect_noise(size, 64).convert("RGB").save(buffer, "PNG")
    return buffer.getvalue()


def truncated_png() -> bytes:
    data = png()
    return data[: len(data) * 2 // 3]


OPENAI_BASE = """\
[build]
out_dir = "public/img"

[provider]
name = "openai"
base_url = "{base_url}"
max_retries = {retries}
{extra}

[defaults]
size = "1024x1024"
quality = "low"
model = "gpt-image-2"
"""

ONE = """
[[asset]]
name = "hero"
prompt = "a lighthouse at dusk"
variants = [{ width = 64, format = "webp" }]
"""


@pytest.fixture
def api_env(fake_api: FakeImagesAPI, monkeypatch: pytest.MonkeyPatch) -> FakeImagesAPI:
    monkeypatch.setenv("OPENAI_API_KEY", FAKE_API_KEY)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    return fake_api


def project(
    root: Path, fake: FakeImagesAPI, body: str = ONE, *, retries: int = 0, extra: str = ""
) -> Path:
    base = OPENAI_BASE.format(base_url=fake.base_url, retries=retries, extra=extra)
    make_project(root, body, base=base)
    return root


def cli(root: Path, *args: str) -> int:
    return main(["-C", str(root), *args])


def files_under(root: Path) -> Iterator[Path]:
    return (path for path in root.rglob("*") if path.is_file())


def stored_originals(root: Path) -> list[Path]:
    store = root / "assets" / "generated"
    return list(files_under(store)) if store.exists() else []


# -- item 7: every returned image is decoded before it is stored ---------------------------


def test_a_truncated_png_is_a_failed_attempt_and_is_retried(
    make_provider: MakeProvider, fake_api: FakeImagesAPI, events: list[Event]
) -> None:
    fake_api.script(Reply.images(truncated_png()))
    result = outcome(make_provider(), request())
    assert isinstance(result, ImageResult)
    check_image(result.images[0])
    assert len(fake_api.requests) == 2
    [retry] = [event for event in events if event.kind == "retry"]
    assert "the API returned an image that could not be decoded" in retry.message
    assert "data[0] is damaged" in retry.message
    assert any("may have been billed" in warning for warning in result.warnings)


def test_a_damaged_second_candidate_fails_the_build_and_nothing_is_stored_or_locked(
    api_env: FakeImagesAPI, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = project(tmp_path, api_env, ONE.replace("variants", "candidates = 2\nvariants"))
    api_env.script(Reply.images(png(), truncated_png()))
    assert cli(root, "build", "--yes") == 1
    err = capsys.readouterr().err
    assert "could not be decoded: data[1] is damaged" in err
    assert stored_originals(root) == []
    assert "hero" not in (root / "assetgen.lock").read_text()
    journal = root / ".assetgen" / "journal.jsonl"
    assert not journal.exists() or "hero" not in journal.read_text()
    # The next build pays again and succeeds (nothing broken was kept).
    assert cli(root, "build", "--yes") == 0
    assert len(stored_originals(root)) == 2
    assert cli(root, "build", "--yes") == 0


def test_base64_of_text_gives_a_readable_message_and_no_junk_file(
    api_env: FakeImagesAPI, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = project(tmp_path, api_env)
    api_env.script(Reply.images(b"<html>not an image</html>"))
    assert cli(root, "build", "--yes") == 1
    err = capsys.readouterr().err
    assert "the API returned an image that could not be decoded" in err
    assert "data[0] is not a PNG, JPEG or WebP file" in err and "HTML" in err
    assert "BytesIO" not in err and "0x" not in err
    assert stored_originals(root) == []


def test_invalid_base64_is_retried_like_a_server_error(
    make_provider: MakeProvider, fake_api: FakeImagesAPI, events: list[Event]
) -> None:
    fake_api.script(Reply.images("@@@ not base64 @@@"), Reply.images("iVBORw0KGgo="))
    result = outcome(make_provider(), request())
    assert isinstance(result, ImageResult) and len(fake_api.requests) == 3
    messages = [event.message for event in events if event.kind == "retry"]
    assert "data[0].b64_json is not valid base64" in messages[0]
    assert "data[0] is damaged" in messages[1]


def test_a_damaged_edit_answer_is_refused_too(
    make_provider: MakeProvider, fake_api: FakeImagesAPI, tmp_path: Path
) -> None:
    base = make_image(tmp_path / "base.png", (1024, 1024))
    image = InputImage("image", base, sha256_file(base))
    fake_api.script(*[Reply.images(truncated_png())] * 3)
    error = outcome(make_provider(), request(image=image))
    assert isinstance(error, ProviderError) and error.code == "broken_image"
    assert "gave up after 3 attempts" in str(error)
    assert [r.path for r in fake_api.requests] == ["/v1/images/edits"] * 3


def test_decompression_bomb_limits_apply_to_answers(
    make_provider: MakeProvider, fake_api: FakeImagesAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 64x64 = 4096 pixels: over the limit (a warning in Pillow), under twice it.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 3000)
    with pytest.raises(UndecodableImage, match="too large to decode safely"):
        check_image(png())
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    with pytest.raises(UndecodableImage, match="too large to decode safely"):
        check_image(png())
    fake_api.script(Reply.images(png()))
    error = outcome(make_provider(retry=RetryPolicy(max_retries=0)), request())
    assert isinstance(error, ProviderError) and "too large to decode safely" in str(error)


# -- item 10: usage and prices are never negative --------------------------------------------


def test_negative_usage_is_malformed_and_never_a_negative_cost(
    make_provider: MakeProvider, fake_api: FakeImagesAPI
) -> None:
    usage = {"input_tokens": 10, "output_tokens": -1_000_000_000}
    fake_api.script(Reply.images(png(), usage=usage))
    result = outcome(make_provider(), request())
    assert isinstance(result, ImageResult)
    assert result.usage is None and result.cost_usd is None
    assert any("usage is malformed" in warning for warning in result.warnings)


@pytest.mark.parametrize(
    "usage",
    [
        {"input_tokens": -5, "output_tokens": 10},
        {"input_tokens": 5, "output_tokens": 1.5},
        {"input_tokens": 5, "output_tokens": 10**30},
        {"input_tokens": 5, "output_tokens": "12"},
        {"input_tokens": 5, "output_tokens": 1, "input_tokens_details": {"image_tokens": -1}},
    ],
)
def test_usage_that_cannot_be_token_counts_is_malformed(usage: dict[str, Any]) -> None:
    with pytest.raises(MalformedUsage):
        parse_usage({"usage": usage})


def test_negative_usage_never_reaches_the_lock_or_the_budget(
    api_env: FakeImagesAPI, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = project(tmp_path, api_env, extra="")
    spec = root / "assetgen.toml"
    spec.write_text(spec.read_text().replace('model = "gpt-image-2"', 'model = "gpt-image-1"'))
    usage = {"input_tokens": 10, "output_tokens": -200_000_000}
    api_env.script(Reply.images(png(), usage=usage))
    assert cli(root, "build", "--yes", "--json") == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["cost_usd"] >= 0
    assert "usage is malformed" in captured.err
    assert "-8000" not in (root / "assetgen.lock").read_text()
    assert "cost_usd = -" not in (root / "assetgen.lock").read_text()


@pytest.mark.parametrize(
    ("toml", "field"),
    [
        ("output = -5", "provider.prices.gpt-image-2.output"),
        ("text_input = nan", "provider.prices.gpt-image-2.text_input"),
        ("image_input = inf", "provider.prices.gpt-image-2.image_input"),
        ("output = 1e400", "provider.prices.gpt-image-2.output"),
        (
            'per_image = { low = { "1024x1024" = -0.01 } }',
            "provider.prices.gpt-image-2.per_image.low.1024x1024",
        ),
    ],
)
def test_bad_prices_are_spec_errors_naming_the_file_and_field(
    api_env: FakeImagesAPI,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    toml: str,
    field: str,
) -> None:
    root = project(tmp_path, api_env, extra=f'[provider.prices."gpt-image-2"]\n{toml}')
    assert cli(root, "plan") == 2
    err = capsys.readouterr().err
    assert "assetgen.toml" in err and f"'{field}'" in err
    assert "Traceback" not in err
    assert api_env.requests == []


def test_huge_integer_prices_are_refused_without_overflow() -> None:
    with pytest.raises(SpecError, match="a number from 0 to"):
        parse_price_overrides({"m": {"output": 10**400}})


# -- item 13: the key is checked before use and redacted in every spelling ---------------


def spellings_of(key: str) -> list[bytes]:
    """Forms in which a key leaks, written out here independently of the code."""
    utf8 = key.encode()
    texts = [
        key,
        repr(key)[1:-1],
        ascii(key)[1:-1],
        key.encode("unicode_escape").decode(),
        json.dumps(key)[1:-1],
        quote(key),
        quote(key, safe=""),
        quote_plus(key),
        base64.b64encode(utf8).decode(),
        base64.b64encode(b":" + utf8).decode(),
        repr(utf8)[2:-1],
    ]
    return sorted({text.encode() for text in texts}, key=len)


LEAKY_KEYS = {
    "curly-quote": "sk-LEAKAAAA1111\u2019LEAKBBBB2222",
    "accent": "sk-LEAKAAAA1111\u00e9LEAKBBBB2222",
    "crlf": "sk-LEAKAAAA1111\r\nLEAKBBBB2222",
}


@pytest.mark.parametrize("name", sorted(LEAKY_KEYS))
def test_a_key_no_header_can_carry_is_refused_and_never_written(
    api_env: FakeImagesAPI,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    name: str,
) -> None:
    key = LEAKY_KEYS[name]
    monkeypatch.setenv("OPENAI_API_KEY", key)
    root = project(tmp_path, api_env)
    assert cli(root, "build", "--yes") == 2
    assert cli(root, "gallery") == 0
    assert (root / ".assetgen" / "gallery" / "index.html").exists()
    captured = capsys.readouterr()
    assert "OPENAI_API_KEY" in captured.err and "cannot be sent" in captured.err
    assert api_env.requests == [], "the key is checked before any request"
    assert (root / ".assetgen" / "last-build.json").exists()
    haystacks = {"stdout/stderr": (captured.out + captured.err).encode()}
    haystacks |= {str(path): path.read_bytes() for path in files_under(root)}
    # Neither half of the key (nor any spelling of it) may appear anywhere.
    needles = [*spellings_of(key), b"LEAKAAAA1111", b"LEAKBBBB2222"]
    leaks = [(where, n) for where, text in haystacks.items() for n in needles if n in text]
    assert leaks == []


def test_every_spelling_of_an_echoed_key_is_redacted_everywhere(
    api_env: FakeImagesAPI,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    key = "sk-proj+LEAK/AAAA1111=BBBB2222"
    api_env.key = key
    monkeypatch.setenv("OPENAI_API_KEY", key)
    root = project(tmp_path, api_env)
    echoed = " ".join(s.decode() for s in spellings_of(key))
    api_env.script(Reply.error(400, f"Bad key: {echoed}", code="invalid_value"))
    assert cli(root, "build", "--yes") == 1
    assert cli(root, "gallery") == 0
    captured = capsys.readouterr()
    assert f"Bad key: {REDACTED}" in captured.err
    haystacks = {"stdout/stderr": (captured.out + captured.err).encode()}
    haystacks |= {str(path): path.read_bytes() for path in files_under(root)}
    leaks = [
        (where, n) for where, text in haystacks.items() for n in spellings_of(key) if n in text
    ]
    assert leaks == []


@pytest.mark.parametrize(
    "key",
    ["sk-a\u2019b", "sk-a\u00e9b", "sk-a\r\nb", "sk-a b", "sk-a\tb", "sk-\x00x", "x" * 9000],
)
def test_key_shape_is_checked_without_echoing_the_key(key: str) -> None:
    problem = key_problem(key)
    assert problem is not None
    assert "sk-a" not in problem and "x" * 8 not in problem


def test_valid_keys_pass_the_shape_check() -> None:
    for key in ("sk-test", "none", "sk-proj-" + "A1b2" * 40, "eyJhbGciOi.J9.x_y-z"):
        assert key_problem(key) is None


def test_the_redactor_knows_every_spelling() -> None:
    key = "sk-LEAK\u2019AAAA1111\r\nBBBB2222+/="
    redactor = Redactor([key])
    for spelling in spellings_of(key):
        text = f"error: header b'Bearer {spelling.decode()}' refused"
        assert redactor.redact(text) == f"error: header b'Bearer {REDACTED}' refused"


def test_a_redactor_from_the_environment_redacts_the_key_there(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(KEY_ENV, " sk-LEAK\u2019AAAA1111\n")
    redactor = Redactor.from_environment([KEY_ENV, "ASSETGEN_TEST_UNSET"])
    assert redactor.redact("UnicodeEncodeError('Bearer sk-LEAK\\u2019AAAA1111')") == (
        f"UnicodeEncodeError('Bearer {REDACTED}')"
    )
    assert not Redactor.from_environment(["ASSETGEN_TEST_UNSET"])


def test_a_short_key_is_redacted_only_where_it_stands_alone() -> None:
    redactor = Redactor(["none"])
    assert redactor.redact("key none refused; nonempty") == f"key {REDACTED} refused; nonempty"


def test_organization_that_no_header_can_carry_is_a_spec_error(
    api_env: FakeImagesAPI, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = project(tmp_path, api_env, extra='organization = "org-caf\u00e9"')
    assert cli(root, "plan") == 2
    err = capsys.readouterr().err
    assert "assetgen.toml" in err and "'provider.organization'" in err


# -- item 4 (wire): pacing, timeouts and sizes are bounded ---------------------------------


@pytest.mark.parametrize(
    ("toml", "field"),
    [
        ("requests_per_minute = 1e-300", "provider.requests_per_minute"),
        ("requests_per_minute = 0.5", "provider.requests_per_minute"),
        ("requests_per_minute = inf", "provider.requests_per_minute"),
        ("timeout = inf", "provider.timeout"),
        ("timeout = 1e9", "provider.timeout"),
    ],
)
def test_waits_out_of_range_are_spec_errors(
    api_env: FakeImagesAPI,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    toml: str,
    field: str,
) -> None:
    root = project(tmp_path, api_env, extra=toml)
    started = time.monotonic()
    assert cli(root, "build", "--yes") == 2
    assert time.monotonic() - started < 10
    err = capsys.readouterr().err
    assert "assetgen.toml" in err and f"'{field}'" in err
    assert api_env.requests == []


def test_too_many_retries_is_a_spec_error(
    api_env: FakeImagesAPI, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = project(tmp_path, api_env, retries=1_000_000)
    assert cli(root, "plan") == 2
    err = capsys.readouterr().err
    assert "assetgen.toml" in err and "'provider.max_retries'" in err


@pytest.mark.parametrize("command", ["plan", "check", "build"])
def test_provider_bounds_are_checked_with_the_spec_even_when_nothing_is_asked(
    api_env: FakeImagesAPI, tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    """A no-op never makes the provider; its bounds are still refused, all at once."""
    root = project(tmp_path, api_env)
    assert cli(root, "build") == 0
    spec = root / "assetgen.toml"
    spec.write_text(spec.read_text().replace("[provider]\n", "[provider]\ntimeout = 1e9\n", 1))
    spec.write_text(spec.read_text().replace("max_retries = 0", "max_retries = 99"))
    capsys.readouterr()
    assert cli(root, command) == 2
    err = capsys.readouterr().err
    assert "'provider.timeout'" in err and "'provider.max_retries'" in err, err
    assert "Traceback" not in err


def test_the_timeout_bounds_a_whole_trickled_answer(
    api_env: FakeImagesAPI, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    timeout, retries = 1.0, 1
    root = project(tmp_path, api_env, retries=retries, extra=f"timeout = {timeout}")
    # Each trickled answer takes ~6 s; every read arrives well within the timeout.
    slow = Reply.error(500, "a slow server error, sent one byte at a time", type="server_error")
    api_env.script(*[Reply.trickled(0.1, body=slow.body)] * 2)
    started = time.monotonic()
    assert cli(root, "build", "--yes") == 1
    elapsed = time.monotonic() - started
    err = capsys.readouterr().err
    # Two attempts of one timeout each, one backoff (at most 0.5 s), slack for start-up.
    assert elapsed < timeout * (retries + 1) + 0.5 + 3.0
    assert "[provider] timeout = 1 s" in err and "gave up after 2 attempts" in err
    assert len(api_env.requests) == 2


def test_an_answer_over_the_size_limit_is_refused(
    make_provider: MakeProvider, fake_api: FakeImagesAPI
) -> None:
    error = outcome(make_provider(max_response_bytes=2000), request())
    assert isinstance(error, ProviderError) and "larger than" in str(error)
    assert len(fake_api.requests) == 1, "a size the same request would repeat is not retried"
    fake_api.script(Reply(chunked=True))
    error = outcome(make_provider(max_response_bytes=2000), request())
    assert isinstance(error, ProviderError) and "larger than" in str(error)
    fake_api.script(Reply(chunked=True))
    result = outcome(make_provider(), request())
    assert isinstance(result, ImageResult), "a chunked answer within the limit is read"


@pytest.mark.parametrize("value", ["inf", "1e308", "nan", "-5", "Wed, 21 Oct 2999 07:28:00 GMT"])
def test_retry_after_waits_are_capped(value: str) -> None:
    delay = RetryPolicy().delay(0, {"retry-after": value})
    assert delay is None or 0 <= delay <= RetryPolicy().max_retry_after


def test_a_missing_key_still_names_the_variable(
    make_provider: MakeProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, "  \n")
    error = outcome(make_provider(), request())
    assert isinstance(error, ProviderAuthError)
    assert str(error) == f"no API key: set the environment variable {KEY_ENV}"


def test_the_last_line_of_defence_knows_secret_looking_variables() -> None:
    environ = {
        "MY_RELAY_TOKEN": "tok-0123456789abcdef",
        "HOME": "/home/someone-long-name",
        "XKB_KEYMAP": "us",
    }
    redactor = Redactor.for_environment("UNSET_VARIABLE", environ=environ)
    assert redactor.redact("failed: tok-0123456789abcdef at /home/someone-long-name, us") == (
        f"failed: {REDACTED} at /home/someone-long-name, us"
    )
