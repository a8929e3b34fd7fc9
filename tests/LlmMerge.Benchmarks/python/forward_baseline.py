"""Plain-PyTorch baseline for `LlmMerge.Benchmarks forward`: the same Llama forward pass, written in torch alone.

Usage: python3 forward_baseline.py MODEL_DIR WORKLOAD.json THREADS

Reads the model's safetensors (with the `safetensors` package when installed, else the small reader below),
runs the full-sequence forward pass the workload asks for, and scores multiple-choice rows the way
lm-evaluation-harness does without a cache: one forward pass over context + choice for every choice, log-softmax
over all positions. Prints one JSON object: tokens_per_s, rows_per_s, and every choice's log-likelihood (so the
C# side can check both computed the same numbers).
"""
import json
import math
import os
import struct
import sys
import time

import torch
import torch.nn.functional as F


def read_safetensors(path):
    try:
        from safetensors.torch import load_file
        return load_file(path)
    except ImportError:
        pass
    dtypes = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16, "F64": torch.float64}
    with open(path, "rb") as f:
        data = f.read()
    (header_len,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + header_len])
    base = 8 + header_len
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        buf = bytearray(data[base + begin:base + end])  # writable copy: frombuffer warns on read-only memory
        t = torch.frombuffer(buf, dtype=dtypes[info["dtype"]]) if end > begin else torch.empty(0, dtype=dtypes[info["dtype"]])
        tensors[name] = t.reshape(info["shape"])
    return tensors


def load_model(model_dir):
    with open(os.path.join(model_dir, "config.json")) as f:
        config = json.load(f)
    index = os.path.join(model_dir, "model.safetensors.index.json")
    if os.path.exists(index):
        with open(index) as f:
            files = sorted(set(json.load(f)["weight_map"].values()))
    else:
        files = sorted(p for p in os.listdir(model_dir) if p.endswith(".safetensors"))
    weights = {}
    for name in files:
        weights.update(read_safetensors(os.path.join(model_dir, name)))
    # Compute in float32, as the C# side does: bf16 checkpoints are widened once at load.
    return config, {k: v.float().contiguous() for k, v in weights.items()}


class Llama:
    """transformers' LlamaForCausalLM forward (eager attention), without a cache."""

    def __init__(self, config, w):
        self.w = w
        self.layers = config["num_hidden_layers"]
        self.heads = config["num_attention_heads"]
        self.kv_heads = config.get("num_key_value_heads", self.heads)
        self.head_dim = config.get("head_dim") or config["hidden_size"] // self.heads
        self.eps = config.get("rms_norm_eps", 1e-6)
        theta = config.get("rope_theta", 10000.0)
        self.inv_freq = 1.0 / (theta ** (torch.arange(0, self.head_dim, 2, dtype=torch.int64).float() / self.head_dim))
        self.lm_head = w.get("lm_head.weight", w["model.embed_tokens.weight"])

    def rms_norm(self, x, weight):
        variance = x.pow(2).mean(-1, keepdim=True)
        return weight * (x * torch.rsqrt(variance + self.eps))

    @staticmethod
    def rotate_half(x):
        half = x.shape[-1] // 2
        return torch.cat((-x[..., half:], x[..., :half]), dim=-1)

    def forward(self, ids):
        b, t = ids.shape
        w = self.w
        x = F.embedding(ids, w["model.embed_tokens.weight"])
        freqs = torch.outer(torch.arange(t, dtype=torch.float32), self.inv_freq)
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos()[None, None], emb.sin()[None, None]
        mask = torch.full((t, t), float("-inf")).triu(1)
        rep = self.heads // self.kv_heads
        for i in range(self.layers):
            p = f"model.layers.{i}."
            h = self.rms_norm(x, w[p + "input_layernorm.weight"])
            q = F.linear(h, w[p + "self_attn.q_proj.weight"], w.get(p + "self_attn.q_proj.bias"))
            k = F.linear(h, w[p + "self_attn.k_proj.weight"], w.get(p + "self_attn.k_proj.bias"))
            v = F.linear(h, w[p + "self_attn.v_proj.weight"], w.get(p + "self_attn.v_proj.bias"))
            q = q.view(b, t, self.heads, self.head_dim).transpose(1, 2)
            k = k.view(b, t, self.kv_heads, self.head_dim).transpose(1, 2)
            v = v.view(b, t, self.kv_heads, self.head_dim).transpose(1, 2)
            q = q * cos + self.rotate_half(q) * sin
            k = k * cos + self.rotate_half(k) * sin
            k = k.repeat_interleave(rep, dim=1)
            v = v.repeat_interleave(rep, dim=1)
            scores = torch.matmul(q, k.transpose(2, 3)) / math.sqrt(self.head_dim) + mask
            attn = torch.matmul(torch.softmax(scores, dim=-1), v)
            attn = attn.transpose(1, 2).reshape(b, t, self.heads * self.head_dim)
            x = x + F.linear(attn, w[p + "self_attn.o_proj.weight"])
            h = self.rms_norm(x, w[p + "post_attention_layernorm.weight"])
            gate = F.linear(h, w[p + "mlp.gate_proj.weight"])
            up = F.linear(h, w[p + "mlp.up_proj.weight"])
            x = x + F.linear(F.silu(gate) * up, w[p + "mlp.down_proj.weight"])
        x = self.rms_norm(x, w["model.norm.weight"])
        return F.linear(x, self.lm_head)


def main():
    model_dir, workload_path, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
    torch.set_num_threads(threads)
    config, weights = load_model(model_dir)
    if config.get("rope_scaling"):
        sys.exit("forward_baseline.py: rope_scaling is not implemented in the baseline; generate the model without it")
    model = Llama(config, weights)
    with open(workload_path) as f:
        work = json.load(f)

    with torch.no_grad():
        batch = torch.tensor(work["sequences"], dtype=torch.int64)
        model.forward(batch[:, :16])  # warm-up
        start = time.perf_counter()
        for _ in range(work["repeats"]):
            model.forward(batch)
        seconds = time.perf_counter() - start
        tokens_per_s = batch.numel() * work["repeats"] / seconds

        # lm-eval without a cache: every choice is its own forward pass over context + choice.
        logliks = []
        start = time.perf_counter()
        for row in work["rows"]:
            context = row["context"]
            scores = []
            for choice in row["choices"]:
                ids = torch.tensor([context + choice], dtype=torch.int64)
                logprobs = F.log_softmax(model.forward(ids), dim=-1)[0]
                positions = torch.arange(len(context) - 1, len(context) + len(choice) - 1)
                scores.append(logprobs[positions, torch.tensor(choice)].sum().item())
            logliks.append(scores)
        rows_seconds = time.perf_counter() - start
    print(json.dumps({
        "tokens_per_s": tokens_per_s,
        "forward_seconds": seconds,
        "rows_per_s": len(work["rows"]) / rows_seconds,
        "rows_seconds": rows_seconds,
        "logliks": logliks,
        "torch": torch.__version__,
        "blas": loaded_blas(),
    }))


def loaded_blas():
    """The BLAS library this process mapped: Debian's torch takes whichever libblas.so.3 the loader finds."""
    with open("/proc/self/maps") as f:
        paths = {line.split()[-1] for line in f if "libblas" in line and "/" in line}
    return ", ".join(sorted(os.path.realpath(p) for p in paths)) or "unknown"


if __name__ == "__main__":
    main()
