"""Privacy by design (个人信息保护法, PIPL): what the platform refuses or tokenises at
ingest (:mod:`anxin.privacy.detect`, :mod:`anxin.privacy.policy`) — the contract lets a
station send unknown fields, and a POS may put a card, an account, a phone or a plate
number there; the platform keeps the payment method only. Retention and the purge are
:mod:`anxin.retention`'s; ``docs/privacy.md`` says what was chosen and why."""
