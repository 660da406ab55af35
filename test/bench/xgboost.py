#!/usr/bin/python3
"""test/bench/xgboost.py -- the work of test/bench/xgboost.sh (run that, not this).

Connects with the libpq environment (PGHOST, PGPORT, PGUSER, PGDATABASE), creates a
fresh database with a table t(x1..x10 float8, y float8) of BENCH_ROWS rows, y a
nonlinear function of x1..x8 plus uniform noise (x9, x10 are noise features), and
compares, for XGBoost regression with 100 rounds, max_depth 6, tree_method hist:

Export, what a Python user pays first (PX below): binary COPY into memory, parsed
with np.frombuffer into a float32 array (the fastest of the ways tried; cursor.fetchall
+ np.array is timed once for comparison).

Training. In the database: serial (max_parallel_workers_per_gather = 0; the aggregate
has no combine function, so its plan is serial anyway), mlsys.xgboost_threads = 1:
  S0  SELECT count(*) FROM t                                  (a plain scan)
  S1  SELECT sum(array_length(ARRAY[x1..x10], 1)) FROM t      (scan + the feature array)
  F1  ml_xgboost_fit with n_estimators 1                      (diag: collection, DMatrix,
                                                               first round)
  F   SELECT ml_xgboost_fit(y, ARRAY[x1..x10], '{"n_estimators": 100, "max_depth": 6,
      "tree_method": "hist"}') FROM t                         (ours: the aggregate)
  F2  F with SET mlsys.xgboost_threads = 2                     (diag)
  T   SELECT * FROM ml_train('bench_xgb', 'xgboost', 't', 'y', ARRAY['x1', ..],
      <the same params>, 0)                                   (ours: the whole fit)
in Python, taking turns with them:
  PX  the export (COPY ... TO STDOUT (FORMAT binary) + np.frombuffer -> float32)
  PF  xgb.DMatrix(X, label=y, nthread=1) + xgb.train(<the same params>, nthread=1)
  PF1 the same with 1 round                                   (diag)
  PF2 PF with nthread=2                                       (diag)

Batch prediction over all rows, serial and with 2 parallel workers:
  A   SELECT sum(x1 + ... + x10) FROM t                       (baseline: one scan)
  d1  SELECT sum(cardinality(ARRAY[x1..x10])) FROM t          (diag: scan + array)
  E   SELECT sum(ml_predict('bench_xgb', ARRAY[x1..x10])) FROM t   (ours, by name)
  E2  the same with F's model value as a literal              (diag, serial only)
  PD  bst.predict(xgb.DMatrix(X)), nthread 1 (serial) / 2 (parallel)
  PI  bst.inplace_predict(X), nthread 1 / 2

Timing is client-side: time.perf_counter() around cursor.execute() + fetchall() with
psycopg2 over the local socket, as in test/bench/lib/benchlib.py (F returns the model, its
text form of some 100s of kB, which is part of its time), and around the Python calls.
Each query has a session of its own (see test/bench/lib/benchlib.py). The SQL
queries and the Python steps of a group take turns: one warm-up run each (EXPLAIN
ANALYZE for the plain queries; for ml_train one run with auto_explain reporting the
durations of the statements it runs; the Python steps once), then BENCH_REPS rounds
round-robin, so that load from elsewhere on the machine hits both sides alike; median.
The training ratios are also given of the minima, and "paired": the median over the
rounds of the ratio of the two runs in the same round.
Prediction: no warm-up run of the ml_predict queries, and BENCH_PREDICT_BUDGET (see
xgboost.sh) may cut the rounds.

Sanity (an error if it fails): XGBoost with nthread=1 is deterministic, so the model
trained in the database and the one trained in Python on the same float32 data must
predict the same (to 1e-5): on every row (the in-database boosters loaded in Python),
for 1000 rows through ml_predict (by name and by value), and in the batch sums.
"""
import base64
import json
import os
import sys
import time

# This file is named xgboost.py: its directory (sys.path[0] when run as a script) must
# not shadow the xgboost package.
_here = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _here]
sys.path.insert(0, os.path.join(_here, "lib"))

import numpy as np  # noqa: E402
import psycopg2  # noqa: E402
import xgboost as xgb  # noqa: E402

import benchlib  # noqa: E402
from benchlib import DIAG, MODES, log, median, plan_shape, scans_of, sql_str, timed  # noqa: E402

ROWS = benchlib.env_int("BENCH_ROWS", 1000000)
REPS = benchlib.env_int("BENCH_REPS", 3)
PREDICT_BUDGET = float(os.environ.get("BENCH_PREDICT_BUDGET", "60"))
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

AUTO_EXPLAIN = benchlib.auto_explain(analyze=False)


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
    # the statements inside, not the ml_train statement itself
    stmts = [(d, p) for d, p in benchlib.explained_plans(notices)
             if "ml_train" not in p.get("Query Text", "")]
    log(f"T warm-up run with auto_explain: {ms:.0f} ms, {len(stmts)} statements inside")
    for d, p in stmts:
        if d >= 1.0 or scans_of(p["Plan"], "t"):
            log(f"    {d:8.1f} ms  {plan_shape(p['Plan'])}: {p['Query Text'][:140]}")
    return benchlib.record("ml_train (SPI statements: see above)", warm_ms=ms, stmts=stmts)


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
    rec = benchlib.copy_binary(dbname, COPY_SQL, ROW_DTYPE)
    if not ((rec["nf"] == K + 1).all() and all((rec[f"l_{c}"] == 8).all() for c in XS + ["y"])):
        raise SystemExit("binary COPY: unexpected field count or lengths (NULLs?)")
    X = np.empty((len(rec), K), dtype=np.float32)
    for j, x in enumerate(XS):
        X[:, j] = rec[x]
    y = rec["y"].astype(np.float32)
    del rec
    return X, y


def export_fetchall(dbname):
    """cursor.execute + fetchall (Python tuples of floats) into numpy float32."""
    rows = benchlib.fetch_all(dbname, "SELECT " + ", ".join(XS) + ", y FROM t")
    a = np.array(rows, dtype=np.float32)
    return np.ascontiguousarray(a[:, :K]), np.ascontiguousarray(a[:, K])


def py_fit(X, y, nthread, rounds):
    """A Python step: (booster, {"DMatrix": ms, "train": ms})."""
    ms_d, d = timed(xgb.DMatrix, X, label=y, nthread=nthread)
    ms_t, bst = timed(xgb.train, dict(PY_PARAMS, nthread=nthread), d, num_boost_round=rounds)
    del d
    return bst, {"DMatrix": ms_d, "train": ms_t}


def booster_of(model_text):
    """The XGBoost booster inside an mlmodel's text form (JSON, booster in base64)."""
    raw = base64.b64decode(json.loads(model_text)["booster"])
    return xgb.Booster(model_file=bytearray(raw))


def rel_diff(a, b):
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return float((np.abs(a - b) / np.maximum(1.0, np.abs(b))).max())


# ---------------------------------------------------------------- main

def run(b):
    b.q("CREATE EXTENSION mlsys")
    settings = benchlib.log_settings(
        b.q, benchlib.SCAN_SETTINGS + ["mlsys.xgboost_threads", "mlsys.xgboost_memory_limit"])
    if settings.get("mlsys.xgboost_threads") != "1":
        log("WARNING: mlsys.xgboost_threads is not 1 on this server; the sessions here "
            "set it to 1 (F2: 2)")
    log(f"pg_jit_available(): {b.q('SELECT pg_jit_available()')[0][0]}; "
        f"cpus: {os.cpu_count()}; rows: {ROWS}; reps: {REPS} (+1 warm-up); "
        f"prediction budget per mode: {PREDICT_BUDGET:g} s")
    log(f"python: xgboost {xgb.__version__} ({os.path.dirname(xgb.__file__)}), "
        f"numpy {np.__version__}, psycopg2 {psycopg2.__version__.split()[0]}")

    # ---------------------------------------------------------------- data
    size, secs = benchlib.create_table_t(b.q, K, "float8", Y_SQL, SEED, "avg(y), stddev(y)")
    log(f"table t: {ROWS} rows, {size[0]} ({size[1]} pages), y mean {size[2]:.3f} sd "
        f"{size[3]:.3f}, built in {secs:.1f} s")
    log(f"y = {Y_SQL}")

    # ---------------------------------------------------------------- Python: export
    log(f"python export: {COPY_SQL}")
    ms, (X, y) = timed(export_copy_binary, b.dbname)
    log(f"export COPY binary + np.frombuffer -> float32, first run: {ms:.0f} ms; X {X.shape} "
        f"{X.dtype}, {X.nbytes / 2**20:.0f} MiB (timed runs: PX, with the training)")
    if len(y) != ROWS:
        raise SystemExit(f"SANITY: exported {len(y)} rows")
    fetchall_ms = None
    if DIAG:
        fetchall_ms, (X2, y2) = timed(export_fetchall, b.dbname)
        if not (np.array_equal(X, X2) and np.array_equal(y, y2)):
            raise SystemExit("SANITY: fetchall and binary COPY exports differ")
        del X2, y2
        log(f"export cursor.fetchall + np.array: {fetchall_ms:.0f} ms (1 run; same arrays as COPY)")

    def export_step():
        X1, y1 = export_copy_binary(b.dbname)
        if X1.shape != X.shape:
            raise SystemExit("SANITY: the export changed")
        return None, {}

    # ---------------------------------------------------------------- training
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
    train_q.append(("PX", "python export: COPY binary + np.frombuffer", export_step, None,
                    "none"))
    train_q.append(("PF", "python: DMatrix + xgb.train, nthread=1",
                    lambda: py_fit(X, y, 1, ROUNDS), None, "run"))
    if DIAG:
        train_q.append(("PF1", "python: the same, 1 round", lambda: py_fit(X, y, 1, 1),
                        None, "run"))
        train_q.append(("PF2", "python: DMatrix + xgb.train, nthread=2",
                        lambda: py_fit(X, y, 2, ROUNDS), None, "run"))
    log(f"query F: {qf}")
    log(f"query T: {TRAIN_SQL}")
    log(f"python PF: xgb.DMatrix(X, label=y, nthread=1); xgb.train({PY_PARAMS} + nthread=1, "
        f"num_boost_round={ROUNDS})")
    log(f"timing training, serial, round-robin with the Python fits ({1 + REPS} runs of "
        "each, the first a warm-up)")
    b.measure_all(train_q, "serial", reps=REPS)
    R = b.results

    # the models
    f_text = R[("F", "serial")]["value"][0]
    if len(R[("F", "serial")]["digests"]) != 1:
        log("WARNING: the timed runs of F returned different models (not deterministic?)")
    if DIAG and R[("F2", "serial")]["digests"] != R[("F", "serial")]["digests"]:
        log("note: F2 (2 threads) gave another model than F (1 thread)")
    t_version = R[("T", "serial")]["value"][1]
    t_text, t_info = b.q(
        "SELECT v.model::text, v.training_info FROM ml.model_versions v JOIN ml.models m "
        "USING (model_id) WHERE m.name = %s AND v.version = %s", (MODEL, t_version))[0]
    n_versions = b.q("SELECT count(*) FROM ml.model_versions v JOIN ml.models m "
                     "USING (model_id) WHERE m.name = %s", (MODEL,))[0][0]
    deployed = b.q("SELECT deployed_version FROM ml.models WHERE name = %s", (MODEL,))[0][0]
    log(f"F model: {len(f_text)} chars of text; T: {n_versions} versions of '{MODEL}', "
        f"last {t_version} (training_info seconds {t_info.get('seconds')}, iterations "
        f"{t_info.get('iterations')}), deployed {deployed}")
    bst_f = booster_of(f_text)
    bst_t = booster_of(t_text)
    log(f"F's booster: {bst_f.num_boosted_rounds()} rounds, {bst_f.num_features()} features; "
        f"T's: {bst_t.num_boosted_rounds()} rounds")
    if bst_f.num_boosted_rounds() != ROUNDS or bst_t.num_boosted_rounds() != ROUNDS:
        raise SystemExit(f"SANITY: a booster does not have {ROUNDS} rounds")
    bst_py = R[("PF", "serial")]["value"]
    exports = {"COPY TO STDOUT (FORMAT binary) + np.frombuffer (PX)": R[("PX", "serial")]["median"]}
    if fetchall_ms is not None:
        exports["cursor.fetchall() + np.array (1 run)"] = fetchall_ms
    export_how = min(exports, key=exports.get)
    export_ms = exports[export_how]

    # ---------------------------------------------------------------- sanity (models)
    bst_py.set_param({"nthread": 2})
    p_py = bst_py.inplace_predict(X)
    others = [("F (ml_xgboost_fit)", bst_f), ("T (ml_train)", bst_t)]
    if DIAG:
        others.append(("python nthread=2", R[("PF2", "serial")]["value"]))
    for name, bst in others:
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
    py_sum = float(np.sum(p_py, dtype=np.float64))
    log(f"training RMSE {rmse:.4f} (noise alone: {2 / np.sqrt(12):.4f}; y sd {size[3]:.3f})")

    # ---------------------------------------------------------------- prediction
    qa = "SELECT sum(" + " + ".join(XS) + ") FROM t"
    qd1 = f"SELECT sum(cardinality({ARRAY})) FROM t"
    qe = f"SELECT sum(ml_predict('{MODEL}', {ARRAY})) FROM t"
    qe2 = f"SELECT sum(ml_predict({f_lit}, {ARRAY})) FROM t"

    def predict_steps(nt):
        def dm():
            bst_py.set_param({"nthread": nt})
            ms_d, d = timed(xgb.DMatrix, X, nthread=nt)
            ms_p, p = timed(bst_py.predict, d)
            return float(np.sum(p, dtype=np.float64)), {"DMatrix": ms_d, "predict": ms_p}

        def ip():
            bst_py.set_param({"nthread": nt})
            return float(np.sum(bst_py.inplace_predict(X), dtype=np.float64)), {}
        return [("PD", f"python: predict(DMatrix(X)), nthread={nt}", dm, None, "run"),
                ("PI", f"python: inplace_predict(X), nthread={nt}", ip, None, "run")]

    pred_q = {}
    for mode, nt in (("serial", 1), ("parallel", 2)):
        pred_q[mode] = [("A", "baseline: sum(x1 + .. + x10)", qa, threads1, "explain"),
                        ("d1", "sum(cardinality(ARRAY[..]))", qd1, threads1, "explain"),
                        ("E", "ours: sum(ml_predict(name, ..))", qe, threads1, "none")]
        if DIAG and mode == "serial":
            pred_q[mode].append(("E2", "sum(ml_predict(<model value>, ..))", qe2, threads1, "none"))
        pred_q[mode] += predict_steps(nt)
    log(f"query E: {qe}")
    for mode in MODES:
        log(f"timing batch prediction, {mode} (python: nthread={1 if mode == 'serial' else 2}),"
            " round-robin")
        b.measure_all(pred_q[mode], mode, budget=PREDICT_BUDGET, reps=REPS)
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

    # ---------------------------------------------------------------- sanity (sums)
    for mode in MODES:
        for key in ["E", "PD", "PI"] + (["E2"] if DIAG and mode == "serial" else []):
            v = R[(key, mode)]["value"]
            v = float(v if key.startswith("P") else v[0])
            d = abs(v - py_sum) / abs(py_sum)
            log(f"sanity ({mode}): {key} sum of predictions {v!r} vs python's model "
                f"{py_sum!r}: relative diff {d:.1e} (limit 1e-6)")
            if d > 1e-6:
                raise SystemExit(f"SANITY: the batch prediction sums disagree ({key}, {mode})")
        if int(R[("d1", mode)]["value"][0]) != ROWS * K:
            raise SystemExit(f"SANITY: d1 ({mode}) != {ROWS * K}")
    if int(R[("S0", "serial")]["value"][0]) != ROWS:
        raise SystemExit("SANITY: count(*) != rows")

    report(b, settings, exports, export_how, export_ms, per_call_us, rmse)


def report(b, settings, exports, export_how, export_ms, per_call_us, rmse):
    R = b.results

    def has(key, mode="serial"):
        return (key, mode) in R

    def ms(key, mode="serial"):
        return R[(key, mode)]["median"]

    def mn(key, mode="serial"):
        return R[(key, mode)]["min"]

    def part(key, name, mode="serial"):
        return median(R[(key, mode)]["parts"][name])

    def runs(key, mode="serial"):
        return len(R[(key, mode)]["times"])

    fit1 = ms("PF")
    e2e1 = export_ms + fit1
    print()
    print(f"xgboost benchmark: {ROWS} rows x {K} float8 features, regression "
          f"(reg:squarederror), {ROUNDS} rounds, max_depth {DEPTH}, tree_method hist; "
          f"xgboost {xgb.__version__} on both sides; client-side wall time (psycopg2), "
          f"{benchlib.jit_note(settings)}")
    print(f"training: median of {REPS} runs after 1 warm-up, the SQL queries and the Python "
          "fits taking turns; in-database serial, mlsys.xgboost_threads = 1 unless said")
    print()
    print(f"{'training':<56} {'median ms':>10} {'min ms':>10} {'runs':>5}")
    print("-" * 84)
    for key, label in [("S0", "scan: count(*)"),
                       ("S1", "scan + sum(array_length(ARRAY[x1..x10]))"),
                       ("F1", "ml_xgboost_fit, n_estimators 1 (diag)"),
                       ("F", "ours: ml_xgboost_fit, 100 rounds"),
                       ("F2", "ml_xgboost_fit, mlsys.xgboost_threads=2 (diag)"),
                       ("T", "ours: ml_train(.., test_fraction 0)"),
                       ("PX", "python export: COPY binary + np.frombuffer"),
                       ("PF", "python fit = DMatrix + xgb.train, nthread=1"),
                       ("PF1", "python fit, 1 round, nthread=1 (diag)"),
                       ("PF2", "python fit, nthread=2 (diag)")]:
        if has(key):
            print(f"{key:<4}{label:<52} {ms(key):>10.1f} {mn(key):>10.1f} {runs(key):>5}")
            if R[(key, "serial")].get("parts"):
                for name in R[(key, "serial")]["parts"]:
                    print(f"{'':<4}{'  of which ' + name:<52} {part(key, name):>10.1f}")

    print()
    print(f"{'where in-database training time goes (medians)':<56} {'ms':>10}")
    print("-" * 68)
    rows = [("scan + ARRAY[x1..x10] per row (S1)", ms("S1"))]
    if has("F1"):
        rows += [("collect rows + DMatrix + 1st round, beyond S1 (F1 - S1)", ms("F1") - ms("S1")),
                 ("  python: DMatrix + 1st round (PF1)", ms("PF1")),
                 (f"{ROUNDS - 1} more rounds (F - F1)", ms("F") - ms("F1")),
                 (f"  per round, in-database ((F - F1) / {ROUNDS - 1})",
                  (ms("F") - ms("F1")) / (ROUNDS - 1)),
                 (f"  per round, python ((PF - PF1) / {ROUNDS - 1})",
                  (ms("PF") - ms("PF1")) / (ROUNDS - 1))]
    rows.append(("ml_train beyond the aggregate (T - F)", ms("T") - ms("F")))
    for label, v in rows:
        print(f"{label:<56} {v:>10.1f}")
    stmts = R[("T", "serial")]["stmts"]
    if stmts:
        print("ml_train's statements in its warm-up run (auto_explain durations):")
        for d, p in stmts:
            if d < 1.0 and not scans_of(p["Plan"], "t"):
                continue
            text = p["Query Text"]
            predicts = "ml_predict" in text
            what = ("ml_xgboost_fit over the design rows" if "ml_xgboost_fit" in text
                    else "output deciles: percentile_disc over ml_predict"
                    if predicts and "percentile_disc" in text
                    else "output histogram: ml_bin_counts over ml_predict"
                    if predicts and "ml_bin_counts" in text
                    else "ml_bin_counts (input histograms)" if "ml_bin_counts" in text
                    else "count/avg/stddev/min/max per input" if "stddev_samp" in text
                    else text.split("(")[0].strip()[:50])
            print(f"  {what:<54} {d:>10.1f}")
        rest = sum(d for d, p in stmts if d < 1.0 and not scans_of(p["Plan"], "t"))
        print(f"  {'other statements (registry, < 1 ms each)':<54} {rest:>10.1f}")
        print(f"  {'ml_train wall time of that run':<54} {R[('T', 'serial')]['warm_ms']:>10.1f}")

    print()
    print(f"{'python export (what a Python user pays first)':<56} {'ms':>10}")
    print("-" * 68)
    for how, t in exports.items():
        print(f"{how + (' <- used' if how == export_how else ''):<56} {t:>10.1f}")
    print(f"{'export + fit, nthread=1':<56} {e2e1:>10.1f}")
    if has("PF2"):
        print(f"{'export + fit, nthread=2':<56} {export_ms + ms('PF2'):>10.1f}")
    print(f"(training RMSE of the model {rmse:.4f}; the noise alone has sd {2 / np.sqrt(12):.4f})")

    print()
    print(f"{'training ratios':<50} {'medians':>9} {'minima':>9} {'paired':>9}")
    print("-" * 80)
    ratios = [("F / python fit (1 thread)", "F", False, "PF"),
              ("F / (export + python fit) (1 thread)", "F", True, "PF"),
              ("T / python fit (1 thread)", "T", False, "PF"),
              ("T / (export + python fit) (1 thread)", "T", True, "PF")]
    if has("PF2"):
        ratios += [("F2 / python fit (both 2 threads)", "F2", False, "PF2"),
                   ("F2 / (export + python fit) (both 2 threads)", "F2", True, "PF2")]
    px = R[("PX", "serial")]
    for label, num, exp, den in ratios:
        if not (has(num) and has(den)):
            continue
        tn, td = R[(num, "serial")]["times"], R[(den, "serial")]["times"]
        paired = median([n / ((x if exp else 0) + d) for n, x, d in zip(tn, px["times"], td)])
        print(f"{label:<50} {ms(num) / ((ms('PX') if exp else 0) + ms(den)):>8.2f}x "
              f"{mn(num) / ((mn('PX') if exp else 0) + mn(den)):>8.2f}x {paired:>8.2f}x")
    print("(paired: the median over the rounds of the ratio within a round; the export is "
          "PX's)")

    print()
    print(f"{'batch prediction over ' + str(ROWS) + ' rows':<50} {'serial ms':>10} "
          f"{'parallel ms':>12} {'runs s/p':>9}")
    print("-" * 84)
    for key, label in [("A", "baseline: sum(x1 + .. + x10)"),
                       ("d1", "sum(cardinality(ARRAY[x1..x10]))"),
                       ("E", "ours: sum(ml_predict('" + MODEL + "', ..))"),
                       ("E2", "sum(ml_predict(<model value>, ..)) (diag)"),
                       ("PD", "python predict(DMatrix(X)), nthread 1 / 2"),
                       ("PI", "python inplace_predict(X), nthread 1 / 2")]:
        if not has(key):
            continue
        par = R.get((key, "parallel"))
        print(f"{key:<4}{label:<46} {ms(key):>10.1f} "
              + (f"{par['median']:>12.1f}" if par else f"{'-':>12}")
              + f" {str(runs(key)) + '/' + (str(len(par['times'])) if par else '-'):>9}")
    print(f"{'':<4}{'python export + predict(DMatrix(X))':<46} {export_ms + ms('PD'):>10.1f} "
          f"{export_ms + ms('PD', 'parallel'):>12.1f}")
    print()
    print(f"{'prediction ratios (serial: vs nthread 1; parallel: vs nthread 2)':<66} "
          f"{'serial':>7} {'parallel':>9}")
    print("-" * 84)
    for label, f in [("E / python predict(DMatrix(X))", lambda m: ms("E", m) / ms("PD", m)),
                     ("E / python inplace_predict(X)", lambda m: ms("E", m) / ms("PI", m)),
                     ("E / (export + predict(DMatrix(X)))",
                      lambda m: ms("E", m) / (export_ms + ms("PD", m))),
                     ("E / baseline scan A", lambda m: ms("E", m) / ms("A", m))]:
        print(f"{label:<66} {f('serial'):>6.2f}x {f('parallel'):>8.2f}x")
    print(f"{'ml_predict(name), us per row beyond scan + array ((E - d1) / rows)':<66} "
          f"{(ms('E') - ms('d1')) * 1000.0 / ROWS:>7.2f}")
    if has("E2"):
        print(f"{'ml_predict(value), us per row beyond the array ((E2 - d1) / rows)':<66} "
              f"{(ms('E2') - ms('d1')) * 1000.0 / ROWS:>7.2f}")
    print(f"{'python inplace_predict(X), us per row, nthread 1':<66} "
          f"{ms('PI') * 1000.0 / ROWS:>7.2f}")
    if per_call_us is not None:
        print(f"{'python inplace_predict of ONE row, us per call (with wrapper)':<66} "
              f"{per_call_us:>7.2f}")

    print()
    print("targets (issue), on the ratios of medians (1 thread on both sides):")
    for label, r, ok in [
            ("ml_xgboost_fit <= 1.2x xgboost's fit (DMatrix + train)", ms("F") / fit1,
             ms("F") / fit1 <= TARGET_FIT),
            ("ml_train <= 1.2x xgboost's fit (DMatrix + train)", ms("T") / fit1,
             ms("T") / fit1 <= TARGET_FIT),
            ("ml_xgboost_fit < export + fit", ms("F") / e2e1, ms("F") / e2e1 < TARGET_E2E),
            ("ml_train < export + fit", ms("T") / e2e1, ms("T") / e2e1 < TARGET_E2E)]:
        benchlib.print_target(label, r, ok)
    print("  batch prediction: no numeric target; E / python predict(DMatrix(X)) "
          f"{ms('E') / ms('PD'):.2f}x serial (see above)")
    print()


if __name__ == "__main__":
    benchlib.bench_main("xgboost", run)
