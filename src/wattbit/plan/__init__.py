"""Planning: project finance (:mod:`wattbit.plan.finance`) — cash flows, NPV, IRR, payback, LCOE, cost per GPU-hour.

Modules: ``components`` (capital components, one operating year), ``depreciation``, ``tax``, ``incentives``,
``financing`` (loan, WACC), ``metrics`` (NPV, IRR, MIRR, payback), ``capital`` (yearly capital flows) and
``finance`` (the project and its evaluation). Formulas and sources: ``docs/finance.md``.
"""
