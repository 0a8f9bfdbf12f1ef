"""Self-healing and live watt-bit control: actions, their safety rules, the audit log and the playbooks.

- :mod:`wattbit.ops.heal.actions` — what the loop may do (kinds, idempotency keys, which are destructive, modes);
- :mod:`wattbit.ops.heal.audit` — actions, approvals, the audit log and the loop's state in SQLite (WAL);
- :mod:`wattbit.ops.heal.safety` — rate limits, the share of a site that may be drained, no flapping;
- :mod:`wattbit.ops.heal.playbooks` — drain, requeue or move, resume after repair and burn-in, lemon quarantine;
- :mod:`wattbit.ops.heal.execute` — applying approved actions once, and reconciling after a crash;
- :mod:`wattbit.ops.heal.plan` — the mpc policy's decisions as scheduler actions;
- :mod:`wattbit.ops.heal.evaluate` — ``wattbit ops heal-evaluate``, the fast path.

See ``docs/operations.md``.
"""
