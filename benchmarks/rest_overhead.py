"""REST overhead: a batch-1 LeNet-5 `:predict` over keep-alive HTTP minus the same signature in-process.

    python benchmarks/rest_overhead.py                 # 3 rounds x 400 requests per arm
    python benchmarks/rest_overhead.py --rounds 5 --requests 1000

One untrained LeNet-5 (weights do not change the cost) is exported with
`kerasnets.export.export_model`. Arms, run in turn every round (order rotated):

* `in-process`: `Servable.predict` on the decoded image (the signature call itself);
* `kerasnets serve`: `python -m kerasnets serve` in its own process;
* `aiohttp`: a minimal aiohttp endpoint in its own process: `json.loads`,
  `np.asarray`, the same signature, `json.dumps` (no TF Serving error texts).

The client is one keep-alive `http.client` connection in this process sending
requests one after another; each arm reports the median latency of its rounds'
medians, and the HTTP arms their overhead over `in-process`. The machine may be
shared: read the medians and the overheads, not one request.
"""

import argparse
import http.client
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time

import numpy as np

MINIMAL_AIOHTTP = textwrap.dedent(
    """
    import asyncio, json, sys
    import numpy as np, tensorflow as tf
    from aiohttp import web

    signature = tf.saved_model.load(sys.argv[1]).signatures["serving_default"]
    feed = list(signature.structured_input_signature[1])[0]

    async def predict(request):
        body = json.loads(await request.read())
        image = tf.constant(np.asarray(body["instances"], dtype=np.float32))
        outputs = await asyncio.get_running_loop().run_in_executor(None, lambda: signature(**{feed: image}))
        answer = {"predictions": [{k: v.numpy()[0].tolist() for k, v in outputs.items()}]}
        return web.Response(text=json.dumps(answer), content_type="application/json")

    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_post("/v1/models/lenet5:predict", predict)
    web.run_app(app, host="127.0.0.1", port=0, print=lambda text: print(text, flush=True))
    """
)


def _start(command, pattern):
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 120
    for line in process.stdout:
        found = re.search(pattern, line)
        if found:
            return process, int(found.group(1))
        if time.monotonic() > deadline:
            break
    process.kill()
    raise RuntimeError(f"{command[:3]} did not start")


def _http_latencies(port, body, requests):
    connection = http.client.HTTPConnection("127.0.0.1", port)
    headers = {"Content-Type": "application/json"}
    latencies = []
    for i in range(requests + 20):
        started = time.perf_counter()
        connection.request("POST", "/v1/models/lenet5:predict", body, headers)
        response = connection.getresponse()
        payload = response.read()
        if i >= 20:  # the first ones warm the connection and the server
            latencies.append(time.perf_counter() - started)
        assert response.status == 200, payload[:200]
    connection.close()
    return latencies


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=400)
    args = parser.parse_args()

    import keras

    from kerasnets.export import export_model
    from kerasnets.models.lenet5 import lenet5
    from kerasnets.serving.servable import Servable

    keras.utils.set_random_seed(0)
    root = tempfile.mkdtemp(prefix="rest-overhead-")
    exported = export_model(lenet5(), "lenet5", base_dir=root)
    image = np.random.default_rng(0).random((1, 28, 28, 1)).round(4).astype(np.float32)
    body = json.dumps({"instances": image.tolist()})

    servable = Servable.load("lenet5", exported.version, exported.path)
    feed = next(iter(servable.input_dtypes("serving_default")))

    def in_process(requests):
        latencies = []
        for i in range(requests + 20):
            started = time.perf_counter()
            servable.predict("serving_default", {feed: image})
            if i >= 20:
                latencies.append(time.perf_counter() - started)
        return latencies

    env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.getcwd(), os.environ.get("PYTHONPATH", "")]))
    serve, serve_port = _start(
        [sys.executable, "-m", "kerasnets", "serve", "--port=0", "--rest_api_port=0", "--model_name=lenet5",
         f"--model_base_path={os.path.dirname(exported.path)}"],
        r"Exporting HTTP/REST API at:localhost:(\d+)",
    )
    script = os.path.join(root, "minimal_aiohttp.py")
    with open(script, "w") as handle:
        handle.write(MINIMAL_AIOHTTP)
    peer, peer_port = _start([sys.executable, script, exported.path], r"http://127\.0\.0\.1:(\d+)")
    arms = {
        "in-process": in_process,
        "kerasnets serve": lambda n: _http_latencies(serve_port, body, n),
        "aiohttp": lambda n: _http_latencies(peer_port, body, n),
    }
    medians = {name: [] for name in arms}
    try:
        for round_index in range(args.rounds):
            names = list(arms)
            names = names[round_index % len(names):] + names[:round_index % len(names)]
            for name in names:
                medians[name].append(statistics.median(arms[name](args.requests)) * 1e3)
                print(f"round {round_index + 1} {name:16s} {medians[name][-1]:.3f} ms", flush=True)
    finally:
        serve.terminate()
        peer.terminate()
        serve.wait(timeout=30)
        peer.wait(timeout=30)

    print(f"\n{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; "
          f"median of {args.rounds} rounds x {args.requests} sequential batch-1 requests")
    base = statistics.median(medians["in-process"])
    for name, values in medians.items():
        latency = statistics.median(values)
        extra = "" if name == "in-process" else f"   overhead {latency - base:.3f} ms"
        print(f"{name:16s} {latency:.3f} ms{extra}")


if __name__ == "__main__":
    main()
