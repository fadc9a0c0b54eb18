#!/usr/bin/env python3
"""Writes the first TRAIN training and TEST test images of Debian's
Fashion-MNIST (dataset-fashion-mnist's IDX files) as OUT/train.npz and
OUT/test.npz (arrays x: u8[n, 28, 28], y: u8[n]).

usage: fashion_slice.py OUT TRAIN TEST
"""
import gzip
import os
import sys

import numpy as np

DATA = "/usr/share/datasets/fashion-mnist"


def idx(name, header, shape):
    with gzip.open(os.path.join(DATA, name)) as f:
        return np.frombuffer(f.read(), np.uint8, offset=header).reshape(shape)


def main():
    out, train, test = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    for split, prefix, n in (("train", "train", train), ("test", "t10k", test)):
        x = idx(f"{prefix}-images-idx3-ubyte.gz", 16, (-1, 28, 28))
        y = idx(f"{prefix}-labels-idx1-ubyte.gz", 8, (-1,))
        np.savez(os.path.join(out, f"{split}.npz"), x=x[:n], y=y[:n])


if __name__ == "__main__":
    main()
