"""Helpers shared by the benchmark scripts (imported from the scripts' own folder)."""

from __future__ import annotations

import os


def pin_two_cores() -> str:
    """Restrict this process to two CPUs where the OS allows it (the goals are for 2 cores)."""
    if hasattr(os, "sched_setaffinity"):
        cpus = sorted(os.sched_getaffinity(0))[:2]
        os.sched_setaffinity(0, cpus)
        return f"cpus {cpus}"
    return "affinity not supported: all cores"
