"""The words: rule names, the command line's and the services' messages, the tank
witness's terms and the metrology module's events — (zh, en) or {"zh", "en"} each, read
from the gettext catalogs (``anxin/i18n/locale/*/LC_MESSAGES/anxin.po``, :mod:`anxin.i18n.po`):
edit the words there, not here."""

from __future__ import annotations

from anxin.i18n.po import table

RULE_NAMES_ZH: dict[str, str] = {k: zh for k, (zh, _) in table("rule").items()}

# The same rules as an English reader names them (a page in English shows these, never
# the code: the code is the data's, the name is the reader's).
RULE_NAMES_EN: dict[str, str] = {k: en for k, (_, en) in table("rule").items()}

MESSAGES: dict[str, dict[str, str]] = {k: {"zh": zh, "en": en} for k, (zh, en) in table("message").items()}


# The tank witness's words (油罐见证): the status of an estimate, the leak verdict, and
# the keys the estimator leaves in its results and diagnostics (segment causes, what
# became of each declared delivery, notes, methods). Shared by the console and
# ``anxin witness explain``.
WITNESS: dict[str, tuple[str, str]] = table("witness")


# A metrology module's events (contract §3 ``event``) in words.
EVENT_NAMES: dict[str, tuple[str, str]] = table("event")
