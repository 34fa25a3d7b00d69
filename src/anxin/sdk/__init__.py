"""The vendor SDK (厂商开发包): the one public face of anxin for a module vendor — build
a record, its canonical bytes, sign, verify, validate against the contract, upload.
Needs only the minimal install (``pip install anxin``): see docs/vendors.md."""
