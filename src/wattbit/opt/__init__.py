"""The optimisation models, one home: the watt-bit dispatch programme (:mod:`wattbit.opt.dispatch`, used by the
``mpc`` and ``oracle`` policies) and the capacity programme (:mod:`wattbit.opt.capacity`, used by the planner), each
written once as ``define_*`` functions per family of constraints, with build, solve and read-back apart.
"""
