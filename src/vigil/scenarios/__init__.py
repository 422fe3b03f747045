"""Competing scenarios: specs, Bayesian updating, ACH and sensitivity, simulation."""
