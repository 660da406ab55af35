#!/usr/bin/python3
"""test/bench/xgboost.py -- the work of test/bench/xgboost.sh (run that, not this).

Connects with the libpq environment (PGHOST, PGPORT, PGUSER, PGDATABASE), creates a
fresh database with a table t(x1..x10 float8, y float8) of BENCH_ROWS rows, y a
nonlinear function of x1..x8 plus uniform noise (x9, x10 are noise features), and
compares, for XGBoost regression with 100 rounds, max_depth 6, tree_method hist:

in the database (serial: max_parallel_workers_per_gather = 0; the aggregate has no
combine function, so its plan is serial anyway), mlsys.xgboost_threads = 1:
  S0  SELECT count(*) FROM t                                  (a plain scan)
  S1  SELECT sum(array_length(ARRAY[x1..x10], 1)) FROM t      (scan + the feature array)
  F1  ml_xgboost_fit with n_estimators 1                      (diag: collection, DMatrix,
                                                               one round)
  F   SELECT ml_xgboost_fit(y, ARRAY[x1..x10], '{"n_estimators": 100, "max_depth": 6,
      "tree_method": "hist"}') FROM t                         (ours: the aggregate)
  F2  F with SET mlsys.xgboost_threads = 2                     (diag)
  T   SELECT * FROM ml_train('bench_xgb', 'xgboost', 't', 'y', ARRAY['x1', ..],
      <the same params>, 0)                                   (ours: the whole fit)
and in this Python process, what a Python user pays: the export (binary COPY into
memory, parsed with np.frombuffer into a float32 array -- the fastest of the ways
tried; cursor.fetchall is timed once for comparison), then xgb.DMatrix(X, label=y) and
xgb.train with the same parameters, nthread=1 (and nthread=2 for information).

Batch prediction over all rows, serial and with 2 parallel workers:
  A   SELECT sum(x1 + ... + x10) FROM t                       (baseline: one scan)
  d1  SELECT sum(cardinality(ARRAY[x1..x10])) FROM t          (diag: scan + array)
  E   SELECT sum(ml_predict('bench_xgb', ARRAY[x1..x10])) FROM t   (ours, by name)
  E2  the same with the model value as a literal              (diag, serial only)
vs bst.predict(xgb.DMatrix(X)) and bst.inplace_predict(X) on the exported array,
nthread 1 (vs serial) and 2 (vs parallel).

Timing is client-side: time.perf_counter() around cursor.execute() + fetchall() with
psycopg2 over the local socket, as in test/bench/linreg.py; F returns the model (its
text form, some 100s of kB), which is part of its time. Each query has a session of its
own (see linreg.py's Bench.measure_all). Training queries: one warm-up run each
(EXPLAIN ANALYZE for the plain queries; for ml_train one run with auto_explain
reporting the durations of the statements it runs), then BENCH_REPS rounds
round-robin; median. Prediction queries: see BENCH_PREDICT_BUDGET in xgboost.sh.

Sanity (an error if it fails): XGBoost with nthread=1 is deterministic, so the model
trained in the database and the one trained in Python on the same float32 data must
predict the same: on every row (the in-database booster loaded in Python), for 1000
rows through ml_predict (by name and by value), and in the batch sums.
"""
import base64
import collections
import hashlib
import io
import json
import os
import statistics
import sys
import time

# This file is named xgboost.py: its directory (sys.path[0] when run as a script) must
# not shadow the xgboost package.
_here = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _here]

import numpy as np  # noqa: E402
import psycopg2  # noqa: E402
import xgboost as xgb  # noqa: E402

ROWS = int(os.environ.get("BENCH_ROWS", "1000000"))
REPS = int(os.environ.get("BENCH_REPS", "3"))
PREDICT_BUDGET = float(os.environ.get("BENCH_PREDICT_BUDGET", "60"))
JIT = os.environ.get("BENCH_JIT", "default")
DIAG = os.environ.get("BENCH_DIAG", "1") != "0"
KEEP_DB = os.environ.get("BENCH_KEEP_DB", "0") == "1"
TARGET_FIT = 1.2   # in-database training <= 1.2x xgboost's own fit (DMatrix + train)
TARGET_E2E = 1.0   # in-database training < export + fit

K = 10
ROUNDS = 100
DEPTH = 6
SEED = 0.42
XS = [f"x{j}" for j in range(1, K + 1)]
ARRAY = "ARRAY[" + ", ".join(XS) + "]"
MODEL = "bench_xgb"
PARAMS = {"n_estimators": ROUNDS, "max_depth": DEPTH, "tree_method": "hist"}
PARAMS_SQL = "'" + json.dumps(PARAMS) + "'"
PARAMS_1 = dict(PARAMS, n_estimators=1)
# xgb.train's parameters for the same model (reg:squarederror and seed 0 are both
# sides' defaults; spelt out here)
PY_PARAMS = {"objective": "reg:squarederror", "max_depth": DEPTH, "tree_method": "hist",
             "seed": 0}
# x_j uniform on [0, 2j); y nonlinear in x1..x8, plus uniform noise on [-1, 1)
Y_SQL = ("3 * sin(1.5 * x1) + 0.2 * x2 * x3 + 2 * (x4 > 4)::int + sqrt(x5) + ln(1 + x6)"
         " - 0.05 * x7 * x7 + 0.1 * x8 + (random() - 0.5) * 2")
PRED_TOL = 1e-5    # |prediction difference| / max(1, |prediction|), float32 maths

MODES = {
    "serial": ["SET max_parallel_workers_per_gather = 0"],
    "parallel": ["SET max_parallel_workers_per_gather = 2",
                 "SET parallel_setup_cost = 0",
                 "SET parallel_tuple_cost = 0",
                 "SET min_parallel_table_scan_size = 0"],
}
AUTO_EXPLAIN = ["LOAD 'auto_explain'",
                "SET auto_explain.log_min_duration = 0",
                "SET auto_explain.log_nested_statements = on",
                "SET auto_explain.log_analyze = off",
                "SET auto_explain.log_format = json",
                "SET auto_explain.log_level = notice"]


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def sql_str(s):
    return "'" + s.replace("'", "''") + "'"


def plan_shape(node):
    """'Finalize Aggregate > Gather[2/2] > Partial Aggregate > Parallel Seq Scan on t'."""
    parts = []
    while node is not None:
        name = node["Node Type"]
        if node.get("Partial Mode") and node["Partial Mode"] != "Simple":
            name = f"{node['Partial Mode']} {name}"
        if node.get("Parallel Aware"):
            name = f"Parallel {name}"
        if "Relation Name" in node:
            name += f" on {node['Relation Name']}"
        if node["Node Type"] in ("Gather", "Gather Merge"):
            name += f"[planned {node.get('Workers Planned')}, launched {node.get('Workers Launched')}]"
        parts.append(name)
        kids = [k for k in node.get("Plans", []) if k.get("Parent Relationship") != "InitPlan"]
        node = kids[0] if kids else None
    return " > ".join(parts)


def gather_info(node):
    """(planned, launched) of the first Gather node, or None."""
    if node["Node Type"] in ("Gather", "Gather Merge"):
        return node.get("Workers Planned"), node.get("Workers Launched")
    for k in node.get("Plans", []):
        g = gather_info(k)
        if g:
            return g
    return None


def scans_of(node, rel):
    """Does the plan scan relation rel?"""
    if node.get("Relation Name") == rel:
        return True
    return any(scans_of(k, rel) for k in node.get("Plans", []))


def session(dbname, mode=None, setup=()):
    """A new autocommit connection (and cursor), in the given mode and BENCH_JIT."""
    conn = psycopg2.connect(dbname=dbname)
    conn.autocommit = True
    conn.notices = collections.deque(maxlen=100000)
    cur = conn.cursor()
    if JIT != "default":
        cur.execute(f"SET jit = {JIT}")
    for s in MODES.get(mode, []):
        cur.execute(s)
    for s in setup:
        cur.execute(s)
    return conn, cur


def median(xs):
    return statistics.median(xs)


def timed(f, *args, **kw):
    t0 = time.perf_counter()
    r = f(*args, **kw)
    return (time.perf_counter() - t0) * 1000.0, r


def fmt_times(ts):
    return ", ".join(f"{t:.0f}" for t in ts)


class Bench:
    def __init__(self, dbname):
        self.dbname = dbname
        self.conn, self.cur = session(dbname)  # setup and checks; no timing
        self.results = {}  # (query, mode) -> dict

    def close(self):
        self.conn.close()

    def q(self, sql, args=None, cur=None):
        cur = cur or self.cur
        cur.execute(sql, args)
        return cur.fetchall() if cur.description else None

    def explain(self, key, sql, mode, cur, analyze):
        """EXPLAIN (ANALYZE: also the warm-up run): checks the plan, notes workers and JIT."""
        opts = "ANALYZE, FORMAT JSON" if analyze else "FORMAT JSON"
        plan = self.q(f"EXPLAIN ({opts}) " + sql, cur=cur)[0][0][0]
        top = plan["Plan"]
        g = gather_info(top)
        if mode == "serial" and g is not None:
            raise SystemExit(f"{key}: serial plan has a Gather: {plan_shape(top)}")
        if mode == "parallel":
            if g is None:
                raise SystemExit(f"{key}: the plan is not parallel: {plan_shape(top)}")
            if analyze and g[1] != 2:
                log(f"WARNING {key}: {g[1]} of {g[0]} workers launched "
                    "(max_worker_processes / max_parallel_workers?)")
        jit = plan.get("JIT")
        return {"times": [], "shape": plan_shape(top), "workers": g, "digests": set(),
                "jit": None if jit is None or not analyze
                else (jit.get("Functions"), jit.get("Timing", {}).get("Total"))}

    def measure_all(self, queries, mode, budget=None):
        """Warm up every query, then time them round-robin (so a burst of load from
        elsewhere on the machine hits all queries alike), each in a session of its own.

        queries: (key, label, sql, setup statements, warm-up) with warm-up one of
        "explain" (EXPLAIN ANALYZE), "none" (plain EXPLAIN, no run) or a function
        (bench, cursor, connection) that does the warm-up run and returns the result
        record. Without a budget: REPS rounds. With one (seconds): up to REPS rounds,
        at least one, and no round is started that would (at the pace so far) end
        beyond the budget."""
        sessions = {key: session(self.dbname, mode, setup) for key, _, _, setup, _ in queries}
        try:
            for key, _, sql, _, warm in queries:
                conn, cur = sessions[key]
                if callable(warm):
                    r = warm(self, cur, conn)
                else:
                    r = self.explain(key, sql, mode, cur, warm == "explain")
                self.results[(key, mode)] = r
            t_start = time.perf_counter()
            for rnd in range(REPS):
                if budget is not None and rnd > 0:
                    spent = time.perf_counter() - t_start
                    if spent + spent / rnd > budget:
                        log(f"{mode}: {rnd} round(s) of prediction queries ({spent:.0f} s); "
                            f"another would pass BENCH_PREDICT_BUDGET={budget:g} s")
                        break
                for key, _, sql, _, _ in queries:
                    cur = sessions[key][1]
                    t0 = time.perf_counter()
                    cur.execute(sql)
                    rows = cur.fetchall()
                    r = self.results[(key, mode)]
                    r["times"].append((time.perf_counter() - t0) * 1000.0)
                    r["value"] = rows[0]
                    r["digests"].add(hashlib.sha1(repr(rows[0]).encode()).hexdigest())
        finally:
            for conn, _ in sessions.values():
                conn.close()
        for key, _, _, _, _ in queries:
            r = self.results[(key, mode)]
            t = r["times"]
            r["median"], r["min"] = median(t), min(t)
            jit = ""
            if r["jit"] is not None:
                jit = f", JIT: {r['jit'][0]} functions, {r['jit'][1]:.0f} ms in the leader"
            log(f"{key:<3} {mode:<8} median {r['median']:9.1f} ms (min {min(t):.1f}, "
                f"max {max(t):.1f}, {len(t)} runs{jit})  {r['shape']}")


def train_warm_up(b, cur, conn):
    """ml_train's warm-up run, with auto_explain reporting every statement it runs and
    its duration (log_analyze off: not instrumented); auto_explain is then silenced
    for the timed runs of this session."""
    conn.notices.clear()
    t0 = time.perf_counter()
    b.q(TRAIN_SQL, cur=cur)
    ms = (time.perf_counter() - t0) * 1000.0
    notices = list(conn.notices)
    b.q("SET auto_explain.log_min_duration = -1", cur=cur)
    stmts = []
    for n in notices:
        i = n.find("{")
        if "plan:" not in n or i < 0:
            continue
        try:
            d = float(n.split("duration:")[1].split("ms")[0])
            p = json.loads(n[i:])
        except (ValueError, IndexError):
            continue
        if "ml_train" in p.get("Query Text", ""):
            continue  # the statement itself
        stmts.append((d, p))
    log(f"T warm-up run with auto_explain: {ms:.0f} ms, {len(stmts)} statements inside")
    for d, p in stmts:
        if d >= 1.0 or scans_of(p["Plan"], "t"):
            log(f"    {d:8.1f} ms  {plan_shape(p['Plan'])}: {p['Query Text'][:140]}")
    return {"times": [], "shape": "ml_train (SPI statements: see above)", "workers": None,
            "digests": set(), "jit": None, "warm_ms": ms, "stmts": stmts}


TRAIN_SQL = (f"SELECT * FROM ml_train('{MODEL}', 'xgboost', 't', 'y', ARRAY["
             + ", ".join(f"'{x}'" for x in XS) + f"], {PARAMS_SQL}, 0)")


# ---------------------------------------------------------------- Python side

COPY_SQL = "COPY (SELECT " + ", ".join(XS) + ", y FROM t) TO STDOUT (FORMAT binary)"
# Binary COPY row: int16 field count, then per field int32 length + value (no NULLs).
ROW_DTYPE = np.dtype([("nf", ">i2")]
                     + [f for c in XS + ["y"] for f in ((f"l_{c}", ">i4"), (c, ">f8"))])


def export_copy_binary(dbname):
    """COPY ... TO STDOUT (FORMAT binary) into memory, parsed with np.frombuffer into
    a float32 X (row-major, as xgb.DMatrix wants it) and y."""
    conn = psycopg2.connect(dbname=dbname)
    try:
        buf = io.BytesIO()
        conn.cursor().copy_expert(COPY_SQL, buf)
    finally:
        conn.close()
    data = buf.getbuffer()
    if bytes(data[:11]) != b"PGCOPY\n\xff\r\n\x00":
        raise SystemExit("binary COPY: bad signature")
    ext = int.from_bytes(data[15:19], "big")
    start = 19 + ext
    body = len(data) - start - 2
    if body % ROW_DTYPE.itemsize or bytes(data[-2:]) != b"\xff\xff":
        raise SystemExit("binary COPY: unexpected layout (NULLs?)")
    rec = np.frombuffer(data, dtype=ROW_DTYPE, count=body // ROW_DTYPE.itemsize, offset=start)
    if not ((rec["nf"] == K + 1).all() and all((rec[f"l_{c}"] == 8).all() for c in XS + ["y"])):
        raise SystemExit("binary COPY: unexpected field count or lengths (NULLs?)")
    X = np.empty((len(rec), K), dtype=np.float32)
    for j, x in enumerate(XS):
        X[:, j] = rec[x]
    y = rec["y"].astype(np.float32)
    del rec, data
    buf.close()
    return X, y


def export_fetchall(dbname):
    """cursor.execute + fetchall (Python tuples of floats) into numpy float32."""
    conn = psycopg2.connect(dbname=dbname)
    try:
        cur = conn.cursor()
        cur.execute("SELECT " + ", ".join(XS) + ", y FROM t")
        rows = cur.fetchall()
    finally:
        conn.close()
    a = np.array(rows, dtype=np.float32)
    return np.ascontiguousarray(a[:, :K]), np.ascontiguousarray(a[:, K])


def py_fit(X, y, nthread):
    """(DMatrix ms, train ms, booster)."""
    ms_d, d = timed(xgb.DMatrix, X, label=y, nthread=nthread)
    ms_t, bst = timed(xgb.train, dict(PY_PARAMS, nthread=nthread), d, num_boost_round=ROUNDS)
    del d
    return ms_d, ms_t, bst


def predict_dmatrix(bst, X, nthread):
    return bst.predict(xgb.DMatrix(X, nthread=nthread))


def booster_of(model_text):
    """The XGBoost booster inside an mlmodel's text form (JSON, booster in base64)."""
    raw = base64.b64decode(json.loads(model_text)["booster"])
    return xgb.Booster(model_file=bytearray(raw))


def rel_diff(a, b):
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return float((np.abs(a - b) / np.maximum(1.0, np.abs(b))).max())


# ---------------------------------------------------------------- main

def main():
    t_start = time.time()
    admin = psycopg2.connect("")
    admin.autocommit = True
    acur = admin.cursor()
    acur.execute("SELECT version()")
    log(acur.fetchone()[0])
    db = f"mlsys_bench_xgboost_{os.getpid()}"
    acur.execute(f"DROP DATABASE IF EXISTS {db}")
    acur.execute(f"CREATE DATABASE {db}")
    try:
        b = Bench(db)
        try:
            run(b)
        finally:
            b.close()
    finally:
        if not KEEP_DB:
            acur.execute(f"DROP DATABASE IF EXISTS {db}")
        else:
            log(f"kept database {db}")
        admin.close()
    log(f"total run time {time.time() - t_start:.0f} s")


def run(b):
    b.q("CREATE EXTENSION mlsys")
    settings = {r[0]: r[1] for r in b.q(
        "SELECT name, setting || coalesce(unit, '') FROM pg_settings WHERE name IN "
        "('jit', 'shared_buffers', 'max_worker_processes', 'max_parallel_workers', "
        " 'work_mem', 'shared_preload_libraries', 'mlsys.xgboost_threads', "
        " 'mlsys.xgboost_memory_limit')")}
    log("settings: " + ", ".join(f"{k}={v}" for k, v in sorted(settings.items())))
    if settings.get("mlsys.xgboost_threads") != "1":
        log("WARNING: mlsys.xgboost_threads is not 1 on this server; the sessions here "
            "set it to 1 (F2: 2)")
    log(f"pg_jit_available(): {b.q('SELECT pg_jit_available()')[0][0]}; "
        f"cpus: {os.cpu_count()}; rows: {ROWS}; reps: {REPS} (+1 warm-up); "
        f"prediction budget per mode: {PREDICT_BUDGET:g} s")
    log(f"python: xgboost {xgb.__version__} ({os.path.dirname(xgb.__file__)}), "
        f"numpy {np.__version__}, psycopg2 {psycopg2.__version__.split()[0]}")

    # ---------------------------------------------------------------- data
    log("creating table t")
    t0 = time.time()
    b.q("CREATE TABLE t (" + ", ".join(f"{x} float8" for x in XS) + ", y float8)")
    gen = ", ".join(f"random() * {2 * j} AS x{j}" for j in range(1, K + 1))
    b.q("SELECT setseed(%s)", (SEED,))
    # OFFSET 0 keeps the subquery (and its random() calls) from being flattened.
    b.q(f"INSERT INTO t SELECT s.*, {Y_SQL} FROM "
        f"(SELECT {gen} FROM generate_series(1, {ROWS}) OFFSET 0) s")
    b.q("VACUUM ANALYZE t")
    size = b.q("SELECT pg_size_pretty(pg_table_size('t')), "
               "(SELECT relpages FROM pg_class WHERE relname = 't'), avg(y), stddev(y) FROM t")[0]
    log(f"table t: {ROWS} rows, {size[0]} ({size[1]} pages), y mean {size[2]:.3f} sd "
        f"{size[3]:.3f}, built in {time.time() - t0:.1f} s")
    log(f"y = {Y_SQL}")

    # ---------------------------------------------------------------- training (SQL)
    threads1 = ["SET mlsys.xgboost_threads = 1"]
    qs0 = "SELECT count(*) FROM t"
    qs1 = f"SELECT sum(array_length({ARRAY}, 1)) FROM t"
    qf = f"SELECT ml_xgboost_fit(y, {ARRAY}, {PARAMS_SQL}) FROM t"
    qf1 = f"SELECT ml_xgboost_fit(y, {ARRAY}, '{json.dumps(PARAMS_1)}') FROM t"
    train_q = [
        ("S0", "scan: count(*)", qs0, threads1, "explain"),
        ("S1", "scan + sum(array_length(ARRAY[..]))", qs1, threads1, "explain"),
    ]
    if DIAG:
        train_q.append(("F1", "ml_xgboost_fit, n_estimators 1", qf1, threads1, "explain"))
    train_q.append(("F", "ours: ml_xgboost_fit (aggregate)", qf, threads1, "explain"))
    if DIAG:
        train_q.append(("F2", "F, mlsys.xgboost_threads = 2", qf,
                        ["SET mlsys.xgboost_threads = 2"], "explain"))
    train_q.append(("T", "ours: ml_train(.., test_fraction 0)", TRAIN_SQL,
                    threads1 + AUTO_EXPLAIN, train_warm_up))
    log(f"query F: {qf}")
    log(f"query T: {TRAIN_SQL}")
    log(f"timing training, serial ({1 + REPS} runs of each, the first a warm-up)")
    b.measure_all(train_q, "serial")
    R = b.results

    # the models
    f_text = R[("F", "serial")]["value"][0]
    if len(R[("F", "serial")]["digests"]) != 1:
        log("WARNING: the timed runs of F returned different models (not deterministic?)")
    if DIAG and R[("F2", "serial")]["digests"] != R[("F", "serial")]["digests"]:
        log("note: F2 (2 threads) gave another model than F (1 thread): hist sums in "
            "another order")
    t_version = R[("T", "serial")]["value"][1]
    t_text, t_info = b.q(
        "SELECT v.model::text, v.training_info FROM ml.model_versions v JOIN ml.models m "
        "USING (model_id) WHERE m.name = %s AND v.version = %s", (MODEL, t_version))[0]
    n_versions = b.q("SELECT count(*) FROM ml.model_versions v JOIN ml.models m "
                     "USING (model_id) WHERE m.name = %s", (MODEL,))[0][0]
    deployed = b.q("SELECT deployed_version FROM ml.models WHERE name = %s", (MODEL,))[0][0]
    log(f"F model: {len(f_text)} chars of text; T: {n_versions} versions of '{MODEL}', "
        f"last {t_version} (training_info {json.dumps(t_info)}), deployed {deployed}")
    bst_f = booster_of(f_text)
    bst_t = booster_of(t_text)
    log(f"F's booster: {bst_f.num_boosted_rounds()} rounds, {bst_f.num_features()} features; "
        f"T's: {bst_t.num_boosted_rounds()} rounds")
    if bst_f.num_boosted_rounds() != ROUNDS or bst_t.num_boosted_rounds() != ROUNDS:
        raise SystemExit(f"SANITY: a booster does not have {ROUNDS} rounds")

    # ---------------------------------------------------------------- Python: export
    log(f"python: export, {REPS} runs: {COPY_SQL}")
    exp_copy = []
    for _ in range(REPS):
        ms, (X, y) = timed(export_copy_binary, b.dbname)
        exp_copy.append(ms)
    log(f"export COPY binary + np.frombuffer -> float32: median {median(exp_copy):.0f} ms "
        f"({fmt_times(exp_copy)}); X {X.shape} {X.dtype}, {X.nbytes / 2**20:.0f} MiB")
    exports = {"COPY TO STDOUT (FORMAT binary) + np.frombuffer": median(exp_copy)}
    if DIAG:
        ms, (X2, y2) = timed(export_fetchall, b.dbname)
        if not (np.array_equal(X, X2) and np.array_equal(y, y2)):
            raise SystemExit("SANITY: fetchall and binary COPY exports differ")
        del X2, y2
        exports["cursor.fetchall() + np.array (1 run)"] = ms
        log(f"export cursor.fetchall + np.array: {ms:.0f} ms (1 run; same arrays as COPY)")
    export_how = min(exports, key=exports.get)
    export_ms = exports[export_how]
    if len(y) != ROWS:
        raise SystemExit(f"SANITY: exported {len(y)} rows")

    # ---------------------------------------------------------------- Python: fit
    py = {}
    for nt in (1, 2):
        ds, ts = [], []
        for _ in range(REPS):
            ms_d, ms_t, bst = py_fit(X, y, nt)
            ds.append(ms_d)
            ts.append(ms_t)
        py[nt] = {"dmatrix": median(ds), "train": median(ts),
                  "fit": median([d + t for d, t in zip(ds, ts)]), "bst": bst}
        log(f"python nthread={nt}: DMatrix median {median(ds):.0f} ms ({fmt_times(ds)}), "
            f"xgb.train median {median(ts):.0f} ms ({fmt_times(ts)})")
    bst_py = py[1]["bst"]

    # ---------------------------------------------------------------- sanity (models)
    bst_py.set_param({"nthread": 2})
    p_py = bst_py.inplace_predict(X)
    for name, bst in [("F (ml_xgboost_fit)", bst_f), ("T (ml_train)", bst_t),
                      ("python nthread=2", py[2]["bst"])]:
        bst.set_param({"nthread": 2})
        d = rel_diff(bst.inplace_predict(X), p_py)
        log(f"sanity: {name} vs python nthread=1, predictions on all {ROWS} rows: "
            f"max |diff| / max(1, |pred|) {d:.1e}")
        if d > PRED_TOL and not name.startswith("python"):
            raise SystemExit(f"SANITY: {name} predicts otherwise than xgboost trained in "
                             f"Python on the same data (limit {PRED_TOL:g})")
    f_lit = sql_str(f_text) + "::mlmodel"
    sample = b.q("SELECT " + ", ".join(XS) + f", ml_predict('{MODEL}', {ARRAY}), "
                 f"ml_predict({f_lit}, {ARRAY}) FROM t LIMIT 1000")
    Xs = np.array([r[:K] for r in sample], dtype=np.float32)
    ps = bst_py.inplace_predict(Xs)
    d_name = rel_diff([r[K] for r in sample], ps)
    d_value = rel_diff([r[K + 1] for r in sample], ps)
    log(f"sanity: ml_predict on 1000 rows vs python's model: by name ('{MODEL}', from "
        f"ml_train) {d_name:.1e}, by value (F's model) {d_value:.1e} (limit {PRED_TOL:g})")
    if max(d_name, d_value) > PRED_TOL:
        raise SystemExit("SANITY: ml_predict disagrees with xgboost in Python")
    rmse = float(np.sqrt(np.mean((p_py.astype(np.float64) - y) ** 2)))
    log(f"training RMSE {rmse:.4f} (noise alone: {2 / np.sqrt(12):.4f}; y sd {size[3]:.3f})")

    # ---------------------------------------------------------------- prediction (SQL)
    qa = "SELECT sum(" + " + ".join(XS) + ") FROM t"
    qd1 = f"SELECT sum(cardinality({ARRAY})) FROM t"
    qe = f"SELECT sum(ml_predict('{MODEL}', {ARRAY})) FROM t"
    qe2 = f"SELECT sum(ml_predict({f_lit}, {ARRAY})) FROM t"
    pred_q = {
        "serial": [("A", "baseline: sum(x1 + .. + x10)", qa, threads1, "explain"),
                   ("d1", "sum(cardinality(ARRAY[..]))", qd1, threads1, "explain"),
                   ("E", "ours: sum(ml_predict(name, ..))", qe, threads1, "none")],
        "parallel": [("A", "baseline: sum(x1 + .. + x10)", qa, threads1, "explain"),
                     ("d1", "sum(cardinality(ARRAY[..]))", qd1, threads1, "explain"),
                     ("E", "ours: sum(ml_predict(name, ..))", qe, threads1, "none")],
    }
    if DIAG:
        pred_q["serial"].append(("E2", "sum(ml_predict(<model value>, ..))", qe2, threads1, "none"))
    log(f"query E: {qe}")
    for mode in MODES:
        log(f"timing batch prediction, {mode}")
        b.measure_all(pred_q[mode], mode, budget=PREDICT_BUDGET)

    # ---------------------------------------------------------------- Python: predict
    pp = {}
    for nt in (1, 2):
        bst_py.set_param({"nthread": nt})
        dm, ip = [], []
        for _ in range(REPS):
            ms, pd = timed(predict_dmatrix, bst_py, X, nt)
            dm.append(ms)
            ms, pi = timed(bst_py.inplace_predict, X)
            ip.append(ms)
        if not np.array_equal(pd, pi):
            log(f"note: predict(DMatrix) and inplace_predict differ by up to "
                f"{np.abs(pd - pi).max():.1e}")
        pp[nt] = {"dmatrix": median(dm), "inplace": median(ip),
                  "sum": float(np.sum(pd, dtype=np.float64))}
        log(f"python nthread={nt}: predict(DMatrix(X)) median {median(dm):.0f} ms "
            f"({fmt_times(dm)}), inplace_predict(X) median {median(ip):.0f} ms ({fmt_times(ip)})")
    per_call_us = None
    if DIAG:
        bst_py.set_param({"nthread": 1})
        n = min(10000, ROWS)
        rows1 = [X[i:i + 1] for i in range(n)]
        bst_py.inplace_predict(rows1[0])
        t0 = time.perf_counter()
        for r in rows1:
            bst_py.inplace_predict(r)
        per_call_us = (time.perf_counter() - t0) / n * 1e6
        log(f"python: one-row inplace_predict calls, nthread=1: {per_call_us:.1f} us per call "
            f"({n} calls)")

    for mode in MODES:
        e = float(R[("E", mode)]["value"][0])
        d = abs(e - pp[1]["sum"]) / abs(pp[1]["sum"])
        log(f"sanity ({mode}): sum(ml_predict) {e!r} vs python sum(predict) "
            f"{pp[1]['sum']!r}: relative diff {d:.1e} (limit 1e-6)")
        if d > 1e-6:
            raise SystemExit("SANITY: the batch prediction sums disagree")
        if int(R[("d1", mode)]["value"][0]) != ROWS * K:
            raise SystemExit(f"SANITY: d1 ({mode}) != {ROWS * K}")
    if DIAG and abs(float(R[("E2", "serial")]["value"][0]) - pp[1]["sum"]) / abs(pp[1]["sum"]) > 1e-6:
        raise SystemExit("SANITY: sum(ml_predict(<model value>)) disagrees")
    if int(R[("S0", "serial")]["value"][0]) != ROWS:
        raise SystemExit("SANITY: count(*) != rows")

    report(b, settings, exports, export_how, export_ms, py, pp, per_call_us, rmse)


def report(b, settings, exports, export_how, export_ms, py, pp, per_call_us, rmse):
    R = b.results

    def ms(key, mode="serial"):
        return R[(key, mode)]["median"]

    def runs(key, mode="serial"):
        return len(R[(key, mode)]["times"])

    fit1 = py[1]["fit"]
    e2e1 = export_ms + fit1
    print()
    print(f"xgboost benchmark: {ROWS} rows x {K} float8 features, regression "
          f"(reg:squarederror), {ROUNDS} rounds, max_depth {DEPTH}, tree_method hist; "
          f"client-side wall time (psycopg2), jit={settings['jit']}"
          + ("" if JIT == "default" else f" (BENCH_JIT={JIT})")
          + f"; xgboost {xgb.__version__}")
    print(f"training: median of {REPS} runs after 1 warm-up; in-database serial, "
          "mlsys.xgboost_threads = 1 unless said")
    print()
    print(f"{'in-database training (serial)':<52} {'median ms':>10} {'min ms':>10} {'runs':>5}")
    print("-" * 80)
    for key, label, *_ in [q for q in [("S0", "scan: count(*)"),
                                        ("S1", "scan + sum(array_length(ARRAY[x1..x10]))"),
                                        ("F1", "ml_xgboost_fit, n_estimators 1 (diag)"),
                                        ("F", "ours: ml_xgboost_fit, 100 rounds"),
                                        ("F2", "ml_xgboost_fit, mlsys.xgboost_threads=2 (diag)"),
                                        ("T", "ours: ml_train(.., test_fraction 0)")]
                           if (q[0], "serial") in R]:
        print(f"{key + '  ' + label:<52} {ms(key):>10.1f} {R[(key, 'serial')]['min']:>10.1f} "
              f"{runs(key):>5}")

    print()
    print(f"{'where in-database training time goes (medians)':<52} {'ms':>10}")
    print("-" * 64)
    rows = [("scan + ARRAY[x1..x10] per row (S1)", ms("S1"))]
    if ("F1", "serial") in R:
        rows += [("collect rows + DMatrix + 1 round, beyond S1 (F1 - S1)", ms("F1") - ms("S1")),
                 (f"{ROUNDS - 1} more rounds (F - F1)", ms("F") - ms("F1")),
                 ("  per round ((F - F1) / " + str(ROUNDS - 1) + ")",
                  (ms("F") - ms("F1")) / (ROUNDS - 1))]
    rows.append(("ml_train beyond the aggregate (T - F)", ms("T") - ms("F")))
    for label, v in rows:
        print(f"{label:<52} {v:>10.1f}")
    stmts = R[("T", "serial")]["stmts"]
    if stmts:
        print(f"ml_train's statements in its warm-up run (auto_explain durations):")
        for d, p in stmts:
            if d < 1.0 and not scans_of(p["Plan"], "t"):
                continue
            text = p["Query Text"]
            what = ("ml_xgboost_fit over the design rows" if "ml_xgboost_fit" in text
                    else "ml_bin_counts (input histograms)" if "ml_bin_counts" in text
                    else "count/avg/stddev/min/max per input" if "stddev_samp" in text
                    else text[:44])
            print(f"  {what:<50} {d:>10.1f}")
        rest = sum(d for d, p in stmts if d < 1.0 and not scans_of(p["Plan"], "t"))
        print(f"  {'other statements (registry, < 1 ms each)':<50} {rest:>10.1f}")
        print(f"  {'ml_train wall time of that run':<50} {R[('T', 'serial')]['warm_ms']:>10.1f}")

    print()
    print(f"python side: xgboost {xgb.__version__}, numpy {np.__version__}")
    print(f"{'step':<60} {'ms':>10}")
    print("-" * 72)
    for how, t in exports.items():
        print(f"{'export: ' + how + (' <- used' if how == export_how else ''):<60} {t:>10.1f}")
    for nt in (1, 2):
        tag = f"nthread={nt}" + ("" if nt == 1 else " (info)")
        print(f"{'DMatrix(X, label=y), ' + tag:<60} {py[nt]['dmatrix']:>10.1f}")
        print(f"{'xgb.train, ' + str(ROUNDS) + ' rounds, ' + tag:<60} {py[nt]['train']:>10.1f}")
        print(f"{'fit = DMatrix + train, ' + tag:<60} {py[nt]['fit']:>10.1f}")
    print(f"{'export + fit, nthread=1':<60} {e2e1:>10.1f}")
    print(f"{'export + fit, nthread=2':<60} {export_ms + py[2]['fit']:>10.1f}")
    print(f"{'(training RMSE of the model: ' + format(rmse, '.4f') + ')':<60}")

    print()
    print(f"{'training ratios (of medians)':<60} {'ratio':>8}")
    print("-" * 72)
    ratios = [("F / fit (1 thread)", ms("F") / fit1),
              ("F / (export + fit) (1 thread)", ms("F") / e2e1),
              ("T / fit (1 thread)", ms("T") / fit1),
              ("T / (export + fit) (1 thread)", ms("T") / e2e1),
              ("F / xgb.train alone (1 thread)", ms("F") / py[1]["train"])]
    if ("F2", "serial") in R:
        ratios += [("F2 / fit (both 2 threads)", ms("F2") / py[2]["fit"]),
                   ("F2 / (export + fit) (both 2 threads)", ms("F2") / (export_ms + py[2]["fit"]))]
    for label, r in ratios:
        print(f"{label:<60} {r:>7.2f}x")

    print()
    print(f"{'batch prediction over ' + str(ROWS) + ' rows':<48} {'serial ms':>10} "
          f"{'parallel ms':>12} {'runs s/p':>9}")
    print("-" * 82)
    for key, label in [("A", "baseline: sum(x1 + .. + x10)"),
                       ("d1", "sum(cardinality(ARRAY[x1..x10]))"),
                       ("E", "ours: sum(ml_predict('" + MODEL + "', ..))"),
                       ("E2", "sum(ml_predict(<model value>, ..)) (diag)")]:
        if (key, "serial") not in R:
            continue
        par = R.get((key, "parallel"))
        print(f"{key + '  ' + label:<48} {ms(key):>10.1f} "
              + (f"{par['median']:>12.1f}" if par else f"{'-':>12}")
              + f" {str(runs(key)) + '/' + (str(len(par['times'])) if par else '-'):>9}")
    print(f"{'python predict(DMatrix(X)), nthread 1 / 2':<48} {pp[1]['dmatrix']:>10.1f} "
          f"{pp[2]['dmatrix']:>12.1f} {REPS:>4}/{REPS}")
    print(f"{'python inplace_predict(X), nthread 1 / 2':<48} {pp[1]['inplace']:>10.1f} "
          f"{pp[2]['inplace']:>12.1f} {REPS:>4}/{REPS}")
    print(f"{'python export + predict(DMatrix(X))':<48} {export_ms + pp[1]['dmatrix']:>10.1f} "
          f"{export_ms + pp[2]['dmatrix']:>12.1f}")
    print()
    print(f"{'prediction ratios (serial: vs nthread 1; parallel: vs nthread 2)':<66} "
          f"{'serial':>7} {'parallel':>9}")
    print("-" * 84)
    for label, f in [("E / python predict(DMatrix(X))", lambda m, nt: ms("E", m) / pp[nt]["dmatrix"]),
                     ("E / python inplace_predict(X)", lambda m, nt: ms("E", m) / pp[nt]["inplace"]),
                     ("E / (export + predict(DMatrix(X)))",
                      lambda m, nt: ms("E", m) / (export_ms + pp[nt]["dmatrix"])),
                     ("E / baseline scan A", lambda m, nt: ms("E", m) / ms("A", m))]:
        print(f"{label:<66} {f('serial', 1):>6.2f}x {f('parallel', 2):>8.2f}x")
    us_row = (ms("E") - ms("d1")) * 1000.0 / ROWS
    print(f"{'ml_predict per row beyond scan + array ((E - d1) / rows), us':<66} {us_row:>7.2f}")
    print(f"{'python inplace_predict(X) per row, nthread 1, us':<66} "
          f"{pp[1]['inplace'] * 1000.0 / ROWS:>7.2f}")
    if per_call_us is not None:
        print(f"{'python inplace_predict of ONE row per call, nthread 1, us':<66} {per_call_us:>7.2f}")

    print()
    print("targets (issue), on the ratios of medians (1 thread on both sides):")
    for label, r, target, ok in [
            ("ml_xgboost_fit <= 1.2x xgboost's fit (DMatrix + train)", ms("F") / fit1,
             TARGET_FIT, ms("F") / fit1 <= TARGET_FIT),
            ("ml_train <= 1.2x xgboost's fit (DMatrix + train)", ms("T") / fit1,
             TARGET_FIT, ms("T") / fit1 <= TARGET_FIT),
            ("ml_xgboost_fit < export + fit", ms("F") / e2e1, TARGET_E2E, ms("F") / e2e1 < TARGET_E2E),
            ("ml_train < export + fit", ms("T") / e2e1, TARGET_E2E, ms("T") / e2e1 < TARGET_E2E)]:
        print(f"  {label:<62} {r:5.2f}x  {'PASS' if ok else 'MISS'}")
    print("  batch prediction: no numeric target; E / python predict(DMatrix(X)) "
          f"{ms('E') / pp[1]['dmatrix']:.2f}x serial (see above)")
    print()


if __name__ == "__main__":
    try:
        main()
    except psycopg2.Error as e:
        print(f"ERROR: {e}", file=sys.stderr)
        sys.exit(1)
