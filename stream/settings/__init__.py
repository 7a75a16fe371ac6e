"""Settings by role, read from ``CURSORPRINT_*`` environment variables.

Each process uses a few sections (ingest: ``kafka`` + ``ingest``; a scorer worker: ``kafka``,
``redis``, ``topics``, ``worker``, ``scorer``; ...) and validates exactly those at start-up, so a
bad value of a setting an ingest pod never reads cannot stop it, and a bad value it does read
stops it at once with a :class:`SettingsError` that names the variable, never later in the middle
of a request. Sections are built on first use; :func:`load_settings` builds the ones it is asked
for (all by default). An unknown ``CURSORPRINT_*`` variable is always refused: a typo must not
silently fall back to a default.

Defaults run locally against the stack that ``cursorprint stack up`` starts.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Mapping
from functools import cached_property
from pathlib import Path
from typing import Any, get_type_hints

from cursorprint.stream.settings.sections import (
    SECTIONS,
    DecideSettings,
    GeneralSettings,
    IngestSettings,
    KafkaSettings,
    LiveScoreSettings,
    LocalStackSettings,
    RedisSettings,
    ScorerSettings,
    SessionizerSettings,
    SettingsError,
    TopicSettings,
    WorkerSettings,
    env_name,
)

__all__ = ["Settings", "SettingsError", "load_settings", "settings_table", "env_name",
           "SECTIONS", "ROLE_SECTIONS", "ENV_PREFIX", "known_variables"]

ENV_PREFIX = "CURSORPRINT_"

# What each process reads, so validates at start-up (the worker's demo views read the ingest
# section too, only when a browser asks for /demo, so with its defaults).
_WORKER = ("general", "kafka", "topics", "worker")
ROLE_SECTIONS: dict[str, tuple[str, ...]] = {
    "ingest": ("general", "kafka", "ingest"),
    "sessionizer": (*_WORKER, "sessionizer"),
    "scorer": (*_WORKER, "redis", "scorer", "live"),
    "all": (*_WORKER, "sessionizer", "redis", "scorer", "live"),
    "stack": ("general", "kafka", "redis", "topics", "local_stack"),
    # the decision service: the pseudonym secret of `ingest` makes the same user keys
    "decide": ("general", "kafka", "redis", "ingest", "live", "decide"),
}


def _parse(raw: str, kind: Any, var: str) -> Any:
    try:
        if kind is bool:
            low = raw.strip().lower()
            if low in {"1", "true", "yes", "on"}:
                return True
            if low in {"0", "false", "no", "off"}:
                return False
            raise ValueError("expected true/false")
        if kind is int:
            return int(raw)
        if kind is float:
            return float(raw)
        if kind is Path:
            return Path(raw).expanduser()
        return raw
    except ValueError as exc:
        raise SettingsError(f"{var}={raw!r}: {exc}") from None


def known_variables() -> dict[str, tuple[str, str]]:
    """Every ``CURSORPRINT_*`` variable -> (section, field)."""
    return {env_name(f): (section, f.name)
            for section, cls in SECTIONS.items() for f in dataclasses.fields(cls)}


class Settings:
    """All sections; each is parsed and validated the first time it is used."""

    def __init__(self, environ: Mapping[str, str], overrides: Mapping[str, Any]) -> None:
        self._environ = {k: v for k, v in environ.items() if k.startswith(ENV_PREFIX)}
        self._overrides = dict(overrides)

    def _build(self, section: str) -> Any:
        cls = SECTIONS[section]
        hints = get_type_hints(cls)
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            var = env_name(f)
            override = var[len(ENV_PREFIX):].lower()
            if override in self._overrides:
                values[f.name] = self._overrides[override]
            elif var in self._environ:
                values[f.name] = _parse(self._environ[var], hints[f.name], var)
        return cls(**values)

    @cached_property
    def general(self) -> GeneralSettings:
        return self._build("general")

    @cached_property
    def kafka(self) -> KafkaSettings:
        return self._build("kafka")

    @cached_property
    def redis(self) -> RedisSettings:
        return self._build("redis")

    @cached_property
    def topics(self) -> TopicSettings:
        return self._build("topics")

    @cached_property
    def local_stack(self) -> LocalStackSettings:
        return self._build("local_stack")

    @cached_property
    def ingest(self) -> IngestSettings:
        return self._build("ingest")

    @cached_property
    def worker(self) -> WorkerSettings:
        return self._build("worker")

    @cached_property
    def sessionizer(self) -> SessionizerSettings:
        return self._build("sessionizer")

    @cached_property
    def scorer(self) -> ScorerSettings:
        return self._build("scorer")

    @cached_property
    def live(self) -> LiveScoreSettings:
        return self._build("live")

    @cached_property
    def decide(self) -> DecideSettings:
        return self._build("decide")

    @property
    def home(self) -> Path:
        return self.general.home

    @property
    def log_level(self) -> str:
        return self.general.log_level

    def check(self, sections: Iterable[str]) -> Settings:
        """Build (so validate) ``sections`` now; returns self."""
        for name in sections:
            if name not in SECTIONS:
                raise ValueError(f"unknown settings section {name!r}")
            getattr(self, name)
        return self

    def replace(self, **overrides: Any) -> Settings:
        """A copy with some values replaced (same keys as :func:`load_settings` overrides)."""
        _check_override_names(overrides)
        built = [name for name in SECTIONS if name in self.__dict__]
        return Settings(self._environ, {**self._overrides, **overrides}).check(built)

    def values(self) -> dict[str, Any]:
        """Every variable with its current value (builds every section)."""
        out: dict[str, Any] = {}
        for section, cls in SECTIONS.items():
            obj = getattr(self, section)
            for f in dataclasses.fields(cls):
                out[env_name(f)] = getattr(obj, f.name)
        return out


def _check_override_names(overrides: Mapping[str, Any]) -> None:
    known = {var[len(ENV_PREFIX):].lower() for var in known_variables()}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise TypeError(f"unknown setting override(s): {', '.join(unknown)}")


def load_settings(environ: Mapping[str, str] | None = None, *,
                  sections: Iterable[str] = tuple(SECTIONS), **overrides: Any) -> Settings:
    """Settings from ``environ`` (default ``os.environ``) plus explicit overrides, keyed like the
    variables without the prefix (``kafka_port=...``); ``sections`` are validated now, the rest
    when first used."""
    env = os.environ if environ is None else environ
    known = known_variables()
    for var in env:
        if var.startswith(ENV_PREFIX) and var not in known:
            raise SettingsError(f"{var}: unknown setting (known: {', '.join(sorted(known))})")
    _check_override_names(overrides)
    return Settings(env, overrides).check(sections)


def settings_table() -> str:
    """Markdown table of every setting by section, for the README."""
    rows = ["| section | variable | default | meaning |", "|---|---|---|---|"]
    for section, cls in SECTIONS.items():
        for f in dataclasses.fields(cls):
            default = f.default_factory() if f.default_factory is not dataclasses.MISSING \
                else f.default
            rows.append(f"| {section} | `{env_name(f)}` | `{default}` | "
                        f"{f.metadata.get('doc', '')} |")
    return "\n".join(rows)
