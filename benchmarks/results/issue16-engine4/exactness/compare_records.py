import sys

import numpy as np

a, b = np.load(sys.argv[1]), np.load(sys.argv[2])
bad = 0
for k in a.files:
    if not np.array_equal(a[k], b[k], equal_nan=a[k].dtype.kind == "f"):
        bad += 1
        print("DIFF", k)
print("differences", bad, "of", len(a.files))
