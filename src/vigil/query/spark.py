"""Spark as the engine of the evidence queries (``--engine spark``).

Which Spark: ``master`` is what ``spark-submit --master`` takes —

* ``local[2]`` (the default; ``local[*]`` for every core): Spark in this process's JVM,
  for tests and for one large machine;
* ``spark://host:7077``: a standalone cluster; the lake (:mod:`vigil.query.lake`) must
  then be on a path every worker sees (a shared mount);
* ``sc://host:15002``: a Spark Connect server (pyspark's thin client; the server reads
  the lake, so the path is the server's).

Spark reads the store through its Parquet mirror, kept in step before each use. The
queries themselves are the same Ibis expressions DuckDB runs (:mod:`vigil.query.tables`),
executed by Ibis's PySpark backend; ``tests/test_engine_parity.py`` requires identical
indicator states and scores on both engines over the real data.

Spark needs a Java runtime (17 or 21) and pyspark 4.0 (Ibis 12 supports < 4.1); ``make
install`` sets both up. The session runs in UTC: a record's day is the UTC date of its
timestamp, as in DuckDB.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import os
import re
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

from vigil.errors import UsageError, VigilError
from vigil.query.engine import IbisEngine
from vigil.query.lake import Lake, Synced
from vigil.query.tables import TABLES

DEFAULT_MASTER = "local[2]"
#: settings every session gets: UTC days, no web UI or progress bars in a terminal, and a
#: shuffle width for one machine (Spark's default of 200 partitions costs seconds per
#: query on small data; a cluster's own spark-defaults.conf wins where it sets one)
_CONF = {
    "spark.sql.session.timeZone": "UTC",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.ansi.enabled": "false",
}
_LOCAL_CONF = {"spark.sql.shuffle.partitions": "4", "spark.default.parallelism": "4"}


def check_available(master: str = DEFAULT_MASTER) -> None:
    """Fail with what to install when pyspark, a usable Java runtime or (for Spark
    Connect) its client is missing."""
    try:
        import pyspark  # noqa: F401
    except ImportError as exc:
        raise UsageError(
            "--engine spark needs pyspark, which is not installed",
            "run `make install` (it installs the [spark] extra), or pip install -e '.[spark]'",
        ) from exc
    home = os.environ.get("JAVA_HOME")
    if home and not (Path(home) / "bin" / "java").exists():
        raise UsageError(
            f"JAVA_HOME={home} has no bin/java, and Spark starts the Java it names",
            "point JAVA_HOME at a Java 17 or 21 runtime, or unset it to use the java on PATH",
        )
    if not java_home():
        raise UsageError(
            "--engine spark needs a Java runtime (17 or 21) and none was found",
            "run `make install-java` (Debian's headless JRE) or set JAVA_HOME",
        )
    version = java_version()
    if version is not None and version not in JAVA_VERSIONS:
        raise UsageError(
            f"--engine spark needs Java 17 or 21, and the Java found is {version}",
            "point JAVA_HOME at a Java 17 or 21 runtime (`make install-java` installs 17)",
        )
    if master.startswith("sc://"):
        try:
            import grpc  # noqa: F401
        except ImportError as exc:
            raise UsageError(
                "a Spark Connect master (sc://…) needs pyspark's Connect client",
                "pip install 'pyspark[connect]==4.0.5' in Vigil's environment",
            ) from exc


def java_home() -> str | None:
    """Where Java is: ``JAVA_HOME`` or the ``java`` on PATH (None: no Java)."""
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").exists():
        return home
    java = shutil.which("java")
    return str(Path(java).resolve().parents[1]) if java else None


#: the Java releases Spark 4.0 runs on
JAVA_VERSIONS = (17, 21)


def java_version() -> int | None:
    """The major version of the Java Spark will start (None: it could not be read, and
    Spark's own start then says what is wrong)."""
    return _java_major(str(Path(java_home() or "") / "bin" / "java"))


@functools.lru_cache(maxsize=8)
def _java_major(java: str) -> int | None:
    """``java -version`` read once per process and binary (a JVM start costs ~0.1 s)."""
    try:
        out = subprocess.run(
            [java, "-version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    found = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    if not found:
        return None
    major = int(found.group(1))
    return int(found.group(2)) if major == 1 and found.group(2) else major  # "1.8" is 8


def spark_session(master: str = DEFAULT_MASTER, conf: dict[str, str] | None = None):
    """A Spark session for ``master`` (module docstring), created once per process. A
    master that cannot be started or reached is a :class:`UsageError` naming it, with
    Spark's own reason, not a page of Java."""
    check_available(master)
    try:
        return _session(master, conf)
    except Exception as exc:  # Py4J, PySpark and Java errors alike: name the master
        reason = str(exc).strip().splitlines()
        raise UsageError(
            f"could not start Spark with master {master!r}: "
            + (reason[0][:300] if reason else type(exc).__name__),
            "check --spark-master (local[2], spark://host:7077 or sc://host:15002) and that "
            "the master is up and reachable; --debug shows Spark's log",
        ) from exc


def _session(master: str, conf: dict[str, str] | None):
    from pyspark.sql import SparkSession

    if master.startswith("local"):
        # Spark's Python workers (distributed text matching, border distances) run Vigil's
        # own functions: in local mode, in this interpreter, not the first python3 on PATH
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    if master.startswith("sc://"):
        builder = SparkSession.builder.remote(master)
    else:
        builder = SparkSession.builder.master(master).appName("vigil")
        for key, value in (_LOCAL_CONF if master.startswith("local") else {}).items():
            builder = builder.config(key, value)
    for key, value in {**_CONF, **(conf or {})}.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    if not master.startswith("sc://"):
        session.sparkContext.setLogLevel("ERROR")
    return session


class SparkEngine(IbisEngine):
    """Spark over the lake of one store: :meth:`sync` brings the mirror in step and
    (re)registers each table as a view of its folder."""

    def __init__(self, session, lake: Lake) -> None:
        import ibis

        super().__init__(ibis.pyspark.connect(session), name="spark")
        self.session, self.lake = session, lake
        self._views: set[str] = set()

    def sync(self, store, tables=None) -> Synced:
        """Mirror the store's evidence (``tables``: only these) into the lake and point the
        views at it."""
        synced = self.lake.sync(store, tables)
        for table in TABLES:
            folder = self.lake.folder(table)
            changed = synced.written.get(table) or synced.removed.get(table)
            if folder.exists() and (changed or table not in self._views):
                # a view lists its files when made: one whose files changed is made again
                self.session.read.parquet(str(folder)).createOrReplaceTempView(table)
                self._views.add(table)
        return synced

    def execute(self, expr):
        with _quiet():
            return super().execute(expr)

    def execute_spark(self, frame):
        """A Spark DataFrame (a job written against Spark itself) as a pandas frame."""
        with _quiet():
            return frame.toPandas()

    def has_table(self, name: str) -> bool:
        return self.session.catalog.tableExists(name)


@contextlib.contextmanager
def _quiet():
    """pyspark 4.0's toPandas calls pandas APIs that pandas 3 deprecates, and leaves the
    socket it collected through unclosed (one per query). The warnings are Spark's to fix
    and a user of ``--engine spark`` cannot act on them; the socket is closed here by
    collecting it, so its warning does not surface later in unrelated code."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"pyspark\.")
        warnings.filterwarnings("ignore", message=".*'future.infer_string' option")
        warnings.filterwarnings("ignore", message="unclosed <socket", category=ResourceWarning)
        try:
            yield
        finally:
            gc.collect()


def open_spark(store, lake_dir: Path, master: str = DEFAULT_MASTER) -> SparkEngine:
    """A Spark engine over ``store``'s lake in ``lake_dir``, synced. The lake's path must
    read the same to Spark (no glob or URI characters)."""
    if any(c in str(lake_dir) for c in "[]{}*?:,"):
        raise UsageError(
            f"lake folder {lake_dir} has a character Spark reads as a pattern or URI",
            "give --lake (VIGIL_LAKE) a path of letters, digits, '-', '_', '.' and '/'",
        )
    session = spark_session(master)
    try:
        engine = SparkEngine(session, Lake(lake_dir))
        engine.sync(store)
    except VigilError:
        raise
    except Exception as exc:  # a master accepted at start that then fails (unreachable)
        reason = str(exc).strip().splitlines()
        raise UsageError(
            f"Spark with master {master!r} failed: "
            + (reason[0][:300] if reason else type(exc).__name__),
            "check that the master is up and reachable; --debug shows Spark's log",
        ) from exc
    return engine
