"""The settings sections: one frozen dataclass per role, each field one ``CURSORPRINT_*`` variable.

A field's variable name and README text live in its metadata (:func:`setting`); each section
checks its own values in ``__post_init__`` and names the variable of a bad one.

All sections in one module (a little over 300 lines): together they are the README's settings
table, and one reader should see every variable, its default and its check side by side.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from cursorprint.model.bots.model import FLAG_AT
from cursorprint.stream.decide.credentials import (
    DEMO_DECIDE_SITES,
    DecideSite,
    SitePolicy,
    parse_decide_sites,
)
from cursorprint.stream.records.errors import CursorprintError
from cursorprint.stream.settings.sites import DEMO_SITES, SiteConfig, parse_sites

__all__ = ["SettingsError", "setting", "env_name", "SECTIONS", "GeneralSettings", "KafkaSettings",
           "RedisSettings", "TopicSettings", "LocalStackSettings", "IngestSettings",
           "WorkerSettings", "SessionizerSettings", "ScorerSettings", "LiveScoreSettings",
           "DecideSettings"]


class SettingsError(CursorprintError, ValueError):
    """A ``CURSORPRINT_*`` variable holds a value that cannot be used."""


def setting(var: str, doc: str, default: Any) -> Any:
    """A field read from ``CURSORPRINT_<var>``, documented in the README by ``doc``."""
    return field(default=default, metadata={"env": "CURSORPRINT_" + var, "doc": doc})


def env_name(f: dataclasses.Field[Any]) -> str:
    return str(f.metadata["env"])


def _var(obj: Any, name: str) -> str:
    return env_name(next(f for f in dataclasses.fields(obj) if f.name == name))


def _bad(obj: Any, name: str, why: str) -> SettingsError:
    return SettingsError(f"{_var(obj, name)}={getattr(obj, name)!r}: {why}")


def _positive(obj: Any, *names: str) -> None:
    for name in names:
        if not getattr(obj, name) > 0:
            raise _bad(obj, name, "must be > 0")


def _at_least_one(obj: Any, *names: str) -> None:
    for name in names:
        if getattr(obj, name) < 1:
            raise _bad(obj, name, "must be >= 1")


def _port(obj: Any, *names: str) -> None:
    for name in names:
        if not 0 < getattr(obj, name) < 65536:
            raise _bad(obj, name, "not a TCP port (1..65535)")


@dataclass(frozen=True)
class GeneralSettings:
    home: Path = setting("HOME", "Folder for local state: Kafka and Redis data, jars, models, "
                         "logs.", Path(".cursorprint"))
    log_level: str = setting("LOG_LEVEL", "Python log level: DEBUG, INFO, WARNING or ERROR.",
                             "INFO")
    # relative to the working directory, like HOME: in a checkout, ../shared/datasets is where
    # the shared data sets sit; an installed wheel has no such neighbour, so it is a setting
    data_dir: Path = setting("DATA_DIR", "Folder holding the public data sets (`balabit/`, "
                             "`sapimouse/`) that commands read when no folder is given.",
                             Path("../shared/datasets"))

    def __post_init__(self) -> None:
        if self.log_level.upper() not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise _bad(self, "log_level", "use DEBUG, INFO, WARNING or ERROR")

    def dataset(self, name: str) -> Path:
        """The folder of data set ``name`` (``balabit``, ``sapimouse``) under ``data_dir``."""
        path = self.data_dir / name
        if not path.is_dir():
            raise SettingsError(f"{_var(self, 'data_dir')}={str(self.data_dir)!r}: no {name} "
                                f"data set at {path.resolve()} (set {_var(self, 'data_dir')} to "
                                f"the folder holding {name}/, or give the folder explicitly)")
        return path


@dataclass(frozen=True)
class KafkaSettings:
    bootstrap: str = setting("KAFKA_BOOTSTRAP", "Kafka bootstrap servers, "
                             "host:port[,host:port].", "127.0.0.1:19092")

    def __post_init__(self) -> None:
        for part in self.bootstrap.split(","):
            host, _, port = part.strip().rpartition(":")
            if not host or not port.isdigit():
                raise _bad(self, "bootstrap", "expected host:port[,host:port]")

    @property
    def bootstrap_list(self) -> list[str]:
        return [p.strip() for p in self.bootstrap.split(",") if p.strip()]


@dataclass(frozen=True)
class RedisSettings:
    url: str = setting("REDIS_URL", "Redis URL of the head store, enrolments and replay "
                       "fingerprints.", "redis://127.0.0.1:16379/0")

    def __post_init__(self) -> None:
        if not self.url.startswith(("redis://", "rediss://", "unix://")):
            raise _bad(self, "url", "must start with redis://, rediss:// or unix://")


@dataclass(frozen=True)
class TopicSettings:
    partitions: int = setting("TOPIC_PARTITIONS", "Partitions of each topic the local stack "
                              "creates (and of the sessionizer's tick topic).", 4)
    retention_hours: int = setting("TOPIC_RETENTION_HOURS", "Retention of every topic, in hours.",
                                   168)

    def __post_init__(self) -> None:
        _at_least_one(self, "partitions", "retention_hours")


@dataclass(frozen=True)
class LocalStackSettings:
    kafka_jars: Path = setting("KAFKA_JARS", "Cache folder of the Kafka broker jars fetched by "
                               "Maven.", Path(".cursorprint/kafka-jars"))
    kafka_port: int = setting("KAFKA_PORT", "Port of the local Kafka broker that `stack up` "
                              "starts.", 19092)
    kafka_controller_port: int = setting("KAFKA_CONTROLLER_PORT", "Port of the local KRaft "
                                         "controller listener.", 19093)
    redis_port: int = setting("REDIS_PORT", "Port of the local redis-server that `stack up` "
                              "starts.", 16379)

    def __post_init__(self) -> None:
        _port(self, "kafka_port", "kafka_controller_port", "redis_port")


@dataclass(frozen=True)
class IngestSettings:
    sites: str = setting("SITES", "Sites allowed to send batches: `site=secret=origin1|origin2;"
                         "...` or JSON `{\"site\": {\"secret\": ..., \"origins\": [...]}}`; `*` is "
                         "a wildcard inside an origin. The default is a local demo site only.",
                         DEMO_SITES)
    pseudonym_secret: str = setting("PSEUDONYM_SECRET", "Server-side secret of the pseudonymous "
                                    "user key (HMAC of site:user id); set a long random value in "
                                    "production.", "dev-pseudonym-secret-change-me")
    host: str = setting("INGEST_HOST", "Address the ingest HTTP server listens on.", "127.0.0.1")
    port: int = setting("INGEST_PORT", "Port of the ingest HTTP server.", 8088)
    max_body_bytes: int = setting("INGEST_MAX_BODY_BYTES", "Largest accepted batch body "
                                  "(413 above).", 65536)
    max_events: int = setting("INGEST_MAX_EVENTS", "Most events in one batch (422 above).", 5000)
    body_timeout_s: float = setting("INGEST_BODY_TIMEOUT_S", "Time allowed to receive a request "
                                    "body (408 after).", 10.0)
    idle_timeout_s: float = setting("INGEST_IDLE_TIMEOUT_S", "Close a connection that has not "
                                    "sent a complete request head this long after opening or "
                                    "after its last answer (slow or idle clients).", 15.0)
    produce_timeout_s: float = setting("INGEST_PRODUCE_TIMEOUT_S", "Wait for the broker's "
                                       "acknowledgement before answering 503.", 5.0)
    client_rate: float = setting("INGEST_CLIENT_RATE", "Batches per second one client address "
                                 "may send (token bucket refill; 429 above).", 20.0)
    client_burst: float = setting("INGEST_CLIENT_BURST", "Token bucket size per client address.",
                                  60.0)
    site_rate: float = setting("INGEST_SITE_RATE", "Batches per second one site may send in "
                               "total.", 5000.0)
    site_burst: float = setting("INGEST_SITE_BURST", "Token bucket size per site.", 10000.0)
    trust_proxy: bool = setting("INGEST_TRUST_PROXY", "Take the client address from "
                                "X-Forwarded-For (only behind a trusted proxy).", False)

    def __post_init__(self) -> None:
        try:
            parse_sites(self.sites)
        except ValueError as exc:
            raise SettingsError(f"{_var(self, 'sites')}: {exc}") from None
        if len(self.pseudonym_secret) < 16:
            raise SettingsError(f"{_var(self, 'pseudonym_secret')}: must be at least 16 "
                                "characters")
        _port(self, "port")
        if not 1024 <= self.max_body_bytes <= 16 * 1024 * 1024:
            raise _bad(self, "max_body_bytes", "must be between 1024 and 16777216")
        _at_least_one(self, "max_events")
        _positive(self, "body_timeout_s", "idle_timeout_s", "produce_timeout_s", "client_rate", "client_burst",
                  "site_rate", "site_burst")

    def site_configs(self) -> dict[str, SiteConfig]:
        """The parsed ``sites`` setting, by site key."""
        return parse_sites(self.sites)


@dataclass(frozen=True)
class WorkerSettings:
    web_port: int = setting("WORKER_WEB_PORT", "Port of a worker's /metrics, /healthz, /readyz "
                            "(Faust web).", 6066)

    def __post_init__(self) -> None:
        _port(self, "web_port")


@dataclass(frozen=True)
class SessionizerSettings:
    idle_s: float = setting("SESSION_IDLE_S", "Close a page session after this many seconds "
                            "without a batch.", 30.0)
    max_events: int = setting("SESSION_MAX_EVENTS", "Close a page session at this many events "
                              "(length cap; bounds memory and the `sessions` message size).",
                              20000)
    window_seconds: float = setting("SESSION_WINDOW_SECONDS", "Emit a rolling window for live "
                                    "scoring every this many seconds of movement of an open "
                                    "session (inter-event gaps each counted at most 0.25 s, the "
                                    "event time of the batches, not the wall clock; 0: by "
                                    "SESSION_WINDOW_EVENTS only).", 6.0)
    first_window_seconds: float = setting("SESSION_FIRST_WINDOW_SECONDS", "The first rolling "
                                          "window comes after this many seconds of movement (a "
                                          "page has a live score early), the next ones every "
                                          "SESSION_WINDOW_SECONDS (0: the first at "
                                          "SESSION_WINDOW_SECONDS too).", 4.0)
    window_events: int = setting("SESSION_WINDOW_EVENTS", "Most events of a rolling window: one "
                                 "goes out at this many new events even before "
                                 "SESSION_WINDOW_SECONDS of movement (bounds its message and "
                                 "work at any sampling rate; 0: no rolling windows).", 2048)
    first_window_events: int = setting("SESSION_FIRST_WINDOW_EVENTS", "Most events of the first "
                                       "rolling window (the bound for "
                                       "SESSION_FIRST_WINDOW_SECONDS; 0: SESSION_WINDOW_EVENTS).",
                                       1024)
    exit_grace_s: float = setting("SESSION_EXIT_GRACE_S", "Once a page's exit batch is in, "
                                  "wait this long (not SESSION_IDLE_S) for batches missing "
                                  "before it, then close the session as `exit` without them.",
                                  2.0)
    max_pending: int = setting("SESSION_MAX_PENDING", "Out-of-order batches held per session "
                               "before a sequence gap is given up on.", 64)
    tick_s: float = setting("SESSION_TICK_S", "Interval of the sessionizer's idle check (Faust "
                            "timer).", 2.0)

    def __post_init__(self) -> None:
        _positive(self, "idle_s", "tick_s")
        _at_least_one(self, "max_events", "max_pending")
        if self.window_events < 0:
            raise _bad(self, "window_events", "must be >= 0 (0: off)")
        if self.first_window_events < 0:
            raise _bad(self, "first_window_events", "must be >= 0 (0: off)")
        for name in ("window_seconds", "first_window_seconds"):
            if not getattr(self, name) >= 0:
                raise _bad(self, name, "must be >= 0 (0: off)")
        if self.exit_grace_s < 0:
            raise _bad(self, "exit_grace_s", "must be >= 0")


@dataclass(frozen=True)
class ScorerSettings:
    model_dir: Path = setting("MODEL_DIR", "Model directory the scorer loads (written by "
                              "`cursorprint train`).", Path(".cursorprint/models/current"))
    batch_size: int = setting("SCORER_BATCH_SIZE", "Most sessions per scorer micro-batch "
                              "(stream.take n).", 16)
    batch_within_s: float = setting("SCORER_BATCH_WITHIN_S", "Longest wait to fill a scorer "
                                    "micro-batch (stream.take within).", 0.25)
    alert_threshold: float = setting("ALERT_THRESHOLD", "Score above which a session becomes a "
                                     "fraud alert.", 0.8)
    site_thresholds: str = setting("SITE_THRESHOLDS", "Per-site alert thresholds "
                                   "`site=0.7,other=0.9` (override CURSORPRINT_ALERT_THRESHOLD).",
                                   "")
    bot_threshold: float = setting("BOT_THRESHOLD", "Bot score at or above which a session gets "
                                   "`automation_suspected` (and an alert); 0.5 is the bot "
                                   "model's calibrated threshold, 1 never flags.", FLAG_AT)
    site_bot_thresholds: str = setting("SITE_BOT_THRESHOLDS", "Per-site bot thresholds "
                                       "`site=0.7,other=0.9` (override "
                                       "CURSORPRINT_BOT_THRESHOLD).", "")
    head_cache_ttl_s: float = setting("HEAD_CACHE_TTL_S", "Seconds a cached user head is trusted "
                                      "before Redis is re-checked (a new head is used within "
                                      "this time).", 5.0)
    replay_check: bool = setting("REPLAY_CHECK", "Flag a session whose trajectory repeats an "
                                 "earlier session's (`replayed_trajectory`); fingerprints are "
                                 "kept in Redis.", True)
    replay_ttl_s: float = setting("REPLAY_TTL_S", "Seconds the replay check remembers a "
                                  "session's trajectory fingerprint in Redis.", 604800.0)

    def __post_init__(self) -> None:
        _at_least_one(self, "batch_size", "replay_ttl_s")
        _positive(self, "batch_within_s")
        for name in ("alert_threshold", "bot_threshold"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise _bad(self, name, "must be in [0, 1]")
        if self.head_cache_ttl_s < 0:
            raise _bad(self, "head_cache_ttl_s", "must be >= 0")
        # parsed (and checked) once, at start-up: the scorer looks thresholds up per session
        self._site_alert, self._site_bot  # noqa: B018

    @cached_property
    def _site_alert(self) -> dict[str, float]:
        return _site_values(self, "site_thresholds")

    @cached_property
    def _site_bot(self) -> dict[str, float]:
        return _site_values(self, "site_bot_thresholds")

    def thresholds(self) -> dict[str, float]:
        """Per-site alert thresholds from ``site_thresholds`` (sites not listed use the
        default)."""
        return dict(self._site_alert)

    def bot_thresholds(self) -> dict[str, float]:
        """Per-site bot thresholds from ``site_bot_thresholds`` (sites not listed use the
        default)."""
        return dict(self._site_bot)

    def threshold_for(self, site: str) -> float:
        """The alert threshold of ``site``."""
        return self._site_alert.get(site, self.alert_threshold)

    def bot_threshold_for(self, site: str) -> float:
        """The bot threshold of ``site`` (``automation_suspected`` at or above it)."""
        return self._site_bot.get(site, self.bot_threshold)


def _site_values(obj: Any, name: str) -> dict[str, float]:
    """``site=value,...`` of the field ``name``, each value in [0, 1]."""
    text = getattr(obj, name)
    out: dict[str, float] = {}
    for part in text.split(","):
        if not part.strip():
            continue
        site, sep, raw = part.strip().partition("=")
        try:
            value = float(raw)
        except ValueError:
            value = -1.0
        if not sep or not site.strip() or not 0.0 <= value <= 1.0:
            raise SettingsError(f"{_var(obj, name)}={text!r}: bad entry {part.strip()!r} "
                                f"(expected site=0..1)")
        out[site.strip()] = value
    return out


@dataclass(frozen=True)
class LiveScoreSettings:
    """Live scores in Redis: written by the scorer, read by the decision service."""

    enabled: bool = setting("LIVE_SCORES", "Keep each page session's scored parts in Redis for "
                            "the decision call (the scorer writes them after publishing).", True)
    ttl_s: float = setting("LIVE_SCORES_TTL_S", "Seconds a page session's live scores, owner "
                           "and label are kept after its last write.", 3600.0)
    max_parts: int = setting("LIVE_SCORES_MAX_PARTS", "Most scored parts kept per page session "
                             "(later new parts are dropped).", 256)
    min_trusted_seconds: float = setting("TRUSTED_MIN_SECONDS", "Seconds of movement a closed "
                                         "part needs before an owner_confirmed label sends it "
                                         "to trusted-sessions.", 5.0)
    max_trusted_parts: int = setting("TRUSTED_MAX_PARTS", "Most closed parts of one page "
                                     "session sent to trusted-sessions.", 4)

    def __post_init__(self) -> None:
        _positive(self, "ttl_s")
        _at_least_one(self, "max_parts", "max_trusted_parts")
        if self.min_trusted_seconds < 0:
            raise _bad(self, "min_trusted_seconds", "must be >= 0")


@dataclass(frozen=True)
class DecideSettings:
    """The decision + feedback service (``cursorprint decide serve``)."""

    sites: str = setting("DECIDE_SITES", "Sites' backends allowed to call /v1/decisions and "
                         "/v1/feedback: `site=apikey1|apikey2;...` or JSON `{\"site\": "
                         "{\"api_keys\": [...], \"step_up\": .., \"deny\": .., "
                         "\"min_seconds\": .., \"min_windows\": ..}}`; a key is 16+ characters "
                         "or `sha256:<hex>`. NOT the page-token secrets.", DEMO_DECIDE_SITES)
    step_up: float = setting("DECIDE_STEP_UP", "Default policy: score at or above which the "
                             "decision is step_up.", 0.5)
    deny: float = setting("DECIDE_DENY", "Default policy: score at or above which the decision "
                          "is deny.", 0.9)
    min_seconds: float = setting("DECIDE_MIN_SECONDS", "Default policy: seconds of movement "
                                 "below which the decision is not_enough_data.", 3.0)
    min_windows: int = setting("DECIDE_MIN_WINDOWS", "Default policy: scored windows below "
                               "which the decision is not_enough_data.", 1)
    host: str = setting("DECIDE_HOST", "Address the decision service listens on.", "127.0.0.1")
    port: int = setting("DECIDE_PORT", "Port of the decision service.", 8089)
    redis_timeout_s: float = setting("DECIDE_REDIS_TIMEOUT_S", "Redis connect and call timeout "
                                     "of the decision service (503 after).", 0.5)
    explain_url: str = setting("DECIDE_EXPLAIN_URL", "Template of explanation_url, `{sid}` "
                               "replaced by the page-session id (empty: null).", "")
    labels_max: int = setting("DECIDE_LABELS_MAX", "Most feedback labels kept in Redis for "
                              "evaluation (oldest dropped).", 1000000)

    def __post_init__(self) -> None:
        _port(self, "port")
        _positive(self, "redis_timeout_s")
        _at_least_one(self, "labels_max")
        try:
            self.site_configs()
        except ValueError as exc:
            raise SettingsError(f"{_var(self, 'sites')}: {exc}") from None
        if self.explain_url and "{sid}" not in self.explain_url:
            raise _bad(self, "explain_url", "must contain {sid}")

    def default_policy(self) -> SitePolicy:
        try:
            return SitePolicy(self.step_up, self.deny, self.min_seconds, self.min_windows)
        except ValueError as exc:
            raise SettingsError(f"{_var(self, 'step_up')}/{_var(self, 'deny')}/"
                                f"{_var(self, 'min_seconds')}/{_var(self, 'min_windows')}: "
                                f"{exc}") from None

    def site_configs(self) -> dict[str, DecideSite]:
        """The parsed ``sites`` setting, by site key."""
        return parse_decide_sites(self.sites, self.default_policy())


SECTIONS: dict[str, type] = {
    "general": GeneralSettings, "kafka": KafkaSettings, "redis": RedisSettings,
    "topics": TopicSettings, "local_stack": LocalStackSettings, "ingest": IngestSettings,
    "worker": WorkerSettings, "sessionizer": SessionizerSettings, "scorer": ScorerSettings,
    "live": LiveScoreSettings, "decide": DecideSettings,
}
