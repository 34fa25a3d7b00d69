"""The vendor SDK (厂商开发包): anxin's one public face for a module vendor, a POS or a
verification institute — build a record, its canonical bytes, sign (Ed25519, SM2), verify,
validate against the contract, upload to ``anxin serve`` and read each line's outcome; for
a POS, the link its receipt's QR code carries (``receipt_url``, docs/receipts.md).

Needs only the minimal install (``pip install anxin``: no server dependency; an import
contract in pyproject.toml keeps it so). The code underneath is the platform's own —
canonical bytes (:mod:`anxin.contract.canonical`), signatures
(:mod:`anxin.crypto.schemes`), the parser (:mod:`anxin.contract.parse`) — so what the SDK
says is what the platform decides. Walkthrough: docs/vendors.md; test vectors:
docs/vectors/.

SM2 signing uses Tongsuo where ``anxin[sm2]`` is installed, else pure Python (slower);
SM2 verification uses anxin's compiled verifier where the package was built with a C
compiler (``anxin.crypto.schemes.SM2_BACKENDS`` says which are here).
"""

from anxin.contract.upload import Result, UploadResult
from anxin.crypto.schemes import ALGORITHMS, SM2_USER_ID, KeyFormatError, Signer, Verifier, load_verifier
from anxin.receipt.digest import receipt_url
from anxin.sdk import vectors
from anxin.sdk.keys import KeyPair, load_key, new_key
from anxin.sdk.records import (
    SIGNED_KINDS,
    canonical_bytes,
    event,
    metering,
    record,
    sign,
    to_line,
    validate,
    verify,
)
from anxin.sdk.upload import Client, UploadError, UploadReport

__all__ = [
    "ALGORITHMS",
    "SIGNED_KINDS",
    "SM2_USER_ID",
    "Client",
    "KeyFormatError",
    "KeyPair",
    "Result",
    "Signer",
    "UploadError",
    "UploadReport",
    "UploadResult",
    "Verifier",
    "canonical_bytes",
    "event",
    "load_key",
    "load_verifier",
    "metering",
    "new_key",
    "receipt_url",
    "record",
    "sign",
    "to_line",
    "validate",
    "vectors",
    "verify",
]
