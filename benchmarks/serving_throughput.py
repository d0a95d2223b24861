"""Throughput of batch-1 `:predict` with and without server-side batching (issue 10).

    PYTHONPATH=$PWD python benchmarks/serving_throughput.py [--seconds 5] [--rounds 3] [--intra-op 1] [--wrk]

Exports an untrained LeNet-5 (`kerasnets.models.lenet5`, the builder `kerasnets
export` uses; weights do not change the cost of a forward pass) once to a temp
dir with `batching=True`, then starts, each in its own process, on ports from
the OS:
  a  `kerasnets serve` without batching;
  b  `kerasnets serve --enable_batching --batching_parameters_file=...`, with the
     file `kerasnets export --batching` writes (timeout 2000 us) and with other
     `batch_timeout_micros` values (the best b is used for the ratios);
  c  a plain aiohttp endpoint that loads the same `serving_default` signature
     and calls it once per request in a thread pool;
  a-unpinned, b2000-unpinned  a and b with `--pin_python_threads=false` (the
     server's Python threads left on every core).
The load is a separate process (with `--wrk`, `wrk -t1 -c32 --latency`, a C load
generator that takes far less CPU from the server's cores): 32 concurrent clients on one aiohttp
ClientSession (TCPConnector limit 32, so 32 keep-alive connections), each
posting `{"instances": [image]}` with one 28x28x1 image back to back; 1 s of
warm-up, then `--seconds` measured. Arms alternate over `--rounds` rounds;
printed: median req/s over rounds, p50/p99 latency (all measured requests of an
arm), and the ratios b/a and b/c.
"""

import argparse
import asyncio
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

CLIENTS = 32
PORT_LINE = re.compile(rb"Exporting HTTP/REST API at:localhost:(\d+)")
TIMEOUTS_MICROS = (2000, 500, 5000)  # 2000 is what `kerasnets export --batching` writes


def image_body():
    import numpy as np

    y, x = np.mgrid[0:28, 0:28]
    ring = np.exp(-((np.hypot(x - 13.5, y - 13.5) - 8) ** 2) / 4)  # a "0"-like stroke in [0, 1]
    return json.dumps({"instances": [np.round(ring, 4)[..., None].tolist()]}).encode()


# ---------------------------------------------------------------- arm c: plain aiohttp endpoint
def plain_aiohttp_server(model_dir):
    import numpy as np
    import tensorflow as tf
    from aiohttp import web

    signature = tf.saved_model.load(model_dir).signatures["serving_default"]
    (name, spec), = signature.structured_input_signature[1].items()

    def run(instances):
        outputs = signature(**{name: tf.constant(np.asarray(instances, spec.dtype.as_numpy_dtype))})
        return {"predictions": next(iter(outputs.values())).numpy().tolist()}

    async def predict(request):
        body = await request.json()
        result = await asyncio.get_running_loop().run_in_executor(None, run, body["instances"])
        return web.json_response(result)

    async def main():
        app = web.Application()
        app.router.add_post("/v1/models/lenet5:predict", predict)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        print(f"Exporting HTTP/REST API at:localhost:{port} ...", file=sys.stderr, flush=True)
        await asyncio.Event().wait()

    asyncio.run(main())


# ---------------------------------------------------------------- load generator (own process)
def load(url, seconds, warmup):
    import aiohttp

    body = image_body()
    latencies, errors = [], 0

    async def client(session, start, stop):
        nonlocal errors
        while True:
            t0 = time.perf_counter()
            if t0 >= stop:
                return
            async with session.post(url, data=body, headers={"Content-Type": "application/json"}) as response:
                await response.read()
                ok = response.status == 200
            t1 = time.perf_counter()
            if t0 >= start and t1 <= stop:
                if ok:
                    latencies.append(t1 - t0)
                else:
                    errors += 1

    async def main():
        connector = aiohttp.TCPConnector(limit=CLIENTS)
        async with aiohttp.ClientSession(connector=connector) as session:
            start = time.perf_counter() + warmup
            stop = start + seconds
            await asyncio.gather(*(client(session, start, stop) for _ in range(CLIENTS)))

    asyncio.run(main())
    print(json.dumps({"count": len(latencies), "errors": errors, "seconds": seconds, "latencies": latencies}))


# ---------------------------------------------------------------- driver
def start_server(command, log_path):
    log = open(log_path, "wb")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=os.environ.copy())
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        with open(log_path, "rb") as handle:
            match = PORT_LINE.search(handle.read())
        if match:
            return process, int(match.group(1))
        if process.poll() is not None:
            break
        time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"{command} did not start: {open(log_path, 'rb').read()[-2000:].decode(errors='replace')}")


def measure(port, seconds):
    url = f"http://127.0.0.1:{port}/v1/models/lenet5:predict"
    output = subprocess.run([sys.executable, __file__, "--load", url, "--seconds", str(seconds)],
                            check=True, capture_output=True, env=os.environ.copy()).stdout
    return json.loads(output)


_WRK_SCRIPT = """wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local body = io.open("{body}", "rb"); wrk.body = body:read("*a"); body:close()
"""
_WRK_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}


def measure_with_wrk(port, seconds, root):
    """Requests/s and p50/p99 (s) of `wrk -t1 -c32` posting image_body(), after 1 s of warm-up."""
    script = os.path.join(root, "post.lua")
    if not os.path.exists(script):
        with open(os.path.join(root, "body.json"), "wb") as handle:
            handle.write(image_body())
        with open(script, "w") as handle:
            handle.write(_WRK_SCRIPT.format(body=os.path.join(root, "body.json")))
    url = f"http://127.0.0.1:{port}/v1/models/lenet5:predict"
    base = ["wrk", "-t1", f"-c{CLIENTS}", "-s", script]
    subprocess.run(base + ["-d1s", url], check=True, capture_output=True)
    text = subprocess.run(base + [f"-d{max(1, round(seconds))}s", "--latency", url], check=True,
                          capture_output=True, text=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([0-9.]+)", text).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", text)

    def quantile(label):
        value, unit = re.search(rf"^\s+{label}%\s+([0-9.]+)(us|ms|s|m)\s*$", text, re.M).groups()
        return float(value) * _WRK_UNITS[unit]

    return {"rate": rate, "errors": int(errors.group(1)) if errors else 0, "p50": quantile(50), "p99": quantile(99)}


def percentile(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")


def main(seconds, rounds, intra_op=0, wrk=False):
    from kerasnets import models
    from kerasnets.export.saved_model import export_model
    from kerasnets.serving.batching import FILENAME, batching_parameters_text

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from machine_info import cpu_model

    print(f"{cpu_model('unknown CPU')}, load average {os.getloadavg()[0]:.2f}")
    print(f"cpus={os.cpu_count()} clients={CLIENTS} seconds={seconds} rounds={rounds} "
          f"model=lenet5 (untrained) body=1 image 28x28x1 intra_op_threads={intra_op or 'auto'}"
          f" load={'wrk -t1' if wrk else 'aiohttp client'}")
    with tempfile.TemporaryDirectory() as root:
        exported = export_model(models.lenet5(), "lenet5", base_dir=root, batching=True)
        serve = [sys.executable, "-m", "kerasnets", "serve", "--model_name=lenet5",
                 f"--model_base_path={root}/lenet5", "--port=0", "--rest_api_port=0"]
        threads = [f"--intra-op={intra_op}"] if intra_op else []
        if intra_op:
            serve.append(f"--tensorflow_intra_op_parallelism={intra_op}")
        arms = {"a": serve}
        for micros in TIMEOUTS_MICROS:
            path = f"{root}/{FILENAME}"
            if micros != 2000:
                path = f"{root}/batching_{micros}.txt"
                with open(path, "w") as handle:
                    handle.write(batching_parameters_text(batch_timeout_micros=micros))
            arms[f"b{micros}"] = serve + ["--enable_batching", f"--batching_parameters_file={path}"]
        arms["c"] = [sys.executable, __file__, "--plain", exported.path, *threads]
        # What keeping the server's Python threads on one core (the default) is worth.
        arms["a-unpinned"] = arms["a"] + ["--pin_python_threads=false"]
        arms["b2000-unpinned"] = arms["b2000"] + ["--pin_python_threads=false"]
        print("batching_parameters.txt (from export):", " ".join(open(f"{root}/{FILENAME}").read().split()))

        servers = {}
        try:
            for arm, command in arms.items():
                servers[arm] = start_server(command, f"{root}/{arm}.log")
            results = {arm: [] for arm in arms}
            for round_ in range(rounds):
                for arm, (_, port) in servers.items():
                    if wrk:
                        result = measure_with_wrk(port, seconds, root)
                    else:
                        result = measure(port, seconds)
                        result["rate"] = result["count"] / result["seconds"]
                    results[arm].append(result)
                    print(f"round {round_ + 1} {arm:>14}: {result['rate']:7.1f} req/s"
                          f" errors={result['errors']}", flush=True)
        finally:
            for process, _ in servers.values():
                process.terminate()
            for process, _ in servers.values():
                process.wait(30)

    print(f"\n{'arm':>14} {'req/s (median)':>15} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
    rates = {}
    for arm, runs in results.items():
        rates[arm] = statistics.median(r["rate"] for r in runs)
        if wrk:  # wrk reports quantiles per run: their medians over rounds
            p50, p99 = (statistics.median(r[q] for r in runs) for q in ("p50", "p99"))
        else:
            latencies = [x for r in runs for x in r["latencies"]]
            p50, p99 = percentile(latencies, 0.5), percentile(latencies, 0.99)
        print(f"{arm:>14} {rates[arm]:15.1f} {p50 * 1e3:8.1f} {p99 * 1e3:8.1f} {sum(r['errors'] for r in runs):7d}")
    best = max((arm for arm in rates if arm.startswith("b") and not arm.endswith("unpinned")), key=rates.get)
    print(f"\nbest b = {best}: b/a = {rates[best] / rates['a']:.2f}  b/c = {rates[best] / rates['c']:.2f}"
          "  (targets: >= 2 each)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--wrk", action="store_true", help="load with wrk (apt install wrk) instead of Python clients")
    parser.add_argument("--load", metavar="URL", help=argparse.SUPPRESS)
    parser.add_argument("--plain", metavar="MODEL_DIR", help=argparse.SUPPRESS)
    parser.add_argument("--intra-op", type=int, default=0, metavar="N",
                        help="TensorFlow intra-op threads in every server (kerasnets serve "
                             "--tensorflow_intra_op_parallelism=N; default 0: TensorFlow's choice)")
    args = parser.parse_args()
    if args.intra_op and not args.load:
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(args.intra_op)
    if args.load:
        load(args.load, args.seconds, warmup=1.0)
    elif args.plain:
        plain_aiohttp_server(args.plain)
    else:
        if args.wrk and not shutil.which("wrk"):
            sys.exit("--wrk needs wrk on PATH (apt install wrk).")
        main(args.seconds, args.rounds, args.intra_op, args.wrk)
