#!/usr/bin/env python3
"""Side-by-side run of persist against the Python tools our users come from.

numpy (np.save/np.load + a JSON file), pickle, joblib (dump/load and
joblib.Memory), dman, persistable and neuralib.persistence, each written the
way its users write it, on the same scenarios as the persist side
(persist-core/benches/peers.rs). See "Against the Python tools" in
PERFORMANCE.md. Start it with scripts/peers.sh, which makes the venv, installs
the tools and builds the persist side.

    peers.py run --bin PATH [--quick] [--rounds N] [--only a,b] [--tools a,b]
                 [--array-mb N] [--small N] [--autoinc N] [--timeout S] [--dir PATH] [-v]
    peers.py child --tool T --scenario S --dir PATH [--setup] [sizes]

`run` is the driver: each measurement is a fresh subprocess (the persist bench
binary, or this script as `child`), tools alternate within a round (the order
rotates every round), and the table shows medians. A child builds its inputs,
resets its peak RSS (/proc/self/clear_refs), runs the timed part and prints one
JSON line: {"tool", "scenario", "secs", "peak_rss_mb", ...}.
"""

import argparse
import glob
import importlib
import inspect
import json
import os
import pickle
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

SCENARIOS = ["save_big", "load_big", "save_small", "load_small", "all_small", "autoinc"]

PERSIST_TOOLS = ["persist", "persist-fast"]
PY_TOOLS = ["numpy", "pickle", "joblib", "joblib-memory", "dman", "persistable", "neuralib"]
# Not tools but floors, run by the persist binary (`--by-hand`): the small
# records written with std::fs in Rust, in persist's layout (a folder, the npy,
# meta.json by rename) and in pickle's (one file in place). They show what
# each layout costs on this disk before any tool's own work. `syscalls-*` make
# every name and byte before the timer: only the file system's work is timed.
# The value is what the binary's `--by-hand` takes.
HAND_TOOLS = {"hand-folder": "folder", "hand-file": "file",
              "syscalls-folder": "folder-syscalls", "syscalls-file": "file-syscalls"}
BIN_TOOLS = PERSIST_TOOLS + list(HAND_TOOLS)
TOOLS = PERSIST_TOOLS + PY_TOOLS + list(HAND_TOOLS)

# What each tool needs to import (checked in a subprocess before the run).
MODULES = {
    "numpy": ["numpy"],
    "pickle": ["numpy"],
    "joblib": ["numpy", "joblib"],
    "joblib-memory": ["numpy", "joblib"],
    "dman": ["numpy", "dman"],
    "persistable": ["numpy", "persistable"],
    "neuralib": ["numpy", "neuralib.persistence"],
}

# The PyPI distribution to report the version of.
DISTRIBUTIONS = {
    "numpy": "numpy",
    "pickle": None,
    "joblib": "joblib",
    "joblib-memory": "joblib",
    "dman": "dman",
    "persistable": "persistable",
    "neuralib": "neura-library",
}

ALL = set(SCENARIOS)
# Which scenario each tool has: autoinc only where the tool numbers runs itself
# (neuralib autoinc_field, dman mruns); `T::all` has no joblib.Memory equivalent.
SUPPORT = {
    "persist": ALL,
    "persist-fast": ALL,
    "numpy": ALL - {"autoinc"},
    "pickle": ALL - {"autoinc"},
    "joblib": ALL - {"autoinc"},
    "joblib-memory": ALL - {"autoinc", "all_small"},
    "dman": ALL,
    "persistable": ALL - {"autoinc"},
    "neuralib": ALL,
    **{t: {"save_small"} for t in HAND_TOOLS},
}

# Which stored data a load scenario reads (written once per tool, untimed).
SETUP_KIND = {"load_big": "big", "load_small": "small", "all_small": "small"}

TRACE_LEN = 128  # 1 KB of f64


@dataclass
class Sizes:
    array_mb: int
    small: int
    autoinc: int

    def args(self):
        return ["--array-mb", str(self.array_mb), "--small", str(self.small),
                "--autoinc", str(self.autoinc)]


# ---------------------------------------------------------------- inputs (same values as peers.rs)

def big_array(sizes):
    import numpy as np
    return np.arange((sizes.array_mb << 20) // 8, dtype=np.float64) * 0.5


def small_key(i):
    return {"animal": f"A{i:06d}", "session": i % 7, "date": "2024-05-01",
            "lab": "lab-one", "rig": i % 3}


def small_data(i):
    import numpy as np
    return {"note": f"recorded by the bench, record {i}", "score": i * 0.25,
            "channels": [1, 2, 3, 5, 8, 13, 21, 34],
            "trace": np.arange(i, i + TRACE_LEN, dtype=np.float64)}


def small_name(key):
    """The file name a user of a plain-file tool would give a record."""
    return "small-{animal}-{session}-{date}-{lab}-{rig}".format(**key)


def trial(i):
    import numpy as np
    return {"score": float(i), "note": "an autoinc save",
            "trace": np.arange(i, i + TRACE_LEN, dtype=np.float64)}


# ---------------------------------------------------------------- peak RSS and timer

def reset_peak():
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def peak_rss_mb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


# ---------------------------------------------------------------- tools
#
# Each tool is a class with the scenario methods it has. A method gets the
# store folder and the inputs built before the timer, and returns what it read
# (checked after the timer).

class NumpyTool:
    """np.save / np.load for arrays; one JSON file for a record's keys and data."""

    def __init__(self, d):
        import numpy as np
        self.np = np
        self.d = d

    def save_big(self, arr):
        self.np.save(self.d / "big.npy", arr)

    def load_big(self):
        return len(self.np.load(self.d / "big.npy"))

    def save_small(self, records):
        for key, data in records:
            name = small_name(key)
            self.np.save(self.d / f"{name}.npy", data["trace"])
            meta = dict(key, note=data["note"], score=data["score"], channels=data["channels"])
            with open(self.d / f"{name}.json", "w") as f:
                json.dump(meta, f)

    def load_small(self, keys):
        total = 0.0
        for key in keys:
            name = small_name(key)
            with open(self.d / f"{name}.json") as f:
                meta = json.load(f)
            total += float(self.np.load(self.d / f"{name}.npy").sum()) + meta["score"]
        return total

    def all_small(self):
        n = 0
        for e in os.scandir(self.d):
            if e.name.endswith(".json"):
                with open(e.path) as f:
                    n += bool(json.load(f)["note"])
        return n


class PickleTool:
    """One pickle per record (a dict with keys, data and the array)."""

    def __init__(self, d):
        self.d = d

    def dump(self, obj, path):
        with open(path, "wb") as f:
            pickle.dump(obj, f)

    def load(self, path):
        with open(path, "rb") as f:
            return pickle.load(f)

    ext = ".pkl"

    def save_big(self, arr):
        self.dump({"name": "b", "data": arr}, self.d / f"big{self.ext}")

    def load_big(self):
        return len(self.load(self.d / f"big{self.ext}")["data"])

    def save_small(self, records):
        for key, data in records:
            self.dump(dict(key, **data), self.d / f"{small_name(key)}{self.ext}")

    def load_small(self, keys):
        total = 0.0
        for key in keys:
            r = self.load(self.d / f"{small_name(key)}{self.ext}")
            total += float(r["trace"].sum()) + r["score"]
        return total

    def all_small(self):
        n = 0
        for e in os.scandir(self.d):
            if e.name.endswith(self.ext):
                n += bool(self.load(e.path)["note"])
        return n


class JoblibTool(PickleTool):
    """joblib.dump / joblib.load, one file per record."""

    ext = ".joblib"

    def __init__(self, d):
        import joblib
        super().__init__(d)
        self.joblib = joblib

    def dump(self, obj, path):
        self.joblib.dump(obj, path)

    def load(self, path):
        return self.joblib.load(path)


# Results a joblib.Memory-cached function "computes": filled before the timer
# in a saving child, empty in a loading one (a cache miss there is a KeyError).
_PREBUILT = {}


def compute_big(name):
    return _PREBUILT[("big", name)]


def compute_small(animal, session, date, lab, rig):
    return _PREBUILT[(animal, session, date, lab, rig)]


class JoblibMemoryTool:
    """joblib.Memory: a cached function of the key; its first call computes
    (here: returns the prebuilt result) and stores it, later calls load it."""

    def __init__(self, d):
        import joblib
        self.memory = joblib.Memory(d, verbose=0)
        self.big = self.memory.cache(compute_big)
        self.small = self.memory.cache(compute_small)

    def save_big(self, arr):
        _PREBUILT[("big", "b")] = arr
        self.big("b")

    def load_big(self):
        return len(self.big("b"))

    def save_small(self, records):
        for key, data in records:
            _PREBUILT[tuple(key.values())] = data
        for key, _ in records:
            self.small(**key)

    def load_small(self, keys):
        total = 0.0
        for key in keys:
            r = self.small(**key)
            total += float(r["trace"].sum()) + r["score"]
        return total


class DmanTool:
    """dman.save / dman.load of a modelclass with a barray record field;
    autoinc: dman.track of an mruns, one storable modelclass per run."""

    def __init__(self, d):
        import dman
        from dman import barray
        self.dman = dman
        self.d = d
        self.where = {"base": d, "generator": "peers"}

        @dman.modelclass(name="big")
        class Big:
            name: str
            data: barray

        @dman.modelclass(name="small")
        class Small:
            animal: str
            session: int
            date: str
            lab: str
            rig: int
            note: str
            score: float
            channels: list
            trace: barray

        @dman.modelclass(name="trial", storable=True)
        class Trial:
            subject: str
            score: float
            note: str
            trace: barray

        self.Big, self.Small, self.Trial = Big, Small, Trial

    def save_big(self, arr):
        self.dman.save("big-b", self.Big("b", arr), **self.where)

    def load_big(self):
        return len(self.dman.load("big-b", **self.where).data)

    def save_small(self, records):
        for key, data in records:
            self.dman.save(small_name(key), self.Small(**key, **data), **self.where)

    def load_small(self, keys):
        total = 0.0
        for key in keys:
            r = self.dman.load(small_name(key), **self.where)
            total += float(r.trace.sum()) + r.score
        return total

    def all_small(self):
        # No listing in dman: the generator folder holds one folder per key.
        n = 0
        for e in os.scandir(self.d / "peers"):
            if e.is_dir():
                n += bool(self.dman.load(e.name, **self.where).note)
        return n

    def autoinc(self, items):
        times = []
        for it in items:
            started = time.perf_counter()
            with self.dman.track("trials", default_factory=self.dman.mruns_factory(),
                                 **self.where) as runs:
                runs.append(self.Trial("s1", it["score"], it["note"], it["trace"]))
            times.append(time.perf_counter() - started)
        return times


class PersistableTool:
    """A Persistable subclass per record type; save = generate() (the payload
    is prebuilt), load = load() + payload."""

    def __init__(self, d):
        from dataclasses import dataclass as dc
        from persistable import Persistable, PersistableParams
        self.d = d

        @dc
        class BigParams(PersistableParams):
            name: str

        @dc
        class SmallParams(PersistableParams):
            animal: str
            session: int
            date: str
            lab: str
            rig: int

        class Prebuilt(Persistable):
            prebuilt = None

            def _generate_payload(self, **untracked_payload_params):
                return self.prebuilt

        class BigArray(Prebuilt):
            pass

        class SmallRecord(Prebuilt):
            pass

        self.BigParams, self.SmallParams = BigParams, SmallParams
        self.BigArray, self.SmallRecord = BigArray, SmallRecord

    def save_big(self, arr):
        p = self.BigArray(self.d, self.BigParams("b"), None)
        p.prebuilt = {"data": arr}
        p.generate()

    def load_big(self):
        p = self.BigArray(self.d, self.BigParams("b"), None)
        p.load()
        return len(p.payload["data"])

    def save_small(self, records):
        for key, data in records:
            p = self.SmallRecord(self.d, self.SmallParams(**key), None)
            p.prebuilt = data
            p.generate()

    def load_small(self, keys):
        total = 0.0
        for key in keys:
            p = self.SmallRecord(self.d, self.SmallParams(**key), None)
            p.load()
            total += float(p.payload["trace"].sum()) + p.payload["score"]
        return total

    def all_small(self):
        # No listing in persistable: read every parameter file (the keys; the
        # data is in the pickled payload).
        n = 0
        for path in glob.glob(str(self.d / "small_record(*).params.json")):
            with open(path) as f:
                n += bool(json.load(f)["animal"])
        return n


class NeuralibTool:
    """neuralib.persistence: persistence_class + PickleHandler."""

    def __init__(self, d):
        import numpy as np
        from neuralib import persistence as p
        self.p = p
        self.d = d

        @p.persistence_class
        class Big:
            name: str = p.field(validator=True, filename=True)
            data: np.ndarray

        @p.persistence_class
        class Small:
            animal: str = p.field(validator=True, filename=True)
            session: int = p.field(validator=True)
            date: str = p.field(validator=True, filename=True)
            lab: str = p.field(validator=True)
            rig: int = p.field(validator=True)
            note: str
            score: float
            channels: list
            trace: np.ndarray

        @p.persistence_class
        class Trial:
            subject: str = p.field(validator=True, filename=True)
            attempt: int = p.autoinc_field()
            score: float
            note: str
            trace: np.ndarray

        self.Big, self.Small, self.Trial = Big, Small, Trial

    def handler(self, cls):
        return self.p.PickleHandler(cls, self.d)

    def save_big(self, arr):
        b = self.Big(name="b")
        b.data = arr
        self.handler(self.Big).save_persistence(b)

    def load_big(self):
        return len(self.handler(self.Big).load_persistence(self.Big(name="b")).data)

    def save_small(self, records):
        h = self.handler(self.Small)
        for key, data in records:
            r = self.Small(**key)
            for k, v in data.items():
                setattr(r, k, v)
            h.save_persistence(r)

    def load_small(self, keys):
        h = self.handler(self.Small)
        total = 0.0
        for key in keys:
            r = h.load_persistence(self.Small(**key))
            total += float(r.trace.sum()) + r.score
        return total

    def all_small(self):
        # The wildcard query: every filename field left `missing`.
        missing = inspect.Parameter.empty
        h = self.handler(self.Small)
        return sum(bool(r.note) for _, r in h.load_all(None, animal=missing, date=missing))

    def autoinc(self, items):
        h = self.handler(self.Trial)
        times = []
        for it in items:
            t = self.Trial(subject="s1")
            t.score, t.note, t.trace = it["score"], it["note"], it["trace"]
            started = time.perf_counter()
            h.save_persistence(t)
            times.append(time.perf_counter() - started)
        assert t.attempt == len(items) - 1
        return times


PY_TOOL_CLASSES = {
    "numpy": NumpyTool,
    "pickle": PickleTool,
    "joblib": JoblibTool,
    "joblib-memory": JoblibMemoryTool,
    "dman": DmanTool,
    "persistable": PersistableTool,
    "neuralib": NeuralibTool,
}


def child_setup(tool, scenario, sizes):
    """Writes the data a load scenario reads, the tool's own way (untimed)."""
    if SETUP_KIND.get(scenario) == "big":
        tool.save_big(big_array(sizes))
    elif SETUP_KIND.get(scenario) == "small":
        tool.save_small([(small_key(i), small_data(i)) for i in range(sizes.small)])
    os.sync()


def child(args):
    # Every tool stores numpy arrays: import it before any timer (a first
    # unpickle of an array would otherwise import it inside the timed part).
    importlib.import_module("numpy")
    sizes = Sizes(args.array_mb, args.small, args.autoinc)
    d = Path(args.dir).resolve()  # dman wants an absolute base
    d.mkdir(parents=True, exist_ok=True)
    tool = PY_TOOL_CLASSES[args.tool](d)
    s = args.scenario
    out = {"tool": args.tool, "scenario": s}
    if args.setup:
        started = time.perf_counter()
        child_setup(tool, s, sizes)
        out["setup_secs"] = time.perf_counter() - started
        print(json.dumps(out), flush=True)
        return
    # Inputs first, then the peak reset and the timer.
    if s == "save_big":
        arr = big_array(sizes)
        reset_peak()
        started = time.perf_counter()
        tool.save_big(arr)
        secs = time.perf_counter() - started
    elif s == "load_big":
        reset_peak()
        started = time.perf_counter()
        n = tool.load_big()
        secs = time.perf_counter() - started
        assert n == (sizes.array_mb << 20) // 8, n
    elif s == "save_small":
        records = [(small_key(i), small_data(i)) for i in range(sizes.small)]
        reset_peak()
        started = time.perf_counter()
        tool.save_small(records)
        secs = time.perf_counter() - started
    elif s == "load_small":
        keys = [small_key(i) for i in range(sizes.small)]
        reset_peak()
        started = time.perf_counter()
        total = tool.load_small(keys)
        secs = time.perf_counter() - started
        assert total > 0
    elif s == "all_small":
        reset_peak()
        started = time.perf_counter()
        n = tool.all_small()
        secs = time.perf_counter() - started
        assert n == sizes.small, n
    elif s == "autoinc":
        items = [trial(i) for i in range(sizes.autoinc)]
        reset_peak()
        started = time.perf_counter()
        times = tool.autoinc(items)
        secs = time.perf_counter() - started
        k = min(100, sizes.autoinc // 2)
        out["first_mean_s"] = sum(times[:k]) / k
        out["last_mean_s"] = sum(times[-k:]) / k
        out["window"] = k
    else:
        raise SystemExit(f"unknown scenario {s}")
    out["secs"] = secs
    out["peak_rss_mb"] = round(peak_rss_mb(), 1)
    print(json.dumps(out), flush=True)


# ---------------------------------------------------------------- driver

def installed(tool, persist_bin):
    """None if the tool can run here, else why not."""
    if tool in BIN_TOOLS:
        if persist_bin and os.access(persist_bin, os.X_OK):
            return None
        return "not built"
    code = "; ".join(f"import {m}" for m in MODULES[tool])
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if r.returncode == 0:
        return None
    last = (r.stderr.strip().splitlines() or ["?"])[-1]
    return f"not installed ({last})"


def version(tool):
    if tool in PERSIST_TOOLS:
        return "this tree"
    if tool in HAND_TOOLS:
        return "std::fs in the persist binary, no persist"
    dist = DISTRIBUTIONS[tool]
    if dist is None:
        return f"Python {sys.version.split()[0]}"
    try:
        from importlib.metadata import version as v
        return v(dist)
    except Exception:
        return "?"


def command(tool, scenario, d, sizes, persist_bin, setup):
    if tool in BIN_TOOLS:
        cmd = [persist_bin, "--scenario", scenario, "--dir", str(d),
               # persist-fast: no fsync and no checksum check, as none of the
               # Python tools does either.
               "--durable", "true" if tool == "persist" else "false",
               "--verify", "true" if tool == "persist" else "false"] + sizes.args()
        if tool in HAND_TOOLS:
            cmd += ["--by-hand", HAND_TOOLS[tool]]
    else:
        cmd = [sys.executable, os.path.abspath(__file__), "child", "--tool", tool,
               "--scenario", scenario, "--dir", str(d)] + sizes.args()
    if setup:
        cmd.append("--setup")
    return cmd


def measure(cmd, timeout):
    """Runs one child; its JSON line, or {"error": ...}."""
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": "timeout"}
    lines = [ln for ln in r.stdout.splitlines() if ln.startswith("{")]
    if r.returncode != 0 or not lines:
        tail = (r.stderr.strip().splitlines() or [f"exit {r.returncode}"])[-1]
        return {"error": "failed", "detail": tail}
    return json.loads(lines[-1])


def settle():
    """Puts the disk in the state a user's saves meet on a machine that has
    not just removed thousands of files: everything written out, then the
    clean page cache dropped (root only; nothing unwritten is lost). False
    when the cache could not be dropped.

    ext4 without a journal (the disk of the published numbers) will not reuse
    an inode freed in the last 60 s and checks every free inode it passes against the cached
    block of its inode table (`recently_deleted()`): after a build or a removed
    store, creating a file costs 3-10x more, by an amount that depends on
    where the kernel places it, so one tool's saves could land in a crowded
    block group and the next tool's not. A block no longer cached is not
    checked. Same as `settle_disk` in persist-core/benches/common.
    """
    os.sync()
    try:
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("1")
    except OSError:
        return False
    return True


def warm(d):
    """Reads every file under `d`, so that a load reads from the page cache.

    This VM pages out memory nobody touched for about 30 s (DAMON's `pageout`
    scheme, `kdamond`), the page cache included: without this, a load read
    from memory or from the disk depending on how long ago its setup ran, and
    tools measured later in a round were slower for it.
    """
    for root, _dirs, files in os.walk(d):
        for name in files:
            try:
                with open(os.path.join(root, name), "rb") as f:
                    while f.read(1 << 24):
                        pass
            except OSError:
                pass


def fmt_secs(s):
    if s >= 1:
        return f"{s:.2f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.1f} ms"
    return f"{s * 1e6:.0f} µs"


def loadavg():
    try:
        return os.getloadavg()[0]
    except OSError:
        return float("nan")


def describe(o):
    return (f"array {o.array_mb} MB, {o.small} small records, {o.autoinc} autoinc saves; "
            f"{o.rounds} round{'s' if o.rounds != 1 else ''}")


def run(o):
    sizes = Sizes(o.array_mb, o.small, o.autoinc)
    scenarios = o.only or SCENARIOS
    tools = o.tools or TOOLS
    for name in scenarios:
        if name not in SCENARIOS:
            raise SystemExit(f"peers: unknown scenario {name} (have: {', '.join(SCENARIOS)})")
    for name in tools:
        if name not in TOOLS:
            raise SystemExit(f"peers: unknown tool {name} (have: {', '.join(TOOLS)})")
    work = Path(o.dir).resolve()
    work.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="peers-", dir=work))
    why_not = {t: installed(t, o.bin) for t in tools}
    load_start = loadavg()
    started = time.time()
    print(f"peers: {describe(o)}; stores in {work}; load average {load_start:.2f}", file=sys.stderr)
    if not settle():
        print("peers: could not drop the page cache (needs root): saves of small files may be "
              "slowed if many files were removed in the last minutes", file=sys.stderr)
    for t in tools:
        state = why_not[t] or f"version {version(t)}"
        print(f"  {t}: {state}", file=sys.stderr)

    # results[scenario][tool] = list of child outputs
    results = {s: {t: [] for t in tools} for s in scenarios}
    setups = {}  # (tool, kind) -> folder
    # Folders of thousands of small files are removed only at the end: on ext4
    # without a journal (the disk of the published numbers) inodes freed in
    # the last 60 s are skipped one by one when new ones are allocated, so
    # removing one run's files would slow down the creates of the runs after it.
    deferred = []
    raw = open(o.raw, "w") if o.raw else None
    try:
        for si, s in enumerate(scenarios):
            here = [t for t in tools if s in SUPPORT[t] and why_not[t] is None]
            gave_up = {}
            for rnd in range(o.rounds):
                # The order rotates, each round starting len(here) / rounds
                # places further on, so that every tool runs early in some
                # rounds and late in others, whatever the disk does as a
                # scenario fills it. (Rotating by one place, with 13 tools and
                # 3 rounds, kept the list's first few tools early every time.)
                k = (rnd * len(here)) // o.rounds % max(len(here), 1)
                order = here[k:] + here[:k]
                for t in order:
                    if t in gave_up:
                        continue
                    kind = SETUP_KIND.get(s)
                    if kind:
                        d = setups.get((t, kind))
                        if d is None:
                            d = work / f"setup-{kind}-{t}"
                            res = measure(command(t, s, d, sizes, o.bin, True), o.timeout * 3)
                            if "error" in res:
                                gave_up[t] = res
                                results[s][t].append(res)
                                print(f"  {s} {t} setup: {res}", file=sys.stderr)
                                continue
                            setups[(t, kind)] = d
                    else:
                        d = work / f"{s}-{rnd}-{t}"
                    settle()
                    if kind:
                        warm(d)
                    res = measure(command(t, s, d, sizes, o.bin, False), o.timeout)
                    if not kind and s == "save_big":
                        shutil.rmtree(d, ignore_errors=True)
                    elif not kind:
                        deferred.append(d)
                    results[s][t].append(res)
                    if raw:
                        raw.write(json.dumps(dict(res, tool=t, scenario=s, round=rnd)) + "\n")
                        raw.flush()
                    if "error" in res:
                        gave_up[t] = res
                    if o.verbose or "error" in res:
                        shown = fmt_secs(res["secs"]) if "secs" in res else res
                        print(f"  {s} round {rnd} {t}: {shown}", file=sys.stderr)
            # Drop stored data no later scenario reads.
            later = {SETUP_KIND.get(x) for x in scenarios[si + 1:]}
            for (t, kind), d in list(setups.items()):
                if kind not in later:
                    if kind == "big":
                        shutil.rmtree(d, ignore_errors=True)
                    else:
                        deferred.append(d)
                    del setups[(t, kind)]
    finally:
        if raw:
            raw.close()
        for d in list(setups.values()) + deferred:
            shutil.rmtree(d, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)
        # The inodes just freed would slow what runs next (see settle()).
        settle()

    load_end = loadavg()
    minutes = (time.time() - started) / 60
    report(o, scenarios, tools, why_not, results, load_start, load_end, minutes)


def median_of(samples, key="secs"):
    vals = [r[key] for r in samples if key in r]
    return statistics.median(vals) if vals else None


def cell(tool, s, why_not, results):
    if s not in SUPPORT[tool]:
        return "—"
    if why_not[tool]:
        return why_not[tool].split(" (")[0]
    samples = results[s][tool]
    m = median_of(samples)
    errs = [r["error"] for r in samples if "error" in r]
    if m is None:
        return errs[0] if errs else "—"
    if errs:
        # Some rounds ran, a later one did not (and was not retried).
        return f"{fmt_secs(m)} (then {errs[0]})"
    return fmt_secs(m)


def ahead(s, tools, why_not, results):
    py = [(median_of(results[s][t]), t) for t in tools
          if t in PY_TOOLS and s in SUPPORT[t] and not why_not[t]]
    py_ok = [(m, t) for m, t in py if m is not None]
    py_failed = [t for m, t in py if m is None]
    if not py_ok and not py_failed:
        return "no Python tool ran"
    parts = []
    for t, label in (("persist-fast", "fast"), ("persist", "default")):
        if t not in tools or why_not[t]:
            continue
        m = median_of(results[s][t])
        if m is None:
            parts.append(f"{label}: failed")
            continue
        if not py_ok:
            parts.append(f"{label}: yes (every Python tool timed out or failed)")
            continue
        best, name = min(py_ok)
        verdict = "yes" if m < best else "no"
        parts.append(f"{label}: {verdict}, {m / best:.2f}× {name}")
    return "; ".join(parts)


def report(o, scenarios, tools, why_not, results, load_start, load_end, minutes):
    print(f"persist against the Python tools ({'quick, ' if o.quick else ''}{describe(o)})")
    print(f"load average {load_start:.2f} at the start, {load_end:.2f} at the end; "
          f"{minutes:.1f} minutes; median seconds per scenario, lower is better")
    print()
    head = ["scenario"] + tools + ["persist ahead?"]
    print("| " + " | ".join(head) + " |")
    print("|" + "|".join("---" for _ in head) + "|")
    for s in scenarios:
        row = [s] + [cell(t, s, why_not, results) for t in tools] + [ahead(s, tools, why_not, results)]
        print("| " + " | ".join(row) + " |")

    if "autoinc" in scenarios:
        print()
        print("autoinc, mean seconds of one save: the first vs the last of the run")
        print()
        print("| tool | first | last | last / first |")
        print("|---|---|---|---|")
        for t in tools:
            if "autoinc" not in SUPPORT[t] or why_not[t]:
                continue
            first = median_of(results["autoinc"][t], "first_mean_s")
            last = median_of(results["autoinc"][t], "last_mean_s")
            if first is None or last is None:
                print(f"| {t} | {cell(t, 'autoinc', why_not, results)} | | |")
                continue
            window = next(r["window"] for r in results["autoinc"][t] if "window" in r)
            print(f"| {t} | {fmt_secs(first)} (first {window}) | {fmt_secs(last)} (last {window}) "
                  f"| {last / first:.2f} |")

    print()
    print("peak RSS of the measuring process, MB (largest over the rounds)")
    print()
    print("| scenario | " + " | ".join(tools) + " |")
    print("|---|" + "|".join("---" for _ in tools) + "|")
    for s in scenarios:
        row = [s]
        for t in tools:
            peaks = [r["peak_rss_mb"] for r in results[s][t] if "peak_rss_mb" in r]
            row.append(f"{max(peaks):.0f}" if peaks else "")
        print("| " + " | ".join(row) + " |")

    notes = [f"{t}: {why_not[t]}" for t in tools if why_not[t]]
    for s in scenarios:
        for t in tools:
            for r in results[s][t]:
                if r.get("error") == "failed":
                    notes.append(f"{s} {t}: failed: {r.get('detail', '')}")
    if notes:
        print()
        for n in notes:
            print(f"- {n}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)

    def sizes_args(p, quick_defaults=False):
        p.add_argument("--array-mb", type=int, default=None if quick_defaults else 256)
        p.add_argument("--small", type=int, default=None if quick_defaults else 10_000)
        p.add_argument("--autoinc", type=int, default=None if quick_defaults else 2_000)

    r = sub.add_parser("run", help="the driver")
    r.add_argument("--bin", help="the persist bench binary (cargo bench -p persist-core --bench peers --no-run)")
    r.add_argument("--quick", action="store_true",
                   help="array 16 MB, 500 small records, 200 autoinc saves, 1 round: about a minute")
    r.add_argument("--rounds", type=int, default=None, help="rounds (3; --quick: 1)")
    r.add_argument("--only", type=lambda v: v.split(","), default=None,
                   help="scenarios, comma-separated: " + ",".join(SCENARIOS))
    r.add_argument("--tools", type=lambda v: v.split(","), default=None,
                   help="tools, comma-separated: " + ",".join(TOOLS))
    r.add_argument("--timeout", type=float, default=None,
                   help="seconds one measurement may take before it is shown as timeout (600; --quick: 120)")
    r.add_argument("--dir", default=None,
                   help="where the stores go (default: target/tmp/peers in the repository)")
    r.add_argument("-v", "--verbose", action="store_true", help="every sample on stderr")
    r.add_argument("--raw", default=None, help="also write every sample to this file, one JSON object a line")
    sizes_args(r, quick_defaults=True)

    c = sub.add_parser("child", help="one measurement of a Python tool")
    c.add_argument("--tool", required=True, choices=PY_TOOLS)
    c.add_argument("--scenario", required=True, choices=SCENARIOS)
    c.add_argument("--dir", required=True)
    c.add_argument("--setup", action="store_true")
    sizes_args(c)

    a = ap.parse_args()
    if a.cmd == "child":
        child(a)
        return
    quick = {"array_mb": 16, "small": 500, "autoinc": 200, "rounds": 1, "timeout": 120}
    full = {"array_mb": 256, "small": 10_000, "autoinc": 2_000, "rounds": 3, "timeout": 600}
    preset = quick if a.quick else full
    for k, v in preset.items():
        if getattr(a, k) is None:
            setattr(a, k, v)
    a.rounds = max(1, a.rounds)
    if a.dir is None:
        a.dir = str(Path(__file__).resolve().parents[2] / "target" / "tmp" / "peers")
    run(a)


if __name__ == "__main__":
    main()
