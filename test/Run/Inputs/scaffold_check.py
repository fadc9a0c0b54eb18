"""Checks a SCAFFOLD run against bench/peers/scaffold_numpy.py: the server
state (model x and control variate c) and every client's control variate
c_i as the checkpoint's client-state file holds it (fedrt/ClientState.h's
format), each within 1e-5, and the same clients holding one.

usage: scaffold_check.py OURS_STATE_JSON NUMPY_STATE_JSON CLIENTS_STATE
       NUMPY_CLIENTS_JSON"""
import json
import sys

import numpy as np

import client_states


def main():
    ours = json.loads(open(sys.argv[1]).read().splitlines()[-1])
    ref = json.load(open(sys.argv[2]))
    worst = max(np.abs(np.array(ours[s][k]) - np.array(ref[s][k])).max()
                for s in "xc" for k in "wb")
    assert worst <= 1e-5, worst
    assert np.abs(np.array(ref["c"]["w"])).max() > 1e-3  # c has moved
    print(f"server state: max difference {worst:.1e}")
    states = client_states.read(sys.argv[3])
    ref_clients = {int(k): v for k, v in json.load(open(sys.argv[4])).items()}
    assert sorted(states) == sorted(ref_clients), (sorted(states), sorted(ref_clients))
    worst = max(np.abs(states[c][j] - np.array(ref_clients[c][k])).max()
                for c in states for j, k in enumerate("wb"))
    assert worst <= 1e-5, worst
    print(f"{len(states)} client control variates: max difference {worst:.1e}")


if __name__ == "__main__":
    main()
