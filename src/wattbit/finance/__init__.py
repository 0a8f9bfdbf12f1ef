"""Project finance: cash flows, NPV, IRR, payback, LCOE, cost per GPU-hour (pure functions; no planner inside).

Modules: ``components`` (capital components, one operating year), ``depreciation``, ``tax``, ``incentives``,
``financing`` (loan, WACC), ``metrics`` (NPV, IRR, MIRR, payback), ``capital`` (yearly capital flows), ``costs``
(equivalent annual costs, currency) and ``project`` (the project and its evaluation). Formulas and sources:
``docs/finance.md``.
"""
