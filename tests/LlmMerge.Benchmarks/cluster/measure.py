#!/usr/bin/env python3
"""The cluster's Measure figures (README, "Scale out"): run from the repository root after
`dotnet build merges/demo.proj` has built the tools and merged the demo's models.

  python3 tests/LlmMerge.Benchmarks/cluster/measure.py [OUT_DIR] [--skip-demo] [--skip-evolve] [--skip-overhead] [--skip-death]

- the demo's evaluations (each of the demo's models on the four test tasks, --limit=N rows each, default 10) on
  this machine alone (two at a time, as the graph on two cores) and on 1, 2 and 3 local workers (four submitted at
  a time, as a build with -m:4);
- two generations of the zoo's TIES search (four experts, layer_granularity 2, the four validation splits, --eval-limit=N
  rows each, default 20): `llmmerge evolve --max-fevals 12` (pycma stops once countevals - 1 >= 12: two generations
  of 12, then the final mean) in memory here (--jobs 1 and 2) and with --cluster on
  1, 2 and 3 local workers, with each candidate job's time on its worker against its merge-and-score time;
- the overhead of one job through the cluster against the same command run here (a 5-row evaluation);
- the time from a worker's SIGKILL to its job starting on another worker.
Each timing is printed with the load average (`uptime`) taken just before it. It starts its own redis-server on a
free port and stops everything it started, whatever happens."""
import os, re, signal, socket, subprocess, sys, time

ROOT = os.getcwd()
CLI = os.path.join(ROOT, "src/LlmMerge.Cli/bin/Release/net10.0/llmmerge.dll")
OUT = next((a for a in sys.argv[1:] if not a.startswith("--")), "/tmp/llmmerge-cluster-measure")
os.makedirs(OUT, exist_ok=True)
started = []


def load():
    return open("/proc/loadavg").read().split()[0:3]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def spawn(args, log):
    p = subprocess.Popen(args, stdout=open(log, "w"), stderr=subprocess.STDOUT, cwd=ROOT)
    started.append(p)
    return p


def stop(p):
    if p.poll() is None:
        p.terminate()
        try:
            p.wait(20)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def worker(cluster, name):
    log = os.path.join(OUT, f"worker-{name}.log")
    p = spawn(["dotnet", CLI, "worker", "--cluster", cluster, "--name", name], log)
    until = time.time() + 180
    while " joined cluster " not in open(log).read():
        if p.poll() is not None or time.time() > until:
            raise SystemExit(f"worker {name} did not join:\n" + open(log).read())
        time.sleep(0.2)
    return p, log


def timed(args, **kw):
    before = load()
    t = time.time()
    r = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, **kw)
    return time.time() - t, before, r


def main():
    port = free_port()
    redis = spawn(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--databases", "64"], os.path.join(OUT, "redis.log"))
    time.sleep(1)
    db = iter(range(1, 64))
    print(f"load before anything: {load()}", flush=True)

    if "--skip-demo" not in sys.argv:
        # The demo's evaluations as jobs: every model of the demo (the zoo's and, once built, its merges) on the four
        # test tasks, LIMIT rows each; here two at a time (as the graph on 2 cores), through the cluster four at a time.
        limit = next((a.split("=")[1] for a in sys.argv if a.startswith("--limit=")), "10")
        models = [f"merges/zoo/{m}" for m in ["base", "expert-arithmetic", "expert-world_facts", "expert-reversal", "expert-comparison", "multitask"]]
        models += [f"artifacts/demo/{m}" for m in ["linear", "task_arithmetic", "ties", "dare_ties"] if os.path.exists(f"artifacts/demo/{m}/config.json")]
        tasks = ",".join(f"tasks/{t}/{t}_test.csv" for t in ["arithmetic", "world_facts", "reversal", "comparison"])
        from concurrent.futures import ThreadPoolExecutor
        for n in [0, 1, 2, 3]:
            cluster = f"redis://127.0.0.1:{port}/{next(db)}"
            workers = [worker(cluster, f"demo{n}-w{i}") for i in range(1, n + 1)]
            stamp = time.time()

            def job(i):
                args = ["eval", models[i], "--tasks", tasks, "--limit", limit, "--output", f"{OUT}/demo-{n}/{i}.json", "--quiet"]
                if n > 0:
                    args = ["submit", "--cluster", cluster, "--key", f"demo-{n}-{i}-{stamp}", "--"] + args
                r = subprocess.run(["dotnet", CLI] + args, cwd=ROOT, capture_output=True, text=True)
                m = re.search(r"ran on (\S+) in ([0-9.]+) s", r.stderr)
                return r.returncode, (m.group(1), float(m.group(2))) if m else None

            before = load()
            t = time.time()
            with ThreadPoolExecutor(2 if n == 0 else 4) as pool:
                results = list(pool.map(job, range(len(models))))
            secs = time.time() - t
            ran = [r[1] for r in results if r[1]]
            per = {w: sum(1 for x in ran if x[0] == w) for w in sorted({x[0] for x in ran})}
            print(f"demo evaluations ({len(models)} models x 4 tasks x {limit} rows), {'this machine alone, 2 at a time' if n == 0 else f'{n} worker(s)'}: "
                  f"{secs:.1f} s, exits {sorted({r[0] for r in results})}, jobs per worker {per}, "
                  f"sum of job time on workers {sum(x[1] for x in ran):.1f} s, load before {before}", flush=True)
            for p, _ in workers:
                stop(p)


    if "--skip-evolve" not in sys.argv:
        # Two generations of a TIES search over the zoo's four experts: pycma's population for its 16 parameters (12),
        # then the final mean; in memory here, then each candidate a score-candidate job on 1, 2, 3 workers.
        limit = next((a.split("=")[1] for a in sys.argv if a.startswith("--eval-limit=")), "20")
        genome = os.path.join(OUT, "evolve-genome.yml")
        zoo = os.path.join(ROOT, "merges/zoo")
        with open(genome, "w") as f:
            f.write("genome:\n  models:\n" + "".join(f"    - {zoo}/expert-{m}\n" for m in ["arithmetic", "world_facts", "reversal", "comparison"])
                    + f"  merge_method: ties\n  base_model: {zoo}/base\n  layer_granularity: 2\ntasks:\n"
                    + "".join(f"  - name: {ROOT}/tasks/{t}/{t}_validation.csv\n" for t in ["arithmetic", "world_facts", "reversal", "comparison"])
                    + f"limit: {limit}\n")
        runs = [("here, --jobs 1", 0, ["--jobs", "1"]), ("here, --jobs 2", 0, ["--jobs", "2"])] + [(f"{n} worker(s)", n, []) for n in [1, 2, 3]]
        for label, n, extra in runs:
            cluster = f"redis://127.0.0.1:{port}/{next(db)}"
            workers = [worker(cluster, f"ev{n}-w{i}") for i in range(1, n + 1)]
            storage = os.path.join(OUT, f"evolve-{label.replace(' ', '').replace(',', '-')}-{time.time():.0f}")
            args = ["dotnet", CLI, "evolve", genome, "--storage-path", storage, "--max-fevals", "12", "--no-save-final-model"] + extra
            if n > 0:
                args += ["--cluster", cluster]
            secs, before, r = timed(args)
            lines = open(os.path.join(storage, "candidates.jsonl")).read().split("\n")
            jobs = [(float(a), float(b)) for a, b in re.findall(r"scored on worker \S+ in ([0-9.]+) s \(merge and score ([0-9.]+) s", r.stderr)]
            fitness = re.search(r"best fitness ([0-9.]+)", r.stdout)
            extra_text = ""
            if jobs:
                extra_text = (f"; per candidate job on its worker {sum(a for a, _ in jobs) / len(jobs):.2f} s of which merge and score "
                              f"{sum(b for _, b in jobs) / len(jobs):.2f} s (process start, models and tasks loaded: {sum(a - b for a, b in jobs) / len(jobs):.2f} s)")
            print(f"evolve, two generations (2 x 12 candidates + final mean, {limit} rows per task), {label}: {secs:.1f} s wall, exit {r.returncode}, "
                  f"{len([l for l in lines if l])} candidates, best fitness {fitness.group(1) if fitness else '?'}{extra_text}; load before {before}", flush=True)
            if r.returncode != 0:
                print(r.stderr[-2000:], flush=True)
            for p, _ in workers:
                stop(p)

    if "--skip-overhead" in sys.argv:
        return _death(port, db)
    cluster = f"redis://127.0.0.1:{port}/{next(db)}"
    w, _ = worker(cluster, "overhead")
    task = "tasks/arithmetic/arithmetic_test.csv"
    for i in range(4):
        local, before_l, r1 = timed(["dotnet", CLI, "eval", "merges/zoo/base", "--tasks", task, "--limit", "5", "--output", f"{OUT}/o/local-{i}.json", "--quiet"])
        remote, before_r, r2 = timed(["dotnet", CLI, "submit", "--cluster", cluster, "--key", f"overhead-{i}-{time.time()}", "--",
                                      "eval", "merges/zoo/base", "--tasks", task, "--limit", "5", "--output", f"{OUT}/o/cluster-{i}.json", "--quiet"])
        m = re.search(r"ran on \S+ in ([0-9.]+) s", r2.stderr)
        there = float(m.group(1)) if m else float("nan")
        print(f"one 5-row evaluation: here {local:.2f} s (load {before_l}); through the cluster {remote:.2f} s of which {there:.2f} s in the worker's llmmerge process (load {before_r}); overhead {remote - local:+.2f} s", flush=True)
    stop(w)
    _death(port, db)
    stop(redis)


def _death(port, db):
    if "--skip-death" not in sys.argv:
        cluster = f"redis://127.0.0.1:{port}/{next(db)}"
        workers = {f"d{i}": worker(cluster, f"d{i}") for i in range(1, 4)}
        for round in range(3):
            key = f"death-{round}-{int(time.time())}"
            sub = subprocess.Popen(["dotnet", CLI, "submit", "--cluster", cluster, "--key", key, "--", "eval", "merges/zoo/multitask",
                                    "--tasks", "tasks/arithmetic/arithmetic_test.csv,tasks/reversal/reversal_test.csv", "--output", f"{OUT}/o/death-{round}.json", "--quiet"],
                                   cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            started.append(sub)
            victim = None
            while victim is None:
                for name, (p, log) in workers.items():
                    if re.search(rf"job {re.escape(key)}/\S+: started", open(log).read()):
                        victim = name
                time.sleep(0.02)
            time.sleep(0.5)
            before = load()
            workers[victim][0].send_signal(signal.SIGKILL)
            killed = time.time()
            again = None
            while again is None and time.time() - killed < 120:
                for name, (p, log) in workers.items():
                    # attempt 2, or attempt 1 of a fresh activation when the job's grain lived on the killed worker
                    if name != victim and re.search(rf"job {re.escape(key)}/\S+: started \(attempt \d+\)", open(log).read()):
                        again = time.time()
                time.sleep(0.02)
            err = sub.communicate(timeout=600)[1]
            print(f"death round {round + 1}: killed {victim}; its job started again {again - killed if again else float('nan'):.1f} s later; submit exit {sub.returncode}; load before {before}", flush=True)
            workers[victim] = worker(cluster, victim + "r")
        for p, _ in workers.values():
            stop(p)


try:
    main()
finally:
    for p in started:
        if p.poll() is None:
            p.kill()
            p.wait()
