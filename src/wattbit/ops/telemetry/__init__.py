"""Per-GPU and per-site telemetry of the twin under the names operators' tools use (DCGM, Prometheus)."""
