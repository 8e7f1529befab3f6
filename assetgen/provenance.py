"""C2PA content credentials with c2pa-python: read manifests, sign what assetgen makes.

The one owner of the ``c2pa`` SDK and of ``cryptography`` (its dependency),
both imported inside the functions: with ``[provenance] c2pa = "off"`` (the
default) nothing here is imported, and ``assetgen --version`` stays fast.
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
:func:`placeholder_material`: a throwaway chain made in memory once per
process (``assetgen offline placeholder``), so an offline image can never pass
for one a real service signed. Signed bytes differ on every signing (ECDSA
signatures are randomised, manifests carry fresh instance ids): the lock
records the hash of the signed file, and variants are re-signed only when
their key changes.

The private key is held in :class:`SigningMaterial`, whose ``repr`` leaves it
out; no message here ever quotes it.
"""

from __future__ import annotations

import datetime
import io
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from . import __version__
from .errors import AssetgenError, SpecError
from .spec_types import ProvenanceConfig

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
ENV_CERT = "ASSETGEN_C2PA_CERT"
ENV_KEY = "ASSETGEN_C2PA_KEY"
ENV_TRUST = "ASSETGEN_C2PA_TRUST_ANCHORS"
MAX_PEM_BYTES = 1024 * 1024
"""Largest certificate chain, key or trust-anchor file read."""
PLACEHOLDER_NAME = "assetgen offline placeholder (not a real identity)"
INSTALL_HINT = "pip install 'assetgen-images[c2pa]'"
_VERSION_SUFFIX = re.compile(r"\.v\d+$")
"""``c2pa.actions.v2`` is ``c2pa.actions``, version 2."""
_PROBE_PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00"
    b"\x00\x90wS\xde\x00\x00\x00\x0cIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\r\xefF\xb8"
    b"\x00\x00\x00\x00IEND\xaeB`\x82"
)
"""A 1x1 PNG: signing it once proves a chain and key work before anything is spent."""


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


# -- signing material ------------------------------------------------------------------------


def load_material(
    config: ProvenanceConfig,
    root: Path,
    *,
    file: str | None = None,
    environ: Mapping[str, str] = os.environ,
) -> SigningMaterial:
    """The chain and key to sign with: environment first, then the spec's paths.

    Signs a 1x1 PNG once, so a wrong key, chain or algorithm is a
    :class:`SpecError` (naming ``file``, the spec) before any variant or paid
    image depends on it.
    """
    try:
        return _load_material(config, root, environ)
    except SpecError as exc:
        exc.file = exc.file or file
        raise


def _load_material(
    config: ProvenanceConfig, root: Path, environ: Mapping[str, str]
) -> SigningMaterial:
    chain, chain_from = _pem(environ.get(ENV_CERT), config.cert, root, "cert", ENV_CERT)
    key, key_from = _pem(environ.get(ENV_KEY), config.key, root, "key", ENV_KEY)
    material = SigningMaterial(chain, key, config.alg, f"{chain_from} and {key_from}")
    try:
        sign_original(_PROBE_PNG, "png", material, title="probe.png")
    except AssetgenError as exc:
        raise SpecError(
            f"cannot sign with the certificate chain and key from {material.source} "
            f"({config.alg}): {exc.message}",
            field="provenance.key",
            hint="the chain must be PEM (signer first) and the key unencrypted PKCS#8 PEM "
            "of the algorithm set in [provenance] alg; see the README's 'Provenance (C2PA)'",
        ) from exc
    return material


def load_trust_anchors(
    config: ProvenanceConfig,
    root: Path,
    *,
    file: str | None = None,
    environ: Mapping[str, str] = os.environ,
) -> str | None:
    """PEM root certificates ``verify`` trusts, or ``None`` when none are configured."""
    value, where = environ.get(ENV_TRUST), config.trust_anchors
    if not value and not where:
        return None
    try:
        text, _ = _pem(value, where, root, "trust_anchors", ENV_TRUST)
    except SpecError as exc:
        exc.file = exc.file or file
        raise
    return text.decode("ascii", "replace")


def _pem(
    env_value: str | None, spec_path: str | None, root: Path, field_name: str, env: str
) -> tuple[bytes, str]:
    """PEM bytes from an environment variable (a path or the PEM itself) or a spec path."""
    where = f"provenance.{field_name}"
    if env_value and env_value.lstrip().startswith("-----BEGIN"):
        return env_value.encode("utf-8"), f"${env}"
    if env_value:
        path, named = Path(env_value).expanduser(), f"the file ${env} names"
    elif spec_path:
        path, named = root / spec_path, spec_path
    else:
        raise SpecError(
            f'[provenance] c2pa = "sign" needs a {field_name} file',
            field=where,
            hint=f'set [provenance] {field_name} = "path.pem" or the environment variable '
            f"{env}; the README's 'Provenance (C2PA)' says how to get a certificate",
        )
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_PEM_BYTES + 1)
    except OSError as exc:
        raise SpecError(f"cannot read {named}: {exc.strerror or exc}", field=where) from None
    if len(data) > MAX_PEM_BYTES or b"-----BEGIN" not in data:
        raise SpecError(f"{named} is not a PEM file (at most 1 MiB)", field=where)
    return data, named


def make_chain(
    common_name: str, organization: str = "assetgen", days: int = 3650
) -> tuple[bytes, bytes, bytes]:
    """A throwaway EC P-256 chain: ``(chain PEM, PKCS#8 key PEM, root PEM)``.

    A root CA and a leaf it signs, with the extensions C2PA requires of a
    signer (digital signature, e-mail protection). For tests and offline
    placeholders: nobody trusts it unless told to.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    def name(cn: str) -> x509.Name:
        return x509.Name(
            [
                x509.NameAttribute(NameOID.COMMON_NAME, cn),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
            ]
        )

    def usage(*, sign: bool) -> x509.KeyUsage:
        return x509.KeyUsage(
            digital_signature=not sign, content_commitment=False, key_encipherment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=sign, crl_sign=sign,
            encipher_only=False, decipher_only=False,
        )  # fmt: skip

    start = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=1)
    root_key, leaf_key = (
        ec.generate_private_key(ec.SECP256R1()),
        ec.generate_private_key(ec.SECP256R1()),
    )

    def certificate(subject: str, public: Any) -> x509.CertificateBuilder:
        return (
            x509.CertificateBuilder()
            .subject_name(name(subject))
            .public_key(public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(start + datetime.timedelta(days=days))
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        )

    root = (
        certificate(f"{common_name} root", root_key.public_key())
        .issuer_name(name(f"{common_name} root"))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(usage(sign=True), critical=True)
        .sign(root_key, hashes.SHA256())
    )
    leaf = (
        certificate(common_name, leaf_key.public_key())
        .issuer_name(root.subject)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(usage(sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()), False
        )
        .sign(root_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    key = leaf_key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    root_pem = root.public_bytes(pem)
    return leaf.public_bytes(pem) + root_pem, key, root_pem


@lru_cache(maxsize=1)
def placeholder_material() -> SigningMaterial:
    """The offline provider's signer: made in memory once per process, trusted by nobody."""
    chain, key, _ = make_chain(PLACEHOLDER_NAME, "assetgen offline provider", days=36500)
    return SigningMaterial(chain, key, "es256", "the offline provider's placeholder")
