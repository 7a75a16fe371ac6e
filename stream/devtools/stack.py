"""Local stack for dev, demo and tests: a real Kafka broker (KRaft) and a real redis-server.

Kafka's jars come from Maven Central once (``stream/devtools/kafka/pom.xml``) and are cached; the broker runs
with ``java -cp`` as one combined broker+controller with its log directory under the stack's home,
so data survives a restart. Redis is the OS package's ``redis-server`` on a private port and dir.
Processes are started in their own session and recorded in pid files, so ``down`` stops exactly
the processes ``up`` started, and a second ``up`` reuses what already runs.

One module for both services (a little over 300 lines): ``up``, ``down`` and ``status`` treat
them alike, and the Kafka half (jars, config, cluster id) is what makes it long.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cursorprint.stream.devtools.processes import (
    alive,
    free_port,
    port_open,
    read_pid,
    signal_group,
    wait_gone,
)
from cursorprint.stream.records.errors import CursorprintError
from cursorprint.stream.records.topics import (
    SESSIONIZER_ROLES,
    TICKS_RETENTION_MS,
    TopicSpec,
    app_id,
    ticks_topic,
    topic_specs,
)
from cursorprint.stream.settings import Settings, load_settings

__all__ = ["Stack", "StackError", "ServiceStatus", "free_port", "private_settings"]

log = logging.getLogger(__name__)
POM = Path(__file__).resolve().parent / "kafka" / "pom.xml"


class StackError(CursorprintError, RuntimeError):
    """The local stack could not be started or stopped; the message says what to do."""


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    pid: int | None
    port: int
    answering: bool
    ours: bool


KAFKA_HEAP_DEFAULT = "-Xms768m -Xmx768m -XX:+AlwaysPreTouch"


def _java_major() -> int:
    java = shutil.which("java")
    if not java:
        raise StackError("Java 17+ is needed for the local Kafka broker: `java` is not on PATH "
                         "(Debian: apt-get install openjdk-17-jre-headless)")
    out = subprocess.run([java, "-version"], capture_output=True, text=True).stderr
    # e.g. 'openjdk version "17.0.15" 2025-04-15'
    try:
        ver = out.split('"')[1]
        major = int(ver.split(".")[0]) if not ver.startswith("1.") else int(ver.split(".")[1])
    except (IndexError, ValueError):
        raise StackError(f"could not read the Java version from: {out.strip()[:200]}") from None
    return major


class Stack:
    """Starts, inspects and stops the local Kafka + Redis described by ``settings``."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.home = settings.home.resolve()
        self.kafka_dir = self.home / "kafka"
        self.redis_dir = self.home / "redis"
        self.jars = settings.local_stack.kafka_jars.resolve()

    # ---------- Kafka ----------
    def ensure_jars(self) -> Path:
        """Fetch the broker jars through Maven once; later calls reuse the cache."""
        marker = self.jars / ".complete"
        if marker.exists():
            return self.jars
        if _java_major() < 17:
            raise StackError("Java 17+ is needed for the local Kafka broker; found an older java")
        mvn = shutil.which("mvn")
        if not mvn:
            raise StackError("Maven (`mvn`) is needed once to fetch the Kafka jars from Maven "
                             "Central (Debian: apt-get install maven)")
        self.jars.mkdir(parents=True, exist_ok=True)
        log.info("fetching Kafka jars into %s", self.jars)
        proc = subprocess.run([mvn, "-q", "-B", "-f", str(POM), "dependency:copy-dependencies",
                               f"-DoutputDirectory={self.jars}", "-DincludeScope=runtime"],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            raise StackError(f"mvn could not fetch the Kafka jars:\n{proc.stdout[-2000:]}"
                             f"{proc.stderr[-2000:]}")
        marker.write_text("ok\n")
        return self.jars

    def _kafka_config(self) -> Path:
        s = self.settings
        data = self.kafka_dir / "data"
        cfg = self.kafka_dir / "server.properties"
        props = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@127.0.0.1:{s.local_stack.kafka_controller_port}",
            "listeners": f"PLAINTEXT://127.0.0.1:{s.local_stack.kafka_port},"
                         f"CONTROLLER://127.0.0.1:{s.local_stack.kafka_controller_port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{s.local_stack.kafka_port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "log.dirs": str(data),
            "num.partitions": str(s.topics.partitions),
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "4",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
            "auto.create.topics.enable": "true",
            "log.retention.hours": str(s.topics.retention_hours),
            "log.flush.interval.messages": "1",
        }
        self.kafka_dir.mkdir(parents=True, exist_ok=True)
        cfg.write_text("".join(f"{k}={v}\n" for k, v in props.items()))
        log4j = self.kafka_dir / "log4j2.properties"
        log4j.write_text(
            "status = warn\nappender.out.type = Console\nappender.out.name = OUT\n"
            "appender.out.layout.type = PatternLayout\n"
            "appender.out.layout.pattern = [%d] %p %m (%c)%n\n"
            "rootLogger.level = INFO\nrootLogger.appenderRef.out.ref = OUT\n"
            "logger.kafka.name = kafka\nlogger.kafka.level = WARN\n"
            "logger.apache.name = org.apache.kafka\nlogger.apache.level = WARN\n")
        if not (data / "meta.properties").exists():
            cluster = self.kafka_dir / "cluster.id"
            if not cluster.exists() or cluster.read_text().startswith("-"):
                cluster.write_text(_kafka_cluster_id())   # (never formatted: safe to replace)
            proc = subprocess.run(
                ["java", f"-Dlog4j2.configurationFile={log4j}", "-cp", f"{self.jars}/*",
                 "kafka.tools.StorageTool", "format", "-t", cluster.read_text().strip(),
                 "-c", str(cfg)], capture_output=True, text=True)
            if proc.returncode != 0:
                raise StackError(f"kafka storage format failed:\n{proc.stdout}{proc.stderr}")
        return cfg

    def start_kafka(self, timeout: float = 90.0) -> None:
        pidfile = self.kafka_dir / "kafka.pid"
        if alive(read_pid(pidfile)):
            self._wait_kafka(timeout)
            return
        if port_open(self.settings.local_stack.kafka_port):
            if self._kafka_answers():
                log.info("Kafka already answers on port %d (not started by this stack)",
                         self.settings.local_stack.kafka_port)
                return
            raise StackError(f"port {self.settings.local_stack.kafka_port} is taken by another program; set "
                             "CURSORPRINT_KAFKA_PORT to a free port")
        self.ensure_jars()
        cfg = self._kafka_config()
        logf = open(self.kafka_dir / "kafka.log", "ab")
        # a fixed, pre-touched heap (Kafka's own start script also sets -Xms = -Xmx): the broker's
        # memory is known from the start instead of creeping up as the JVM grows its heap
        heap = os.environ.get("KAFKA_HEAP_OPTS", KAFKA_HEAP_DEFAULT)
        proc = subprocess.Popen(
            ["java", *heap.split(), "-XX:+UseG1GC", "-Djava.awt.headless=true",
             f"-Dlog4j2.configurationFile={self.kafka_dir / 'log4j2.properties'}",
             "-cp", f"{self.jars}/*", "kafka.Kafka", str(cfg)],
            stdout=logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True)
        pidfile.write_text(str(proc.pid))
        self._wait_kafka(timeout, proc)

    def _kafka_answers(self) -> bool:
        from kafka import KafkaAdminClient
        from kafka.errors import KafkaError
        try:
            admin = KafkaAdminClient(bootstrap_servers=self.settings.kafka.bootstrap_list,
                                     request_timeout_ms=3000)
        except (KafkaError, ValueError, OSError):
            return False
        try:
            admin.describe_cluster()
            return True
        except (KafkaError, OSError):
            return False
        finally:
            admin.close()

    def _wait_kafka(self, timeout: float, proc: subprocess.Popen[bytes] | None = None) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc is not None and proc.poll() is not None:
                tail = (self.kafka_dir / "kafka.log").read_text(errors="replace")[-3000:]
                raise StackError(f"Kafka exited with code {proc.returncode}:\n{tail}")
            if port_open(self.settings.local_stack.kafka_port) and self._kafka_answers():
                return
            time.sleep(0.5)
        raise StackError(f"Kafka did not answer within {timeout:.0f}s; see "
                         f"{self.kafka_dir / 'kafka.log'}")

    def create_topics(self) -> list[str]:
        """Create the project's topics that do not exist yet; returns the ones created."""
        from kafka import KafkaAdminClient
        from kafka.admin import NewTopic
        from kafka.errors import TopicAlreadyExistsError

        admin = KafkaAdminClient(bootstrap_servers=self.settings.kafka.bootstrap_list)
        try:
            existing = set(admin.list_topics())
            # the sessionizer apps' tick topics too: Faust would create them at start-up, but a
            # worker whose first partition assignment comes before the new topic is in the
            # broker's metadata ignores it ("Ignoring missing topic") until the next rebalance,
            # and then no idle session closes
            ticks = [TopicSpec(ticks_topic(app_id(role)), self.settings.topics.partitions,
                               TICKS_RETENTION_MS) for role in SESSIONIZER_ROLES]
            wanted = [t for t in [*topic_specs(self.settings.topics.partitions,
                                               self.settings.topics.retention_hours), *ticks]
                      if t.name not in existing]
            if wanted:
                try:
                    admin.create_topics([
                        NewTopic(t.name, t.partitions, 1,
                                 topic_configs={"retention.ms": str(t.retention_ms)})
                        for t in wanted])
                except TopicAlreadyExistsError:
                    pass
            return [t.name for t in wanted]
        finally:
            admin.close()

    # ---------- Redis ----------
    def start_redis(self, timeout: float = 20.0) -> None:
        pidfile = self.redis_dir / "redis.pid"
        port = self.settings.local_stack.redis_port
        if alive(read_pid(pidfile)):
            self._wait_redis(timeout)
            return
        if port_open(port):
            if self._redis_answers():
                log.info("Redis already answers on port %d (not started by this stack)", port)
                return
            raise StackError(f"port {port} is taken by another program; set "
                             "CURSORPRINT_REDIS_PORT to a free port")
        server = shutil.which("redis-server")
        if not server:
            raise StackError("redis-server is not installed (Debian: apt-get install redis-server)")
        self.redis_dir.mkdir(parents=True, exist_ok=True)
        logf = open(self.redis_dir / "redis.log", "ab")
        proc = subprocess.Popen(
            [server, "--bind", "127.0.0.1", "--port", str(port), "--dir", str(self.redis_dir),
             "--daemonize", "no", "--appendonly", "yes", "--save", "60 1",
             "--protected-mode", "yes"],
            stdout=logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True)
        pidfile.write_text(str(proc.pid))
        self._wait_redis(timeout, proc)

    def _redis_answers(self) -> bool:
        import redis
        try:
            return bool(redis.Redis(host="127.0.0.1", port=self.settings.local_stack.redis_port,
                                    socket_timeout=1).ping())
        except (redis.RedisError, OSError):
            return False

    def _wait_redis(self, timeout: float, proc: subprocess.Popen[bytes] | None = None) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc is not None and proc.poll() is not None:
                tail = (self.redis_dir / "redis.log").read_text(errors="replace")[-2000:]
                raise StackError(f"redis-server exited with code {proc.returncode}:\n{tail}")
            if self._redis_answers():
                return
            time.sleep(0.2)
        raise StackError(f"Redis did not answer PING within {timeout:.0f}s")

    # ---------- whole stack ----------
    def up(self) -> None:
        self.start_redis()
        self.start_kafka()
        self.create_topics()

    def stop_kafka(self, timeout: float = 60.0, hard: bool = False) -> None:
        self._stop(self.kafka_dir / "kafka.pid", self.settings.local_stack.kafka_port, timeout, hard)

    def stop_redis(self, timeout: float = 20.0) -> None:
        self._stop(self.redis_dir / "redis.pid", self.settings.local_stack.redis_port, timeout, False)

    def down(self) -> None:
        self.stop_kafka()
        self.stop_redis()

    def _stop(self, pidfile: Path, port: int, timeout: float, hard: bool) -> None:
        pid = read_pid(pidfile)
        if alive(pid):
            assert pid is not None
            signal_group(pid, signal.SIGKILL if hard else signal.SIGTERM)
            if not wait_gone(pid, timeout):
                log.warning("pid %d ignored SIGTERM for %.0fs; killing it", pid, timeout)
                signal_group(pid, signal.SIGKILL)
                if not wait_gone(pid, 30.0):
                    raise StackError(f"pid {pid} survived SIGKILL for 30 s")
        pidfile.unlink(missing_ok=True)
        if pid is not None:
            deadline = time.monotonic() + 10
            while port_open(port) and time.monotonic() < deadline:
                time.sleep(0.1)

    def status(self) -> list[ServiceStatus]:
        kpid = read_pid(self.kafka_dir / "kafka.pid")
        rpid = read_pid(self.redis_dir / "redis.pid")
        return [
            ServiceStatus("kafka", kpid if alive(kpid) else None, self.settings.local_stack.kafka_port,
                          port_open(self.settings.local_stack.kafka_port) and self._kafka_answers(),
                          alive(kpid)),
            ServiceStatus("redis", rpid if alive(rpid) else None, self.settings.local_stack.redis_port,
                          self._redis_answers(), alive(rpid)),
        ]

    def connection_env(self) -> dict[str, str]:
        """The settings a client needs to reach this stack, as environment variables."""
        return {"CURSORPRINT_KAFKA_BOOTSTRAP": self.settings.kafka.bootstrap,
                "CURSORPRINT_REDIS_URL": self.settings.redis.url}


def _kafka_cluster_id() -> str:
    """A Kafka cluster id: 16 random bytes, URL-safe base64 without padding (22 chars).

    Never starting with "-" (as Kafka's own ``Uuid.randomUuid``): the storage tool's argument
    parser would take such an id for an option, and 1 in 64 formats failed.
    """
    import base64
    while True:
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cid.startswith("-"):
            return cid


def private_settings(home: Path, kafka_jars: Path, partitions: int = 2,
                     **overrides: Any) -> Settings:
    """Settings of a stack of one's own, for tests and benchmarks: free ports, ``home`` for its
    data, the Kafka jars of ``kafka_jars`` (a shared cache), no environment variables read;
    ``overrides`` as :func:`~cursorprint.stream.settings.load_settings` takes them."""
    kafka_port, redis_port = free_port(), free_port()
    return load_settings(environ={}, home=home, kafka_jars=kafka_jars, kafka_port=kafka_port,
                         kafka_controller_port=free_port(),
                         kafka_bootstrap=f"127.0.0.1:{kafka_port}", redis_port=redis_port,
                         redis_url=f"redis://127.0.0.1:{redis_port}/0",
                         topic_partitions=partitions, **overrides)
