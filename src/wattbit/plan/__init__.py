"""Planning: which candidate sites to build and how much IT, PV, wind, battery and grid connection at each
(:mod:`wattbit.plan.planner`), the finance of the chosen plan (:mod:`wattbit.plan.evaluate`, on
:mod:`wattbit.finance`) and its Monte Carlo (:mod:`wattbit.plan.uncertainty`). The optimisation itself lives in
:mod:`wattbit.opt`. Formulation and sources: ``docs/planner.md``.
"""
