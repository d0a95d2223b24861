"""REST overhead of a batch-1 LeNet-5 `:predict`: kerasnets serve and a minimal aiohttp peer.

    python benchmarks/rest_overhead.py                         # this checkout's kerasnets serve
    python benchmarks/rest_overhead.py --serve main=/tmp/main --serve branch=.   # two copies, one run
    python benchmarks/rest_overhead.py --rounds 30 --requests 40 --round-digits 4   # shorter bodies
    python benchmarks/rest_overhead.py --intra-op 1    # one intra-op thread in every arm

A fresh `kerasnets.models.lenet5()` is exported with `export_model` (as the
tests do) into a temporary directory. Arms:

* `in-process`: the exported `serving_default` signature called directly
  (`tf.saved_model.load`), on a (1, 28, 28, 1) float32 image, outputs
  fetched as NumPy;
* `kerasnets serve [LABEL]`: `python -m kerasnets serve` in a subprocess
  (`--serve LABEL=PATH` puts PATH first on its PYTHONPATH, so two copies of
  kerasnets, e.g. main and a branch, are compared in one run), answering
  `POST /v1/models/lenet5:predict` with `{"instances": [image.tolist()]}`;
* `aiohttp peer`: a 20-line aiohttp endpoint in a subprocess that does
  `json.loads`, `np.asarray`, the same signature call and `json.dumps`.

The HTTP arms use one keep-alive `http.client` connection each. Every round
runs `--requests` requests per arm, the arms' order rotating from round to
round, so a busy neighbour on a shared machine hits all arms alike. Printed:
each arm's median latency and its overhead, the median minus the
in-process median. Bodies and answers are checked once (same class ids).
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

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
from machine_info import cpu_model  # noqa: E402  # benchmarks/ is on sys.path when run

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODEL = "lenet5"
PREDICT_PATH = f"/v1/models/{MODEL}:predict"

AIOHTTP_PEER = textwrap.dedent('''
    import json, sys
    import numpy as np
    import tensorflow as tf
    from aiohttp import web

    if len(sys.argv) > 3:  # --intra-op N
        tf.config.threading.set_intra_op_parallelism_threads(int(sys.argv[3]))
    signature = tf.saved_model.load(sys.argv[1]).signatures["serving_default"]
    name = next(iter(signature.structured_input_signature[1]))

    async def predict(request):
        instances = json.loads(await request.read())["instances"]
        outputs = signature(**{name: tf.constant(np.asarray(instances, dtype=np.float32))})
        rows = {key: value.numpy().tolist() for key, value in outputs.items()}
        rows = {key: [v.decode() if isinstance(v, bytes) else v for v in value] for key, value in rows.items()}
        predictions = [{key: value[i] for key, value in rows.items()} for i in range(len(instances))]
        return web.json_response({"predictions": predictions})

    app = web.Application(client_max_size=64 << 20)
    app.router.add_post("/v1/models/lenet5:predict", predict)
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[2]), print=lambda *a: print("ready", flush=True))
''')


def machine():
    model = cpu_model(platform.processor() or "?")
    return f"{model}, {os.cpu_count()} logical cores, load average {os.getloadavg()[0]:.2f}"


def free_port():
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(condition, what, timeout=300):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise RuntimeError(f"timed out waiting for {what}")


def http_ok(port, method, path, body=None):
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        connection.request(method, path, body)
        response = connection.getresponse()
        response.read()
        connection.close()
        return response.status == 200
    except OSError:
        return False


class Server:
    """A subprocess answering HTTP on 127.0.0.1, plus a keep-alive connection to it."""

    def __init__(self, label, command, env, port=None, ready_path=None, ready_body=None, cwd=None):
        self.label = label
        self.log = tempfile.TemporaryFile("w+")
        self.process = subprocess.Popen(command, env=env, cwd=cwd, stdout=self.log, stderr=subprocess.STDOUT,
                                        text=True)
        if port is None:  # kerasnets serve --rest_api_port=0 logs the port it picked
            def logged_port():
                self.log.seek(0)
                match = re.search(r"Exporting HTTP/REST API at:localhost:(\d+)", self.log.read())
                self._check_alive()
                return match and int(match.group(1))

            wait_for(logged_port, f"{label} to listen")
            port = logged_port()
        self.port = port
        wait_for(lambda: self._check_alive() or http_ok(port, "POST" if ready_body else "GET", ready_path, ready_body),
                 f"{label} to answer")
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def _check_alive(self):
        if self.process.poll() is not None:
            self.log.seek(0)
            raise RuntimeError(f"{self.label} exited:\n{self.log.read()[-3000:]}")

    def post(self, path, body):
        self.connection.request("POST", path, body, {"Content-Type": "application/json"})
        response = self.connection.getresponse()
        data = response.read()
        if response.status != 200:
            raise RuntimeError(f"{self.label}: HTTP {response.status}: {data[:300]!r}")
        return data

    def stop(self):
        self.connection.close()
        self.process.terminate()
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--serve", action="append", metavar="LABEL=PATH",
                        help="a kerasnets checkout to serve from (repeatable; default: this one)")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--requests", type=int, default=50, help="requests per arm per round")
    parser.add_argument("--no-aiohttp", action="store_true", help="leave out the aiohttp peer")
    parser.add_argument("--round-digits", type=int, default=None, metavar="N",
                        help="round the pixels to N decimals (default: full float repr, as image.tolist() gives)")
    parser.add_argument("--intra-op", type=int, default=0, metavar="N",
                        help="TensorFlow intra-op threads in every arm (kerasnets serve "
                             "--tensorflow_intra_op_parallelism=N; default 0: TensorFlow's choice)")
    args = parser.parse_args()

    import tensorflow as tf

    if args.intra_op:
        tf.config.threading.set_intra_op_parallelism_threads(args.intra_op)

    sys.path.insert(0, REPO)
    from kerasnets import models
    from kerasnets.export.saved_model import export_model

    print(machine() + (f"; intra-op threads {args.intra_op} in every arm" if args.intra_op else ""))
    work = tempfile.mkdtemp(prefix="rest_overhead_")
    exported = export_model(models.lenet5(), MODEL, base_dir=work, class_names=[str(i) for i in range(10)])
    signature = tf.saved_model.load(exported.path).signatures["serving_default"]
    input_name = next(iter(signature.structured_input_signature[1]))
    image = np.random.default_rng(0).random((1, 28, 28, 1)).astype(np.float32)
    if args.round_digits is not None:
        image = image.round(args.round_digits)
    body = json.dumps({"instances": image.tolist()}).encode()
    print(f"LeNet-5 {exported.path}, input {input_name!r}, body {len(body)} bytes")

    def in_process():
        outputs = signature(**{input_name: tf.constant(image)})
        return {key: value.numpy() for key, value in outputs.items()}

    expected_class = int(in_process()["class_id"][0])

    serves = args.serve or [f"branch={REPO}"]
    servers = []
    try:
        for spec in serves:
            label, _, path = spec.partition("=")
            copy = os.path.abspath(path or label)  # also the cwd: `python -m` puts the cwd first on sys.path
            env = dict(os.environ, PYTHONPATH=copy, PYTHONDONTWRITEBYTECODE="1")
            command = [sys.executable, "-m", "kerasnets", "serve", f"--model_name={MODEL}",
                       f"--model_base_path={os.path.dirname(exported.path)}", "--rest_api_port=0",
                       "--file_system_poll_wait_seconds=0"]
            if args.intra_op:
                command.append(f"--tensorflow_intra_op_parallelism={args.intra_op}")
            try:  # a free gRPC port too, where that copy serves gRPC (older copies refuse --port)
                server = Server(f"kerasnets serve {label}", command + ["--port=0"], env,
                                ready_path=f"/v1/models/{MODEL}", cwd=copy)
            except RuntimeError:
                server = Server(f"kerasnets serve {label}", command, env, ready_path=f"/v1/models/{MODEL}", cwd=copy)
            servers.append(server)
        if not args.no_aiohttp:
            peer_script = os.path.join(work, "aiohttp_peer.py")
            with open(peer_script, "w") as handle:
                handle.write(AIOHTTP_PEER)
            port = free_port()
            peer = [sys.executable, peer_script, exported.path, str(port)] + ([str(args.intra_op)] if args.intra_op else [])
            servers.append(Server("aiohttp peer", peer,
                                  dict(os.environ), port=port, ready_path=PREDICT_PATH, ready_body=body))

        for server in servers:  # the same answer everywhere
            answer = json.loads(server.post(PREDICT_PATH, body))["predictions"][0]
            assert int(answer["class_id"]) == expected_class, (server.label, answer)

        arms = {"in-process": in_process}
        for server in servers:
            arms[server.label] = lambda server=server: server.post(PREDICT_PATH, body)
        for arm in arms.values():  # warm-up
            for _ in range(args.requests):
                arm()
        times = {label: [] for label in arms}
        labels = list(arms)
        for round_index in range(args.rounds):
            shift = round_index % len(labels)
            for label in labels[shift:] + labels[:shift]:
                arm = arms[label]
                for _ in range(args.requests):
                    started = time.perf_counter()
                    arm()
                    times[label].append(time.perf_counter() - started)
    finally:
        for server in servers:
            server.stop()

    base = statistics.median(times["in-process"])
    print(f"\n{args.rounds} rounds x {args.requests} requests per arm, arms alternated; medians:")
    for label, samples in times.items():
        median = statistics.median(samples)
        quartiles = statistics.quantiles(samples, n=4)
        overhead = "" if label == "in-process" else f"   overhead {1e3 * (median - base):6.3f} ms"
        print(f"  {label:28s} {1e3 * median:7.3f} ms  (IQR {1e3 * quartiles[0]:.3f}-{1e3 * quartiles[2]:.3f}){overhead}")
    print(machine())


if __name__ == "__main__":
    main()
