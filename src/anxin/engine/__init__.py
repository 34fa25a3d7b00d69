"""The pure engine: pairing, record-level rules, decision horizons."""

from anxin.engine.core import Engine
from anxin.engine.outputs import AlarmNote
from anxin.engine.settings import DEFAULT_SETTINGS, EngineSettings

__all__ = ["DEFAULT_SETTINGS", "Engine", "AlarmNote", "EngineSettings"]
