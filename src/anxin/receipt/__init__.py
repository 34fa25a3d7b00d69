"""Receipts anyone can verify (每一笔可验证, issue 17): the receipt's QR code names a sale
(station, order, its local day) and a short digest of it; the public page
``/r/{station}/{order}`` shows the sale beside its signed metering record, with the
server's verdict and — from the same data, in the customer's own browser — the page
script's; ``anxin receipt verify`` does the same check offline.

* :mod:`anxin.receipt.digest` — the sale as the public sees it, its digest, the URL (the
  POS's side: ``anxin.sdk.receipt_url``); minimal install.
* :mod:`anxin.receipt.check` — the checks (digest, signature, pairing, plausibility), on
  an evidence bundle; minimal install.
* :mod:`anxin.receipt.queries` — the bundle from the ledger (the server's side).
"""
