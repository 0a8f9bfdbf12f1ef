"""Time the japan-2022 baseline year's engine loop (CPU and wall) with whatever wattbit is on PYTHONPATH."""

import json
import os
import time

from wattbit.scenario import load_scenario

try:
    from wattbit.control import make_policy

    policy = make_policy("baseline")
except Exception:
    from wattbit.sim.policy import BaselinePolicy

    policy = BaselinePolicy()
from wattbit.sim.run import simulate

scenario = load_scenario("japan-2022")
steps = len(scenario.period.index_utc())
marks, cpu = {}, {}


def progress(k):
    if k == 0 or k == steps - 1:
        marks[k] = time.perf_counter()
        cpu[k] = time.process_time()


t0, c0 = time.perf_counter(), time.process_time()
res = simulate(scenario, policy, progress=progress)
t1, c1 = time.perf_counter(), time.process_time()
f = steps / (steps - 1)
s = res.summary
print(
    json.dumps(
        {
            "path": os.environ.get("PYTHONPATH"),
            "loop_cpu_s": round((cpu[steps - 1] - cpu[0]) * f, 3),
            "loop_wall_s": round((marks[steps - 1] - marks[0]) * f, 3),
            "total_cpu_s": round(c1 - c0, 3),
            "jobs_completed": s.get("jobs_completed"),
            "gpu_util": s.get("gpu_utilisation", s.get("gpu_utilization")),
            "load": os.getloadavg()[0],
        }
    )
)
