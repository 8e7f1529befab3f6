"""Signing material for C2PA: the user's chain and key, trust anchors, throwaway chains.

The chain, key and trust anchors come from the environment first
(``$ASSETGEN_C2PA_CERT``, ``$ASSETGEN_C2PA_KEY``, ``$ASSETGEN_C2PA_TRUST_ANCHORS``:
each a path, or the PEM text itself, as CI secrets are), then from the spec's
``[provenance]`` paths (inside the project: a spec from a pull request cannot
make a build read a file elsewhere). Every file is read with a size limit;
messages name where a key came from, never what it holds.

:func:`make_chain` makes a throwaway EC P-256 chain with ``cryptography`` (the
one owner here; c2pa-python depends on it): the test suite's signer, and the
offline provider's :func:`placeholder_material`.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from .errors import AssetgenError, SpecError
from .provenance import SigningMaterial, sign_original
from .spec_types import ProvenanceConfig

ENV_CERT = "ASSETGEN_C2PA_CERT"
ENV_KEY = "ASSETGEN_C2PA_KEY"
ENV_TRUST = "ASSETGEN_C2PA_TRUST_ANCHORS"
MAX_PEM_BYTES = 1024 * 1024
"""Largest certificate chain, key or trust-anchor file read."""
PLACEHOLDER_NAME = "assetgen offline placeholder (not a real identity)"
_PROBE_PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00"
    b"\x00\x90wS\xde\x00\x00\x00\x0cIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\r\xefF\xb8"
    b"\x00\x00\x00\x00IEND\xaeB`\x82"
)
"""A 1x1 PNG: signing it once proves a chain and key work before anything is spent."""


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
