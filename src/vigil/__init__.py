"""Vigil: an open, auditable early-warning system for armed-conflict escalation."""

__version__ = "0.1.0"
