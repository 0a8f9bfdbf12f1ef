"""Live operations: the twin as a live site, telemetry under DCGM names, detection and failure prediction.

- :mod:`wattbit.ops.telemetry` — the per-GPU telemetry model (thermal model, fault signatures with precursors, the
  healthy fleet's noise) and its rendering in dcgm-exporter's text format;
- :mod:`wattbit.ops.adapters` — the twin served over HTTP, a real Prometheus started and queried, a read-only NVML
  source;
- :mod:`wattbit.ops.detect` — detectors over sample streams, alerts, the watcher and the evaluation;
- :mod:`wattbit.ops.store` — alerts and the watcher's state in SQLite (WAL).

See ``docs/operations.md``.
"""
