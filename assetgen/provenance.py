"""C2PA content credentials with c2pa-python: read manifests, sign what assetgen makes.

The one owner of the ``c2pa`` SDK, imported inside the functions: with
``[provenance] c2pa = "off"`` (the default) it is never imported, and
``assetgen --version`` stays fast.
c2pa-python is the optional extra ``assetgen-images[c2pa]``; a mode that needs
it without it installed is one clear :class:`SpecError`.

**Reading** (:func:`read_manifest`): an image's active manifest summarised as
a :class:`Manifest`: validation state, claim generator, signer, actions, and
whether anything in its chain was made by an AI model (the IPTC
``trainedAlgorithmicMedia`` digital source type). Reading never touches the
network (no OCSP, no remote manifests) and makes no thumbnails.

**Trust**: signatures are always checked. A signer whose chain ends in a root
given as trust anchors is ``trusted``; a well-signed manifest whose signer is
not (c2pa's ``signingCredential.untrusted``) is ``valid``, reported as such and
never as invalid: self-made certificates are the common case. ``invalid`` is
a broken signature or a hash that no longer matches the bytes.

**Signing**: :func:`sign_variant` writes a new manifest into a variant's
encoded bytes, naming the original as its ``parentOf`` ingredient (its own
manifest, when it has one, travels along, so the chain reaches the model that
made it), with the actions ``c2pa.opened``, ``c2pa.resized`` (when the size
changed) and ``c2pa.transcoded``, and an ``org.assetgen.variant`` assertion
(asset name, the original's SHA-256, the variant key) that ``verify`` checks
against the lock. :func:`sign_original` makes the offline provider's
placeholder manifest (``c2pa.created``, ``trainedAlgorithmicMedia``), signed by
:func:`~assetgen.provenance_keys.placeholder_material`: a throwaway chain made in memory once per
process (``assetgen offline placeholder``), so an offline image can never pass
for one a real service signed. Signed bytes differ on every signing (ECDSA
signatures are randomised, manifests carry fresh instance ids): the lock
records the hash of the signed file, and variants are re-signed only when
their key changes.

The private key is held in :class:`SigningMaterial`, whose ``repr`` leaves it
out; no message here ever quotes it. Where the chain and key come from is
:mod:`assetgen.provenance_keys`.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from . import __version__
from .errors import AssetgenError, SpecError

C2PA_MIME_TYPES = {
    "png": "image/png",
    "jpeg": "image/jpeg",
    "webp": "image/webp",
    "avif": "image/avif",
}
"""Variant and original formats assetgen writes, and the MIME type C2PA knows each by."""
AI_SOURCE_TYPE = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
VARIANT_ASSERTION = "org.assetgen.variant"
UNTRUSTED = "signingCredential.untrusted"
INSTALL_HINT = "pip install 'assetgen-images[c2pa]'"
_VERSION_SUFFIX = re.compile(r"\.v\d+$")
"""``c2pa.actions.v2`` is ``c2pa.actions``, version 2."""


@dataclass(frozen=True)
class SigningMaterial:
    """A certificate chain and its private key (never shown: ``repr`` leaves it out)."""

    chain: bytes
    """PEM certificates, the signer's first."""
    key: bytes = field(repr=False)
    """PKCS#8 PEM private key."""
    alg: str = "es256"
    source: str = ""
    """Where it came from, for messages (paths or variable names, never contents)."""


@dataclass(frozen=True)
class Manifest:
    """What an image's C2PA manifest says, in short."""

    state: str
    """``none`` (no manifest), ``trusted``, ``valid`` (well signed, signer not among the
    trust anchors) or ``invalid`` (a signature or hash does not match)."""
    label: str = ""
    """The active manifest's label (``urn:c2pa:…``)."""
    claim_generator: str = ""
    signer: str = ""
    actions: tuple[str, ...] = ()
    ai_generated: bool = False
    """Some manifest in the chain records ``trainedAlgorithmicMedia``."""
    codes: tuple[str, ...] = ()
    """c2pa's validation status codes (problems), e.g. ``assertion.dataHash.mismatch``."""
    parents: tuple[str, ...] = ()
    """The manifest labels of ``parentOf`` ingredients (``""``: an ingredient without one)."""
    variant: Mapping[str, Any] = field(default_factory=dict)
    """The ``org.assetgen.variant`` assertion, when assetgen signed it."""

    @property
    def untrusted(self) -> bool:
        return UNTRUSTED in self.codes

    @property
    def intact(self) -> bool:
        """Present with every signature and hash matching (trusted or not)."""
        return self.state in ("trusted", "valid")


def available() -> bool:
    """Whether c2pa-python is installed (without importing it)."""
    import importlib.util

    return importlib.util.find_spec("c2pa") is not None


def require(file: str | None = None) -> None:
    """Raise a :class:`SpecError` naming ``file`` (the spec) unless c2pa-python is installed."""
    if not available():
        raise SpecError(
            "[provenance] c2pa needs the c2pa-python package, which is not installed",
            file=file,
            field="provenance.c2pa",
            hint=INSTALL_HINT,
        )


def _sdk(field_name: str = "provenance.c2pa") -> Any:
    try:
        import c2pa
    except ImportError as exc:
        raise SpecError(
            "[provenance] c2pa needs the c2pa-python package, which is not installed",
            field=field_name,
            hint=INSTALL_HINT,
        ) from exc
    return c2pa


def mime_type(fmt: str) -> str:
    """The MIME type of a format name or file suffix (``jpg`` too)."""
    fmt = fmt.lower().removeprefix(".")
    return C2PA_MIME_TYPES["jpeg" if fmt == "jpg" else fmt]


# -- reading ---------------------------------------------------------------------------------


@lru_cache(maxsize=8)
def _context(trust_anchors: str | None) -> Any:
    """One c2pa Context per set of trust anchors: offline, thumbnail-free, trust checked."""
    settings: dict[str, Any] = {
        "builder": {"thumbnail": {"enabled": False}},
        "verify": {"verify_trust": True, "ocsp_fetch": False, "remote_manifest_fetch": False},
    }
    if trust_anchors:
        settings["trust"] = {"user_anchors": trust_anchors}
    return _sdk().Context.from_dict(settings)


def read_manifest(data: bytes, fmt: str, trust_anchors: str | None = None) -> Manifest:
    """The C2PA manifest embedded in ``data`` (a ``fmt`` image), summarised."""
    c2pa = _sdk()
    try:
        reader = c2pa.Reader.try_create(
            mime_type(fmt), io.BytesIO(data), None, _context(trust_anchors)
        )
        if reader is None:
            return Manifest("none")
        with reader:
            store = json.loads(reader.json())
    except (c2pa.C2paError, ValueError) as exc:
        return Manifest("invalid", codes=(f"unreadable: {str(exc)[:200]}",))
    return summarise(store)


def summarise(store: Mapping[str, Any]) -> Manifest:
    """A :class:`Manifest` from c2pa's JSON report of a manifest store."""
    manifests = store.get("manifests") or {}
    label = str(store.get("active_manifest") or "")
    active = manifests.get(label) or {}
    codes = tuple(str(item.get("code", "")) for item in store.get("validation_status") or ())
    state = str(store.get("validation_state") or "invalid").lower()
    info = active.get("signature_info") or {}
    return Manifest(
        state=state if state in ("trusted", "valid") else "invalid",
        label=label,
        claim_generator=_generator(active),
        signer=str(info.get("issuer") or info.get("common_name") or ""),
        actions=tuple(str(a.get("action", "")) for a in _actions(active)),
        ai_generated=_ai_in_chain(manifests, label),
        codes=codes,
        parents=tuple(
            str(item.get("active_manifest") or "")
            for item in active.get("ingredients") or ()
            if item.get("relationship") == "parentOf"
        ),
        variant=_assertion(active, VARIANT_ASSERTION) or {},
    )


def _generator(manifest: Mapping[str, Any]) -> str:
    for info in manifest.get("claim_generator_info") or ():
        return " ".join(str(info[k]) for k in ("name", "version") if info.get(k))
    return str(manifest.get("claim_generator") or "")


def _assertion(manifest: Mapping[str, Any], label: str) -> dict[str, Any] | None:
    for assertion in manifest.get("assertions") or ():
        if _VERSION_SUFFIX.sub("", str(assertion.get("label", ""))) == label:
            data = assertion.get("data")
            return data if isinstance(data, dict) else None
    return None


def _actions(manifest: Mapping[str, Any]) -> list[dict[str, Any]]:
    actions = (_assertion(manifest, "c2pa.actions") or {}).get("actions") or []
    return [action for action in actions if isinstance(action, dict)]


def _ai_in_chain(manifests: Mapping[str, Any], label: str) -> bool:
    """Whether the manifest ``label`` or any ingredient's below it records an AI source."""
    seen: set[str] = set()
    todo = [label]
    while todo:
        current = todo.pop()
        if current in seen or current not in manifests:
            continue
        seen.add(current)
        manifest = manifests[current]
        if any(str(a.get("digitalSourceType", "")).endswith("trainedAlgorithmicMedia")
               for a in _actions(manifest)):  # fmt: skip
            return True
        todo.extend(str(i.get("active_manifest") or "") for i in manifest.get("ingredients") or ())
    return False


# -- signing -----------------------------------------------------------------------------------


def _sign(
    definition: dict[str, Any],
    data: bytes,
    fmt: str,
    material: SigningMaterial,
    ingredient: tuple[bytes, str, str] | None = None,
) -> bytes:
    """``data`` with a manifest made from ``definition``, signed by ``material``."""
    c2pa = _sdk()
    alg = getattr(c2pa.C2paSigningAlg, material.alg.upper())
    info = c2pa.C2paSignerInfo(alg, material.chain, material.key, None)
    out = io.BytesIO()
    try:
        with c2pa.Signer.from_info(info) as signer, c2pa.Builder(definition, _context(None)) as b:
            if ingredient is not None:
                original, original_fmt, title = ingredient
                ref = {"title": title, "relationship": "parentOf", "label": "original"}
                b.add_ingredient(ref, mime_type(original_fmt), io.BytesIO(original))
            b.sign(signer, mime_type(fmt), io.BytesIO(data), out)
    except c2pa.C2paError as exc:
        raise AssetgenError(f"cannot sign the {fmt} image with C2PA: {str(exc)[:200]}") from exc
    return out.getvalue()


def _definition(
    title: str, fmt: str, actions: list[dict[str, Any]], generator: str = "assetgen"
) -> dict[str, Any]:
    return {
        "claim_generator_info": [{"name": generator, "version": __version__}],
        "title": title,
        "format": mime_type(fmt),
        "assertions": [{"label": "c2pa.actions", "data": {"actions": actions}}],
    }


def sign_original(
    data: bytes, fmt: str, material: SigningMaterial, *, title: str, generator: str = "assetgen"
) -> bytes:
    """An original as an image model signs it: ``c2pa.created``, ``trainedAlgorithmicMedia``."""
    created = {"action": "c2pa.created", "digitalSourceType": AI_SOURCE_TYPE}
    return _sign(_definition(title, fmt, [created], generator), data, fmt, material)


@dataclass(frozen=True)
class VariantClaim:
    """What a variant's manifest says about how it was made."""

    asset: str
    key: str
    """The variant key."""
    title: str
    """The variant's file name."""
    original_sha256: str
    original_title: str
    resized: dict[str, int] | None
    """``{"width": …, "height": …}`` when the size differs from the original's."""


def sign_variant(
    data: bytes,
    fmt: str,
    material: SigningMaterial,
    claim: VariantClaim,
    original: tuple[bytes, str],
) -> bytes:
    """A variant's encoded bytes with a manifest naming ``original`` (bytes, format) as parent."""
    opened = {"action": "c2pa.opened", "parameters": {"ingredientIds": ["original"]}}
    actions: list[dict[str, Any]] = [opened]
    if claim.resized:
        actions.append({"action": "c2pa.resized", "parameters": dict(claim.resized)})
    actions.append({"action": "c2pa.transcoded", "parameters": {"format": mime_type(fmt)}})
    definition = _definition(claim.title, fmt, actions)
    definition["assertions"].append(
        {
            "label": VARIANT_ASSERTION,
            "data": {"asset": claim.asset, "key": claim.key, "original": claim.original_sha256},
        }
    )
    return _sign(definition, data, fmt, material, (*original, claim.original_title))
