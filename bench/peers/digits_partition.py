"""The digits data as a fedc program partitioned it: each client's records
(features float32, labels int64) from the --dump-partition file, and the
cohorts of each round. Shared by the NumPy peers and the tests' references."""
import gzip
import json

import numpy as np


def load(digits_csv_gz, partition_json):
    """Returns (clients, cohorts): clients[i] = (x float32 [n, 64], y int64
    [n]) in the order of the dump; cohorts = one list of client indices per
    round."""
    with gzip.open(digits_csv_gz, "rt") as f:
        data = np.loadtxt(f, delimiter=",", dtype=np.float64)
    x_all = data[:, :64].astype(np.float32)
    y_all = data[:, 64].astype(np.int64)
    plan = json.load(open(partition_json))
    clients = [(x_all[idx], y_all[idx]) for idx in map(np.array, plan["clients"])]
    return clients, plan["cohorts"]
