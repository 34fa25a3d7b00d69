"""Signature schemes (Ed25519, SM2-with-SM3) and the device key ring."""

from anxin.crypto.keys import KeyRing, KeyVerdict
from anxin.crypto.schemes import Signer, Verifier, generate_signer, load_verifier

__all__ = ["KeyRing", "KeyVerdict", "Signer", "Verifier", "generate_signer", "load_verifier"]
