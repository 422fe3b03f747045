"""What `--engine spark` checks before it starts anything: pyspark, Java and its version
(fake `java` executables: no JVM is started)."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize(
    ("banner", "ok"),
    [
        ('openjdk version "17.0.15" 2025-04-15', True),
        ('openjdk version "21.0.2" 2024-01-16', True),
        ('openjdk version "25" 2025-09-16', False),
        ('java version "1.8.0_402"', False),
    ],
)
def test_spark_refuses_a_java_it_cannot_run_on(tmp_path, monkeypatch, banner, ok) -> None:
    """Spark 4.0 runs on Java 17 or 21: another one is named before anything starts."""
    pytest.importorskip("pyspark")
    from vigil.errors import UsageError
    from vigil.query import spark

    home = tmp_path / "jdk"
    (home / "bin").mkdir(parents=True)
    java = home / "bin" / "java"
    java.write_text(f"#!/bin/sh\necho '{banner}' >&2\n")
    java.chmod(0o755)
    monkeypatch.setenv("JAVA_HOME", str(home))
    if ok:
        spark.check_available()
    else:
        with pytest.raises(UsageError, match="needs Java 17 or 21"):
            spark.check_available()


def test_a_java_home_without_java_is_named(tmp_path, monkeypatch) -> None:
    pytest.importorskip("pyspark")
    from vigil.errors import UsageError
    from vigil.query import spark

    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "nowhere"))
    with pytest.raises(UsageError, match="has no bin/java"):
        spark.check_available()
