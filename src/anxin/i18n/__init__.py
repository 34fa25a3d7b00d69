"""Language of what a user reads: Chinese first (zh-CN), English on request.

A command line takes it once for its process (``--lang en``, else ANXIN_LANG=en, else an
English locale: :func:`process_lang`), its help included; a web
request takes its own (``?lang=``, the language cookie, ``Accept-Language``), set for
the request alone by :func:`language_scope` — never the process's, so one reader's
choice cannot leak into another's page."""

from anxin.i18n.alarms import alarm_message, alarm_text, reason_text
from anxin.i18n.catalog import EVENT_NAMES, MESSAGES, RULE_NAMES_EN, RULE_NAMES_ZH, WITNESS
from anxin.i18n.language import (
    lang,
    language_scope,
    negotiate,
    process_lang,
    rule_name,
    set_lang,
    t,
    witness_text,
)

__all__ = [
    "EVENT_NAMES",
    "MESSAGES",
    "RULE_NAMES_EN",
    "RULE_NAMES_ZH",
    "WITNESS",
    "alarm_message",
    "alarm_text",
    "lang",
    "language_scope",
    "negotiate",
    "process_lang",
    "reason_text",
    "rule_name",
    "set_lang",
    "t",
    "witness_text",
]
