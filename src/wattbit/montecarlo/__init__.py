"""A generic Monte Carlo engine: named input distributions, seeded draws independent of the executor, any picklable
model ``draw -> outputs`` run through :mod:`wattbit.parallel`, percentiles and a one-at-a-time tornado.

Modules: ``distributions`` (the distributions and how a scenario names them) and ``engine`` (draws, runs,
summaries). The planner's use of it is :mod:`wattbit.plan.uncertainty`; docs: ``docs/uncertainty.md``.
"""
