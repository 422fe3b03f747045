"""A Spark session for the tests, started once per test session (startup costs seconds).

Import the fixture into a test module (``from spark_fixtures import spark  # noqa: F401``);
tests that use it are skipped, saying why, when pyspark or a Java runtime is missing.
"""

from __future__ import annotations

import os
import sys

import pytest


@pytest.fixture(scope="session")
def spark():
    """A ``local[2]`` Spark session whose Python workers run this interpreter."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        pytest.skip("pyspark is not installed (pip install -e '.[spark]')")
    from vigil.query.spark import java_home, spark_session

    if not java_home():
        pytest.skip("no Java runtime (17 or 21) for Spark: run `make install-java`")
    # Workers must import vigil: this interpreter, not the first python3 on the PATH.
    before = os.environ.get("PYSPARK_PYTHON")
    os.environ["PYSPARK_PYTHON"] = sys.executable
    session = spark_session("local[2]")
    yield session
    session.stop()
    if before is None:
        os.environ.pop("PYSPARK_PYTHON", None)
    else:
        os.environ["PYSPARK_PYTHON"] = before
