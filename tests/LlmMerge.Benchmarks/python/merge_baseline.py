"""Plain-PyTorch baseline for `LlmMerge.Benchmarks bench`: the benchmark's merges computed as mergekit computes them.

Usage: python3 merge_baseline.py METHOD BENCH_DIR OUT_DIR THREADS

METHOD is one of ties, task_arithmetic, linear, dare_ties, breadcrumbs, della, slerp, with the numbers of
BenchmarkRecipes.cs (weights 1.0/0.8/0.6, density 0.5, gamma 0.01, epsilon 0.15, t 0.5). The arithmetic follows
arcee-ai/mergekit a6e40288 (merge_methods/generalized_task_arithmetic.py, sparsify.py, linear.py, slerp.py) in
torch alone: tensors are read lazily from memory-mapped safetensors one name at a time (as mergekit's lazy loader
does), computed in float32 and written as bfloat16. Prints one JSON object: seconds, peak_rss_gb, cpu_seconds.
A manual baseline (Debian's python3-torch 1.13 is enough); no test runs it.
"""
import json
import math
import mmap
import os
import resource
import struct
import sys
import time

import torch

DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}
EXPERTS = ["expert-1", "expert-2", "expert-3"]
WEIGHTS = [1.0, 0.8, 0.6]
DENSITY, GAMMA, EPSILON, T = 0.5, 0.01, 0.15, 0.5


class LazyModel:
    """A model folder's safetensors shards, memory-mapped; tensors are read when asked for."""

    def __init__(self, folder):
        self.where = {}
        self.maps = []
        for name in sorted(os.listdir(folder)):
            if not name.endswith(".safetensors"):
                continue
            f = open(os.path.join(folder, name), "rb")
            (n,) = struct.unpack("<Q", f.read(8))
            header = json.loads(f.read(n))
            mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_COPY)  # writable view, so torch.frombuffer does not warn
            self.maps.append((f, mm))
            for key, info in header.items():
                if key != "__metadata__":
                    self.where[key] = (mm, 8 + n + info["data_offsets"][0], info)

    def names(self):
        return list(self.where.keys())

    def load(self, key):
        mm, start, info = self.where[key]
        dtype = DTYPES[info["dtype"]]
        count = math.prod(info["shape"])
        t = torch.frombuffer(mm, dtype=dtype, count=count, offset=start) if count else torch.empty(0, dtype=dtype)
        return t.reshape(info["shape"]).to(torch.float32)


def rescaled_masked(tensor, mask):
    masked = tensor * mask
    before, after = tensor.abs().sum(), masked.abs().sum()
    if before < 1e-7 or after < 1e-7:
        return masked
    return masked * (before / after)


def magnitude(t, density):
    k = int(density * t.numel())
    mask = torch.zeros_like(t)
    topk = torch.argsort(t.abs().view(-1), descending=True)[:k]
    mask.view(-1)[topk] = 1
    return t * mask


def magnitude_outliers(t, density, gamma):
    n = t.numel()
    target, n_top = int(density * n), int(gamma * n)
    n_bot = n - target - n_top
    if n_bot < 0:
        n_top += n_bot
        n_bot = 0
    indices = torch.sort(t.abs().view(-1), descending=False).indices
    mask = torch.zeros_like(t)
    mask.view(-1)[indices[n_bot:-n_top]] = 1
    return t * mask


def della_magprune(t, density, epsilon):
    shape = t.shape
    if t.dim() < 2:
        t = t.unsqueeze(0)
    ranks = torch.argsort(t.abs(), dim=1, descending=False).argsort(dim=1).to(torch.float32) + 1
    lo, hi = ranks.min(dim=1, keepdim=True).values, ranks.max(dim=1, keepdim=True).values
    probs = (density - epsilon) + ((ranks - lo) / (hi - lo)).clamp(0, 1) * 2 * epsilon
    return rescaled_masked(t, torch.bernoulli(probs)).reshape(shape)


def task_arithmetic(method, base, experts):
    deltas = []
    for x in experts:
        d = x - base
        if method == "ties":
            d = magnitude(d, DENSITY)
        elif method == "dare_ties":
            d = rescaled_masked(d, torch.bernoulli(torch.full_like(d, DENSITY)))
        elif method == "breadcrumbs":
            d = magnitude_outliers(d, DENSITY, GAMMA)
        elif method == "della":
            d = della_magprune(d, DENSITY, EPSILON)
        deltas.append(d)
    deltas = torch.stack(deltas, dim=0)
    weights = torch.tensor(WEIGHTS, dtype=deltas.dtype)
    while len(deltas.shape) > len(weights.shape):
        weights.unsqueeze_(-1)
    weighted = deltas * weights
    if method in ("ties", "dare_ties", "della"):
        sign = weighted.sign()
        majority = (weighted.sum(dim=0) >= 0).to(weighted.dtype) * 2 - 1
        mask = sign == majority
        mixed = (weighted * mask).sum(dim=0)
        divisor = (weights * mask).sum(dim=0)
        divisor[divisor == 0] = 1
        mixed /= divisor
    else:
        mixed = weighted.sum(dim=0)
    return base + mixed


def linear(models):
    stacked = torch.stack(models, dim=0)
    weights = torch.tensor([1.0] + WEIGHTS, dtype=stacked.dtype)
    while len(weights.shape) < len(stacked.shape):
        weights.unsqueeze_(-1)
    return (weights * stacked).sum(dim=0) / weights.sum(dim=0)


def slerp(t, v0, v1, dot_threshold=0.9995, eps=1e-8):
    # mergekit's slerp runs in numpy on float32 copies; these are the same operations in torch.
    n0, n1 = v0.norm(), v1.norm()
    u0 = v0 / n0 if n0 > eps else v0
    u1 = v1 / n1 if n1 > eps else v1
    dot = (u0 * u1).sum()
    if dot.abs() > dot_threshold:
        return (1 - t) * v0 + t * v1
    theta0 = torch.arccos(dot)
    sin0 = torch.sin(theta0)
    theta_t = theta0 * t
    return (torch.sin(theta0 - theta_t) / sin0) * v0 + (torch.sin(theta_t) / sin0) * v1


def write_safetensors(path, tensors):
    header, offset = {}, 0
    for name, t in tensors:
        n = t.numel() * 2
        header[name] = {"dtype": "BF16", "shape": list(t.shape), "data_offsets": [offset, offset + n]}
        offset += n
    blob = json.dumps(header).encode()
    blob += b" " * ((8 - len(blob) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(blob)))
        f.write(blob)
        for _, t in tensors:
            f.write(t.contiguous().view(torch.int16).numpy().tobytes())


def main():
    method, bench, out, threads = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    torch.set_num_threads(threads)
    start, cpu0 = time.time(), time.process_time()
    names = ["base", "expert-1"] if method == "slerp" else ["base"] + EXPERTS
    models = [LazyModel(os.path.join(bench, n)) for n in names]
    os.makedirs(out, exist_ok=True)
    results = []
    for key in models[0].names():
        loaded = [m.load(key) for m in models]
        if method == "linear":
            r = linear(loaded)
        elif method == "slerp":
            r = slerp(T, loaded[0], loaded[1])
        else:
            r = task_arithmetic(method, loaded[0], loaded[1:])
        results.append((key, r.to(torch.bfloat16)))
        # mergekit writes each tensor as it is done; keeping them here would measure memory, not mergekit.
        if sum(t.numel() for _, t in results) * 2 > 1 << 30:
            write_safetensors(os.path.join(out, f"part-{len(os.listdir(out)):05d}.safetensors"), results)
            results = []
    if results:
        write_safetensors(os.path.join(out, f"part-{len(os.listdir(out)):05d}.safetensors"), results)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6  # kilobytes on Linux
    print(json.dumps({"seconds": time.time() - start, "peak_rss_gb": peak, "cpu_seconds": time.process_time() - cpu0}))


if __name__ == "__main__":
    main()
