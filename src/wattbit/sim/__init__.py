"""The engine: fleet state, time stepping, faults, metrics."""
