"""Self-healing and live watt-bit control: actions, their safety rules, the audit log and the playbooks.

- :mod:`wattbit.ops.heal.actions` — what the loop may do (kinds, idempotency keys, which are destructive, modes);
- :mod:`wattbit.ops.heal.audit` — actions, approvals, the audit log and the loop's state in SQLite (WAL);
- :mod:`wattbit.ops.heal.safety` — rate limits, the share of a site that may be drained, no flapping;
- :mod:`wattbit.ops.heal.playbooks` — drain, requeue or move, resume after repair and burn-in, lemon quarantine;
- :mod:`wattbit.ops.heal.execute` — applying approved actions once, and reconciling after a crash;
- :mod:`wattbit.ops.heal.plan` — the plan by rules over the live signals (``ops run --plan rules``);
- :mod:`wattbit.ops.heal.mpc_plan` — the mpc policy's decisions as scheduler and power actions;
- :mod:`wattbit.ops.heal.mpc_live` — mpc deciding from the live scheduler and signals (``ops run --plan mpc``);
- :mod:`wattbit.ops.heal.live_loop` — the live loop inside the engine: its carbon and cost against ``wattbit bench``;
- :mod:`wattbit.ops.heal.evaluate` — ``wattbit ops heal-evaluate``, the fast path.

See ``docs/operations.md``.
"""
