"""One typed settings object, read from ``CURSORPRINT_*`` environment variables.

Every field of :class:`Settings` maps to ``CURSORPRINT_<FIELD NAME IN UPPER CASE>``. Defaults run
locally against the stack that ``cursorprint stack up`` starts. A bad value fails at start-up with a
:class:`SettingsError` that names the variable, never later in the middle of a request.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_type_hints

from cursorprint.stream.settings.sites import DEMO_SITES, SiteConfig, parse_sites

__all__ = ["Settings", "SettingsError", "load_settings", "ENV_PREFIX"]

ENV_PREFIX = "CURSORPRINT_"


class SettingsError(ValueError):
    """A ``CURSORPRINT_*`` variable holds a value that cannot be used."""


def _doc(text: str, **kwargs: Any) -> Any:
    """A dataclass field that carries its README description in its metadata."""
    return field(metadata={"doc": text}, **kwargs)


@dataclass(frozen=True)
class Settings:
    """All run-time settings; see the README's settings table (generated from these docs)."""

    home: Path = _doc("Folder for local state: Kafka and Redis data, jars, models, logs.",
                      default=Path(".cursorprint"))
    kafka_jars: Path = _doc("Cache folder of the Kafka broker jars fetched by Maven.",
                            default=Path(".cursorprint/kafka-jars"))
    kafka_bootstrap: str = _doc("Kafka bootstrap servers, host:port[,host:port].",
                                default="127.0.0.1:19092")
    kafka_port: int = _doc("Port of the local Kafka broker that `stack up` starts.", default=19092)
    kafka_controller_port: int = _doc("Port of the local KRaft controller listener.", default=19093)
    redis_url: str = _doc("Redis URL of the head store.", default="redis://127.0.0.1:16379/0")
    redis_port: int = _doc("Port of the local redis-server that `stack up` starts.", default=16379)
    topic_partitions: int = _doc("Partitions of each topic the local stack creates.", default=4)
    topic_retention_hours: int = _doc("Retention of every topic, in hours.", default=168)
    log_level: str = _doc("Python log level: DEBUG, INFO, WARNING or ERROR.", default="INFO")
    # ingest (stream/ingest/service.py)
    sites: str = _doc("Sites allowed to send batches: `site=secret=origin1|origin2;...` or JSON "
                      "`{\"site\": {\"secret\": ..., \"origins\": [...]}}`; `*` is a wildcard "
                      "inside an origin. The default is a local demo site only.",
                      default=DEMO_SITES)
    pseudonym_secret: str = _doc("Server-side secret of the pseudonymous user key "
                                 "(HMAC of site:user id); set a long random value in production.",
                                 default="dev-pseudonym-secret-change-me")
    ingest_host: str = _doc("Address the ingest HTTP server listens on.", default="127.0.0.1")
    ingest_port: int = _doc("Port of the ingest HTTP server.", default=8088)
    ingest_max_body_bytes: int = _doc("Largest accepted batch body (413 above).", default=65536)
    ingest_max_events: int = _doc("Most events in one batch (422 above).", default=5000)
    ingest_body_timeout_s: float = _doc("Time allowed to receive a request body (408 after).",
                                        default=10.0)
    ingest_produce_timeout_s: float = _doc("Wait for the broker's acknowledgement before "
                                           "answering 503.", default=5.0)
    ingest_client_rate: float = _doc("Batches per second one client address may send "
                                     "(token bucket refill; 429 above).", default=20.0)
    ingest_client_burst: float = _doc("Token bucket size per client address.", default=60.0)
    ingest_site_rate: float = _doc("Batches per second one site may send in total.",
                                   default=5000.0)
    ingest_site_burst: float = _doc("Token bucket size per site.", default=10000.0)
    ingest_trust_proxy: bool = _doc("Take the client address from X-Forwarded-For (only behind "
                                    "a trusted proxy).", default=False)
    # pipeline (stream/worker/app.py, sessionizer, scorer, alerts)
    model_dir: Path = _doc("Model directory the scorer loads (written by `cursorprint train`).",
                           default=Path(".cursorprint/models/current"))
    worker_web_port: int = _doc("Port of a worker's /metrics, /healthz, /readyz (Faust web).",
                                default=6066)
    session_idle_s: float = _doc("Close a page session after this many seconds without a batch.",
                                 default=30.0)
    session_max_events: int = _doc("Close a page session at this many events (length cap; bounds "
                                   "memory and the `sessions` message size).", default=20000)
    session_window_events: int = _doc("Emit a rolling window for live scoring every this many "
                                      "new events of an open session (0: off).", default=2048)
    session_max_pending: int = _doc("Out-of-order batches held per session before a sequence gap "
                                    "is given up on.", default=64)
    session_tick_s: float = _doc("Interval of the sessionizer's idle check (Faust timer).",
                                 default=2.0)
    scorer_batch_size: int = _doc("Most sessions per scorer micro-batch (stream.take n).",
                                  default=16)
    scorer_batch_within_s: float = _doc("Longest wait to fill a scorer micro-batch "
                                        "(stream.take within).", default=0.25)
    alert_threshold: float = _doc("Score above which a session becomes a fraud alert.",
                                  default=0.8)
    site_thresholds: str = _doc("Per-site alert thresholds `site=0.7,other=0.9` (override "
                                "CURSORPRINT_ALERT_THRESHOLD).", default="")
    head_cache_ttl_s: float = _doc("Seconds a cached user head is trusted before Redis is "
                                   "re-checked (a new head is used within this time).",
                                   default=5.0)
    replay_check: bool = _doc("Flag a session whose trajectory repeats an earlier session's "
                              "(`replayed_trajectory`); fingerprints are kept in Redis.",
                              default=True)
    replay_ttl_s: float = _doc("Seconds the replay check remembers a session's trajectory "
                               "fingerprint in Redis.", default=604800.0)

    def __post_init__(self) -> None:
        for name in ("kafka_port", "kafka_controller_port", "redis_port"):
            port = getattr(self, name)
            if not 0 < port < 65536:
                raise SettingsError(f"{env_name(name)}={port}: not a TCP port (1..65535)")
        if self.topic_partitions < 1:
            raise SettingsError(f"{env_name('topic_partitions')}={self.topic_partitions}: must be >= 1")
        if self.topic_retention_hours < 1:
            raise SettingsError(
                f"{env_name('topic_retention_hours')}={self.topic_retention_hours}: must be >= 1")
        if self.log_level.upper() not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise SettingsError(f"{env_name('log_level')}={self.log_level!r}: "
                                "use DEBUG, INFO, WARNING or ERROR")
        if not self.redis_url.startswith(("redis://", "rediss://", "unix://")):
            raise SettingsError(f"{env_name('redis_url')}={self.redis_url!r}: "
                                "must start with redis://, rediss:// or unix://")
        for part in self.kafka_bootstrap.split(","):
            host, _, port = part.strip().rpartition(":")
            if not host or not port.isdigit():
                raise SettingsError(f"{env_name('kafka_bootstrap')}={self.kafka_bootstrap!r}: "
                                    "expected host:port[,host:port]")
        self._check_ingest()
        self._check_pipeline()

    def _check_pipeline(self) -> None:
        if not 0 < self.worker_web_port < 65536:
            raise SettingsError(f"{env_name('worker_web_port')}={self.worker_web_port}: "
                                "not a TCP port")
        for name in ("session_idle_s", "session_tick_s", "scorer_batch_within_s"):
            value = getattr(self, name)
            if not value > 0:
                raise SettingsError(f"{env_name(name)}={value}: must be > 0")
        for name in ("session_max_events", "session_max_pending", "scorer_batch_size"):
            value = getattr(self, name)
            if value < 1:
                raise SettingsError(f"{env_name(name)}={value}: must be >= 1")
        if self.session_window_events < 0:
            raise SettingsError(f"{env_name('session_window_events')}="
                                f"{self.session_window_events}: must be >= 0 (0: off)")
        if not 0.0 <= self.alert_threshold <= 1.0:
            raise SettingsError(f"{env_name('alert_threshold')}={self.alert_threshold}: "
                                "must be in [0, 1]")
        if not self.replay_ttl_s >= 1:
            raise SettingsError(f"{env_name('replay_ttl_s')}={self.replay_ttl_s}: must be >= 1")
        if self.head_cache_ttl_s < 0:
            raise SettingsError(f"{env_name('head_cache_ttl_s')}={self.head_cache_ttl_s}: "
                                "must be >= 0")
        self.thresholds()

    def thresholds(self) -> dict[str, float]:
        """Per-site alert thresholds from ``site_thresholds`` (sites not listed use the default)."""
        out: dict[str, float] = {}
        for part in self.site_thresholds.split(","):
            if not part.strip():
                continue
            site, sep, raw = part.strip().partition("=")
            try:
                value = float(raw)
            except ValueError:
                value = -1.0
            if not sep or not site or not 0.0 <= value <= 1.0:
                raise SettingsError(f"{env_name('site_thresholds')}={self.site_thresholds!r}: "
                                    f"bad entry {part.strip()!r} (expected site=0..1)")
            out[site.strip()] = value
        return out

    def _check_ingest(self) -> None:
        try:
            parse_sites(self.sites)
        except ValueError as exc:
            raise SettingsError(f"{env_name('sites')}: {exc}") from None
        if len(self.pseudonym_secret) < 16:
            raise SettingsError(f"{env_name('pseudonym_secret')}: must be at least 16 characters")
        if not 0 < self.ingest_port < 65536:
            raise SettingsError(f"{env_name('ingest_port')}={self.ingest_port}: not a TCP port")
        if not 1024 <= self.ingest_max_body_bytes <= 16 * 1024 * 1024:
            raise SettingsError(f"{env_name('ingest_max_body_bytes')}={self.ingest_max_body_bytes}"
                                ": must be between 1024 and 16777216")
        if self.ingest_max_events < 1:
            raise SettingsError(f"{env_name('ingest_max_events')}={self.ingest_max_events}: "
                                "must be >= 1")
        for name in ("ingest_body_timeout_s", "ingest_produce_timeout_s", "ingest_client_rate",
                     "ingest_client_burst", "ingest_site_rate", "ingest_site_burst"):
            value = getattr(self, name)
            if not value > 0:
                raise SettingsError(f"{env_name(name)}={value}: must be > 0")

    def site_configs(self) -> dict[str, SiteConfig]:
        """The parsed ``sites`` setting, by site key."""
        return parse_sites(self.sites)

    @property
    def kafka_bootstrap_list(self) -> list[str]:
        return [p.strip() for p in self.kafka_bootstrap.split(",") if p.strip()]


def env_name(field_name: str) -> str:
    return ENV_PREFIX + field_name.upper()


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
        if kind == tuple[str, ...]:
            return tuple(p.strip() for p in raw.split(",") if p.strip())
        return raw
    except ValueError as exc:
        raise SettingsError(f"{var}={raw!r}: {exc}") from None


def load_settings(environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Build :class:`Settings` from ``environ`` (default ``os.environ``) plus explicit overrides.

    Unknown ``CURSORPRINT_*`` variables are rejected too: a typo must not silently fall back to a
    default.
    """
    env = os.environ if environ is None else environ
    hints = get_type_hints(Settings)
    names = {f.name for f in dataclasses.fields(Settings)}
    for var in env:
        if var.startswith(ENV_PREFIX) and var[len(ENV_PREFIX):].lower() not in names:
            raise SettingsError(f"{var}: unknown setting (known: "
                                f"{', '.join(sorted(env_name(n) for n in names))})")
    values: dict[str, Any] = {}
    for name in names:
        var = env_name(name)
        if var in env:
            values[name] = _parse(env[var], hints[name], var)
    values.update(overrides)
    return Settings(**values)


def settings_table() -> str:
    """Markdown table of every setting, for the README."""
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for f in dataclasses.fields(Settings):
        rows.append(f"| `{env_name(f.name)}` | `{f.default}` | {f.metadata.get('doc', '')} |")
    return "\n".join(rows)
