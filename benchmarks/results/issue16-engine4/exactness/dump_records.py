import sys
from dataclasses import fields

import numpy as np

from wattbit.control import make_policy
from wattbit.scenario import load_scenario, with_period
from wattbit.sim.faults import FailureRates
from wattbit.sim.faults.rates import LLAMA3_PER_GPU_DAY
from wattbit.sim.run import make_engine, prepare

out, policy, a, b, mult = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], float(sys.argv[5])
sc = with_period(load_scenario(sys.argv[6] if len(sys.argv) > 6 else "japan-2022"), a, b)
inputs = prepare(sc, failure_rates=FailureRates(unplanned_per_gpu_day=mult * LLAMA3_PER_GPU_DAY))
eng = make_engine(inputs, make_policy(policy))
eng.fused = len(sys.argv) < 8
eng.run()
d = {}
for rec, pre in ((eng.jobs_rec, "j_"), (eng.rec, "s_")):
    for f in fields(rec):
        d[pre + f.name] = np.asarray(getattr(rec, f.name))
d["running"] = np.array(list(eng.running))
d["queue"] = np.array(eng.queue)
d["rng"] = np.array(str(eng.rng.bit_generator.state))
np.savez(out, **d)
