"""Adapters to the world outside: the twin over HTTP, a real Prometheus, a real GPU through NVML (read-only)."""
