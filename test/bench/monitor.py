#!/usr/bin/python3
"""test/bench/monitor.py -- the work of test/bench/monitor.sh (run that, not this).

Connects with the libpq environment (PGHOST, PGPORT, PGUSER, PGDATABASE), creates a
fresh database with
  train_t(f1..f10 float8, y float8)  BENCH_ROWS rows, mixed distributions (normal,
                                     uniform, exponential, log-normal, integer-valued,
                                     bimodal), NULLs in f9 (2 %) and f10 (5 %), y linear
                                     in the f plus noise
  current_t(f1..f10 float8)          BENCH_ROWS rows, the same generators with drift in
                                     f1 (shifted), f3 (scaled), f7 (mixture weights), f8
                                     (wider: out of the training range), f9 (10 % NULLs)
trains ml_train('bench_mon', 'linear', 'train_t', 'y', ARRAY['f1', .., 'f10'],
'{"impute": "mean"}', 0.2), creates the monitor ml_create_monitor('bench_mon_m',
'bench_mon', 'current_t') and measures, serially and (BENCH_PARALLEL=1) with 2 parallel
workers:
  A  count(*), sum(f1..f10) FROM current_t                 (baseline: one plain scan)
  B  A plus sum(ml_predict('bench_mon', c)) per row        (baseline: the prediction alone)
  M  count(*) FROM ml_run_monitor('bench_mon_m')           (ours: a monitor run)
  D  count(*) FROM ml_drift('bench_mon', 'current_t')      (ours: the scan alone)
  Q  the query ml_drift builds and runs (one ml.drift_scan($1, s.f1::float8, ..,
     s.f10::float8) aggregate over current_t, its float8[] unpacked into rows with
     LATERAL VALUES), captured with auto_explain and run directly: PREPAREd with $1 of
     type mlmodel and EXECUTEd with ml_model('bench_mon') under plan_cache_mode =
     force_custom_plan, so that the model is a constant in the plan, as in ml_drift's
     EXECUTE ... USING
plus, unless BENCH_DIAG=0, diagnostic rows: d7 ml_bin_counts(ARRAY[f1 .. f10], <the
same bins>), the bin counts alone in one multi-column aggregate (a reference for what a
pass over the same bins costs, without NULL, range, statistics or prediction), and d8
the ml.drift_scan aggregate of Q alone (PREPAREd the same way), its float8[] not
unpacked. In this Python process, the other way to do it: export the 10 columns with
COPY ... TO STDOUT into numpy and compute the same per-feature statistics with numpy
(bins as src/drift.c: [e_i, e_{i+1}), the last closed, below / above / NULL cells, PSI
proportions floored at 1e-4) against ml_drift_baseline(ml_model('bench_mon'));
numpy's PSI (and JS, KS, chi-square statistic, null and out-of-range shares) must equal
ml_drift's to 1e-9 or the run fails. numpy does not evaluate the model (ml_drift also
reports the prediction's drift): B - A is what one prediction per row costs in SQL.

Timing is client-side, as in test/bench/lib/benchlib.py: time.perf_counter() around
cursor.execute() + fetchall() with psycopg2 over the local socket. Every query has a
session of its own; each runs once as a warm-up (EXPLAIN (ANALYZE, FORMAT JSON) for plain
queries: plan shape, workers, JIT), then all queries of a mode are timed round-robin,
BENCH_REPS rounds; the median is reported. M and D are function calls whose real plan is
inside: one untimed checked run per mode with auto_explain (log_nested_statements) reports
the inner query's plan, workers and JIT, and captures its text (query Q); ml_run_monitor's
values must equal ml_drift's, and so must Q's and d8's (d8's array read by the layout of
src/drift_scan.c) in every mode; d7 must give numpy's bin counts. Every M run records a
monitor run (ml.monitor_runs, ml.monitor_results, ml.alerts), as a scheduled run would.
"""
import io
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import benchlib  # noqa: E402
from benchlib import (DIAG, gather_info, jit_of, jit_text, log, median,  # noqa: E402
                      plan_shape, session, timed)

ROWS = benchlib.env_int("BENCH_ROWS", 1000000)
REPS = benchlib.env_int("BENCH_REPS", 3)
PY_REPS = benchlib.env_int("BENCH_PY_REPS", 3)
PARALLEL = os.environ.get("BENCH_PARALLEL", "1") != "0"
TARGET_SCAN = 2.0  # issue: monitor run <= 2x one plain scan of the columns
TARGET_PY = 1.0    # issue: monitor run faster than export + numpy PSI

K = 10
FS = [f"f{j}" for j in range(1, K + 1)]
MODEL = "bench_mon"
MONITOR = "bench_mon_m"
PSI_EPS = 1e-4     # src/drift.c DRIFT_PSI_EPSILON
SEED_TRAIN = 0.42
SEED_CURRENT = 0.43
# how the query ml_drift builds (sql/parts/70_drift.sql) starts
DRIFT_QUERY_PREFIX = "SELECT v.* FROM (SELECT ml.drift_scan($1"
# ml.drift_scan's result (src/drift_scan.c): the rows, then per column (the inputs in the
# model's order, then the prediction) these 7, the last the chi-square p-value
SCAN_STATS = ["null", "out_of_range", "psi", "js_divergence", "ks", "chi_square", "p_value"]
TRAIN_SQL = (f"SELECT * FROM ml_train('{MODEL}', 'linear', 'train_t', 'y', ARRAY["
             + ", ".join(f"'{f}'" for f in FS) + "], '{\"impute\": \"mean\"}', 0.2)")

MODES = dict(benchlib.MODES)
if not PARALLEL:
    del MODES["parallel"]
# log_timing on: JIT timing is reported only with it
AUTO_EXPLAIN = benchlib.auto_explain(analyze=True, timing=True)

# Standard normal draws from two uniforms (Box-Muller); 1 - random() is in (0, 1].
NORMAL = "sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random())"


def gen_columns(current):
    """The f1..f10 generators; current = True drifts f1, f3, f7, f8 and f9."""
    c = current
    return [
        f"{'0.3 + ' if c else ''}{NORMAL} AS f1",                       # normal (shifted)
        "10 * random() AS f2",                                          # uniform
        f"-{'1.5 * ' if c else ''}ln(1 - random()) AS f3",              # exponential (scaled)
        f"exp(0.5 * {NORMAL}) AS f4",                                   # log-normal
        f"100 + 15 * {NORMAL} AS f5",                                   # normal, far from 0
        "floor(21 * random()) AS f6",                                   # integers 0..20
        f"CASE WHEN random() < {0.5 if c else 0.3} THEN -2 ELSE 2 END + 0.5 * {NORMAL} AS f7",
        f"{'2.4 * random() - 1.2' if c else '2 * random() - 1'} AS f8",  # uniform (wider)
        f"CASE WHEN random() < {0.10 if c else 0.02} THEN NULL ELSE {NORMAL} END AS f9",
        "CASE WHEN random() < 0.05 THEN NULL ELSE random() END AS f10",
    ]


def run_once(sql):
    """The warm-up of a function call (M, D): one plain run; its plan is inside (see
    checked_runs)."""
    def warm(b, cur, conn):
        b.q(sql, cur=cur)
        return benchlib.record("(function: see the checked run)")
    return warm


class Bench(benchlib.Bench):
    parallel_required = False  # a parallel query without workers is a WARNING here

    def checked_runs(self, mode):
        """ml_drift and ml_run_monitor once each with auto_explain: their results, and
        the plan and text of the query ml_drift builds (instrumented: not timed)."""
        conn, cur = session(self.dbname, mode, AUTO_EXPLAIN)
        c = {}
        try:
            for what, sql in [
                    ("drift", f"SELECT feature, metric, value, p_value FROM ml_drift('{MODEL}', 'current_t')"),
                    ("monitor", f"SELECT feature, metric, value, threshold, status FROM ml_run_monitor('{MONITOR}')")]:
                conn.notices.clear()
                t0 = time.perf_counter()
                rows = self.q(sql, cur=cur)
                ms = (time.perf_counter() - t0) * 1000.0
                inner = None
                for d, p in benchlib.explained_plans(conn.notices):
                    if p.get("Query Text", "").startswith(DRIFT_QUERY_PREFIX):
                        inner = (d, p)
                c[what] = {"rows": rows, "ms": ms, "inner": inner}
                if inner is None:
                    log(f"WARNING checked {what} ({mode}): auto_explain reported no query of "
                        "ml_drift's shape")
                else:
                    d, p = inner
                    log(f"checked {what} ({mode}): {ms:.0f} ms with instrumentation; its drift "
                        f"query {d:.0f} ms: {plan_shape(p['Plan'])}; {jit_text(jit_of(p))}")
        finally:
            conn.close()
        return c


# ---------------------------------------------------------------- ml_drift's query

def prepared(name, sql, schema):
    """Session setup and statement that run sql, whose $1 is the model, as ml_drift
    does: the model ml_model('bench_mon') a constant in a plan made for it."""
    return (["SET plan_cache_mode = force_custom_plan",
             f"PREPARE {name}({schema}.mlmodel) AS {sql}"],
            f"EXECUTE {name}(ml_model('{MODEL}'))")


def scan_values(base, m):
    """{(feature, metric): (value, p_value)} of an ml.drift_scan result m, named as
    ml_drift names them; base: the rows of ml_drift_baseline, in order."""
    if len(m) != 1 + len(SCAN_STATS) * len(base):
        raise SystemExit(f"SANITY: ml.drift_scan returned {len(m)} values for {len(base)} columns")
    out = {("*", "rows"): (m[0], None)}
    for n, b in enumerate(base):
        v = dict(zip(SCAN_STATS, m[1 + len(SCAN_STATS) * n:1 + len(SCAN_STATS) * (n + 1)]))
        name = b["input"]
        out[(name, "unpredictable" if name == "(prediction)" else "null_rate")] = (v["null"], None)
        for metric in ("out_of_range", "psi", "js_divergence", "ks"):
            out[(name, metric)] = (v[metric], None)
        out[(name, "chi_square")] = (v["chi_square"], v["p_value"])
    return out


def same(a, b, tol=1e-12):
    if a is None or b is None:
        return a is None and b is None
    return abs(a - b) <= tol * max(1.0, abs(a), abs(b))


# ---------------------------------------------------------------- Python side

# Binary COPY rows of fixed width: the values (NaN for NULL) and one int4 bitmask of
# the NULLs, so that np.frombuffer can read it (a binary row with a NULL field is
# 8 bytes shorter; the mask costs 8 bytes a row, 10 boolean fields would cost 50).
COPY_BINARY_SQL = ("COPY (SELECT " + ", ".join(f"coalesce({f}, 'NaN')" for f in FS) + ", "
                   + " | ".join(f"(({f} IS NULL)::int << {j})" for j, f in enumerate(FS))
                   + " FROM current_t) TO STDOUT (FORMAT binary)")
ROW_DTYPE = np.dtype([("nf", ">i2")]
                     + [x for f in FS for x in ((f"l_{f}", ">i4"), (f, ">f8"))]
                     + [("l_mask", ">i4"), ("mask", ">i4")])
# CSV: NULL written as "nan", which np.loadtxt reads (the data have no NaN: checked).
COPY_CSV_SQL = ("COPY (SELECT " + ", ".join(FS) + " FROM current_t) TO STDOUT "
                "(FORMAT csv, NULL 'nan')")


def export_copy_binary(dbname):
    """COPY ... TO STDOUT (FORMAT binary) into memory, parsed with np.frombuffer:
    X (values, NaN for NULL) and N (NULL flags from the bitmask), n x 10 each."""
    rec = benchlib.copy_binary(dbname, COPY_BINARY_SQL, ROW_DTYPE)
    if not ((rec["nf"] == K + 1).all() and (rec["l_mask"] == 4).all()
            and all((rec[f"l_{f}"] == 8).all() for f in FS)):
        raise SystemExit("binary COPY: unexpected field count or lengths")
    X = np.empty((len(rec), K))
    N = np.empty((len(rec), K), dtype=bool)
    mask = rec["mask"].astype(np.int32)
    for j, f in enumerate(FS):
        X[:, j] = rec[f]
        N[:, j] = (mask >> j) & 1 != 0
    return X, N


def export_copy_csv(dbname):
    """COPY ... TO STDOUT (FORMAT csv) into memory, parsed with np.loadtxt."""
    buf = benchlib.copy_out(dbname, COPY_CSV_SQL, io.StringIO())
    X = np.loadtxt(buf, delimiter=",", dtype=np.float64, ndmin=2)
    return X, np.isnan(X)


def export_fetchall(dbname):
    """cursor.execute + fetchall (tuples of floats and None) into numpy (None -> NaN)."""
    rows = benchlib.fetch_all(dbname, "SELECT " + ", ".join(FS) + " FROM current_t")
    X = np.array(rows, dtype=np.float64)
    return X, np.isnan(X)


def numpy_drift(X, N, base):
    """Per column the statistics of src/drift.c from numpy: cells [below, bin 1 .. bin k,
    above, NULL] with bin i = [e_i, e_{i+1}), the last closed, NaN above; PSI with
    proportions floored at 1e-4; JS in bits; binned KS without NULLs; chi-square
    statistic; NULL share; out-of-range share (outside the training [min, max])."""
    n = X.shape[0]
    out = {}
    for j, b in enumerate(base):
        e, bc = b["edges"], b["counts"]
        k = len(e) - 1
        v = X[~N[:, j], j]
        idx = np.searchsorted(e, v, side="right")        # 0 below, 1..k bins, k+1 >= e_k
        cnt = np.bincount(idx, minlength=k + 2)
        top = np.count_nonzero(v == e[-1])                # the last bin is closed
        cnt[k] += top
        cnt[k + 1] -= top
        c = np.empty(k + 3)
        c[:k + 2] = cnt
        c[k + 2] = n - len(v)
        q = np.zeros(k + 3)
        q[1:k + 1] = bc
        q[k + 2] = b["n_null"]
        nc, nb = float(n), q.sum()
        p_, q_ = np.maximum(c / nc, PSI_EPS), np.maximum(q / nb, PSI_EPS)
        psi = float(np.sum((p_ - q_) * np.log(p_ / q_)))
        pp, qq = c / nc, q / nb
        mid = (pp + qq) / 2
        js = (np.sum(pp[pp > 0] * np.log(pp[pp > 0] / mid[pp > 0]))
              + np.sum(qq[qq > 0] * np.log(qq[qq > 0] / mid[qq > 0])))
        js = max(float(js) / (2 * np.log(2)), 0.0)
        cc, qb = c[:-1], q[:-1]                            # KS: without the NULL cell
        ks = float(np.max(np.abs(np.cumsum(cc) / cc.sum() - np.cumsum(qb) / qb.sum())))
        col = c + q
        d = q * nc - c * nb
        chi = float(np.sum(((d / (nb * nc)) * (d / np.where(col > 0, col, 1)))[col > 0]))
        oor = np.count_nonzero((v < b["min"]) | (v > b["max"]) | np.isnan(v)) / len(v)
        name = b["input"]
        out[(name, "null_rate")] = c[k + 2] / nc
        out[(name, "out_of_range")] = oor
        out[(name, "psi")] = psi
        out[(name, "js_divergence")] = js
        out[(name, "ks")] = ks
        out[(name, "chi_square")] = chi
        out[(name, "bins")] = c[1:k + 1]
        out[(name, "oor_cells")] = (c[0] + c[k + 1]) / len(v)  # below + above of the bins
    return out


# ---------------------------------------------------------------- main

LOAD_START = os.getloadavg()[0]


def run(b):
    b.q("CREATE EXTENSION mlsys")
    schema = b.q("SELECT quote_ident(n.nspname) FROM pg_extension e JOIN pg_namespace n "
                 "ON n.oid = e.extnamespace WHERE e.extname = 'mlsys'")[0][0]
    settings = benchlib.log_settings(b.q, benchlib.SCAN_SETTINGS + [
        "jit_above_cost", "jit_optimize_above_cost", "jit_inline_above_cost",
        "parallel_leader_participation"])
    log(f"pg_jit_available(): {b.q('SELECT pg_jit_available()')[0][0]}; "
        f"cpus: {os.cpu_count()}, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}; rows: {ROWS}; reps: {REPS} (+1 warm-up), python reps: "
        f"{PY_REPS}; modes: {', '.join(MODES)}; numpy {np.__version__}")

    # ---------------------------------------------------------------- data
    cols = ", ".join(f"{f} float8" for f in FS)
    t0 = time.time()
    b.q(f"CREATE TABLE train_t ({cols}, y float8)")
    yexpr = ("1 + 2*f1 - f2 + 0.5*f3 + 0.1*f4 + 0.02*f5 - 0.3*f6 + f7 + 3*f8 "
             "+ 0.7*coalesce(f9, 0) - 2*coalesce(f10, 0.5) + 0.3*(random() - 0.5)")
    b.q("SELECT setseed(%s)", (SEED_TRAIN,))
    # OFFSET 0 keeps the subquery (and its random() calls) from being flattened.
    b.q(f"INSERT INTO train_t SELECT s.*, {yexpr} FROM (SELECT {', '.join(gen_columns(False))} "
        f"FROM generate_series(1, {ROWS}) OFFSET 0) s")
    b.q(f"CREATE TABLE current_t ({cols})")
    b.q("SELECT setseed(%s)", (SEED_CURRENT,))
    b.q(f"INSERT INTO current_t SELECT {', '.join(gen_columns(True))} "
        f"FROM generate_series(1, {ROWS})")
    b.q("VACUUM ANALYZE train_t")
    b.q("VACUUM ANALYZE current_t")
    size = b.q("SELECT pg_size_pretty(pg_table_size('current_t')), relpages FROM pg_class "
               "WHERE relname = 'current_t'")[0]
    nan = b.q("SELECT " + " + ".join(f"count(*) FILTER (WHERE {f} = 'NaN')" for f in FS)
              + " FROM current_t")[0][0]
    if nan:
        raise SystemExit("SANITY: current_t has NaN values (the CSV export writes NULL as nan)")
    log(f"tables train_t and current_t: {ROWS} rows each; current_t {size[0]} ({size[1]} pages); "
        f"built in {time.time() - t0:.1f} s")

    # ---------------------------------------------------------------- model, monitor
    log(f"training: {TRAIN_SQL}")
    b.q("SET max_parallel_workers_per_gather = 0")
    t0 = time.perf_counter()
    trained = b.q(TRAIN_SQL)[0]
    train_ms = (time.perf_counter() - t0) * 1000.0
    log(f"trained version {trained[1]} in {train_ms:.0f} ms (serial): metrics {json.dumps(trained[2])}")
    if trained[2].get("r2", 0) < 0.99:
        raise SystemExit("SANITY: the linear model does not fit y (r2 < 0.99)")
    b.q("RESET max_parallel_workers_per_gather")
    mid = b.q(f"SELECT ml_create_monitor('{MONITOR}', '{MODEL}', 'current_t')")[0][0]
    log(f"monitor {MONITOR} created (monitor_id {mid})")

    # The baselines, in ml_drift_baseline's order (the order of ml.drift_scan's result);
    # the bin edges also as literals (exact: extra_float_digits > 0).
    b.q("SET extra_float_digits = 3")
    base = []
    for r in b.q(f"""
        SELECT d.input, d.type, d.bin_edges, d.baseline_counts, d.baseline_n_null,
               quote_literal(d.bin_edges)
          FROM ml_drift_baseline(ml_model('{MODEL}')) WITH ORDINALITY
               AS d(input, type, bin_edges, levels, baseline_counts, baseline_n_null, o)
         ORDER BY d.o"""):
        if r[1] != "numeric" or r[2] is None:
            raise SystemExit(f"unexpected baseline of {r[0]}: type {r[1]}, bin edges {r[2]}")
        base.append({"input": r[0], "type": r[1], "edges": np.array(r[2], dtype=float),
                     "counts": np.array(r[3], dtype=float), "n_null": float(r[4] or 0),
                     "edges_lit": r[5]})
    b.q("RESET extra_float_digits")
    feat_base = [x for x in base if x["input"] != "(prediction)"]
    if [x["input"] for x in feat_base] != FS or len(base) != K + 1 or base[-1]["input"] != "(prediction)":
        raise SystemExit(f"unexpected baselines: {[x['input'] for x in base]}")
    log("baselines: " + "; ".join(f"{x['input']} {len(x['edges']) - 1} bins, n_null "
                                  f"{x['n_null']:g}" for x in base))

    # ---------------------------------------------------------------- checked runs
    checked = {}
    for mode in MODES:
        checked[mode] = b.checked_runs(mode)
    ref = {(f, m): (v, p) for f, m, v, p in checked["serial"]["drift"]["rows"]}
    ref_rows = ref.pop(("*", "rows"))[0]
    if int(ref_rows) != ROWS:
        raise SystemExit(f"SANITY: ml_drift saw {ref_rows} rows, not {ROWS}")
    log("ml_drift (serial): " + "; ".join(
        f"{f} psi {ref[(f, 'psi')][0]:.4f}" for f in FS + ["(prediction)"]))
    for mode in MODES:
        c = checked[mode]
        got = {(f, m): (v, p) for f, m, v, p in c["drift"]["rows"] if f != "*"}
        mon = {(f, m): v for f, m, v, _, _ in c["monitor"]["rows"]}
        for key, (v, p) in ref.items():
            if not (same(got[key][0], v) and same(got[key][1], p)):
                raise SystemExit(f"SANITY: ml_drift ({mode}) {key} = {got[key]} != serial {(v, p)}")
            if not same(mon.get(key), v):
                raise SystemExit(f"SANITY: ml_run_monitor ({mode}) {key} = {mon.get(key)} != ml_drift {v}")
    log(f"sanity: ml_run_monitor's {len(ref)} drift values equal ml_drift's "
        + ("in every mode; parallel equals serial" if PARALLEL else "(serial)"))

    inner = checked["serial"]["drift"]["inner"]
    if inner is None:
        raise SystemExit("ml_drift's query not captured (auto_explain): no query Q to run")
    qq = inner[1]["Query Text"]
    # Q's aggregate alone (d8), as ml_drift writes it
    q8 = ("SELECT ml.drift_scan($1, " + ", ".join(f"s.{f}::float8" for f in FS)
          + ") AS m FROM current_t AS s")
    log(f"ml_drift's query captured ({len(qq)} chars)"
        + ("; its aggregate is d8's" if q8[len("SELECT "):] in qq else
           "; WARNING: its aggregate is not written as d8's (sql/parts/70_drift.sql changed?): "
           "d8 is checked by its values"))

    # ---------------------------------------------------------------- queries
    qa = "SELECT count(*), " + ", ".join(f"sum({f})" for f in FS) + " FROM current_t"
    qb = ("SELECT count(*), " + ", ".join(f"sum({f})" for f in FS)
          + f", sum(ml_predict('{MODEL}', c)) FROM current_t c")
    setup_q, exec_q = prepared("drift_q", qq, schema)
    queries = [  # (key, label, sql, function call?, session setup)
        ("A", "baseline A: count + 10 sums", qa, False, ()),
        ("B", "baseline B: A + sum(ml_predict(row))", qb, False, ()),
        ("M", "ours: ml_run_monitor (full run)", f"SELECT count(*) FROM ml_run_monitor('{MONITOR}')",
         True, ()),
        ("D", "ours: ml_drift (the scan alone)", f"SELECT count(*) FROM ml_drift('{MODEL}', 'current_t')",
         True, ()),
        ("Q", "ml_drift's query, run directly", exec_q, False, setup_q),
    ]
    if DIAG:
        # what one multi-column aggregate over the same bins costs: ml_train's histogram
        # pass (bin counts only: no NULL, below or above cells, no prediction)
        all_edges = "'{" + ",".join(x["edges_lit"][2:-2] for x in feat_base) + "}'::float8[]"
        all_bins = "'{" + ",".join(str(len(x["edges"]) - 1) for x in feat_base) + "}'::int[]"
        q7 = ("SELECT count(*), ml_bin_counts(ARRAY[" + ", ".join(f"s.{f}" for f in FS)
              + f"], {all_edges}, {all_bins}) FROM current_t AS s")
        queries.append(("d7", "diag: ml_bin_counts(ARRAY[f1..f10])", q7, False, ()))
        setup_8, exec_8 = prepared("drift_scan_q", q8, schema)
        queries.append(("d8", "diag: Q's ml.drift_scan alone", exec_8, False, setup_8))
        log(f"query d7: {q7[:200]}...")
        log(f"query d8: {q8}, as {exec_8}")
    log(f"query A: {qa}")
    log(f"query B: {qb}")
    log(f"query Q: {qq[:300]}... ({len(qq)} chars), as {exec_q}")

    # ---------------------------------------------------------------- timing
    for mode in MODES:
        log(f"timing, {mode}")
        b.measure_all([(key, label, sql, setup, run_once(sql) if func else "explain")
                       for key, label, sql, func, setup in queries], mode, reps=REPS)

    # ---------------------------------------------------------------- sanity (SQL)
    R = b.results
    for mode in MODES:
        for key in ("A", "B"):
            if int(R[(key, mode)]["value"][0]) != ROWS:
                raise SystemExit(f"SANITY: {key} ({mode}) count != {ROWS}")
        if int(R[("M", mode)]["value"][0]) != len(checked["serial"]["monitor"]["rows"]):
            raise SystemExit(f"SANITY: M ({mode}) returned {R[('M', mode)]['value'][0]} rows")
        if int(R[("D", mode)]["value"][0]) != len(ref) + 1:
            raise SystemExit(f"SANITY: D ({mode}) returned {R[('D', mode)]['value'][0]} rows")
        got = {"Q": {(f, m): (v, p) for f, m, v, p in R[("Q", mode)]["rows"]}}
        if DIAG:
            got["d8"] = scan_values(base, R[("d8", mode)]["value"][0])
        for key, g in got.items():
            if len(g) != len(ref) + 1 or int(g[("*", "rows")][0]) != ROWS:
                raise SystemExit(f"SANITY: {key} ({mode}) gave {len(g)} values, "
                                 f"{g.get(('*', 'rows'))} rows")
            for k2, (v, p) in ref.items():
                if not (same(g[k2][0], v) and same(g[k2][1], p)):
                    raise SystemExit(f"SANITY: {key} ({mode}) {k2} = {g[k2]} != ml_drift {(v, p)}")
    log("sanity: Q" + (" and d8 give" if DIAG else " gives") + " ml_drift's values (to 1e-12)"
        + (" in every mode" if PARALLEL else ""))

    # ---------------------------------------------------------------- Python side
    log(f"python: fetch the baselines, then export, {PY_REPS} runs each")

    def fetch_baselines():
        rows = benchlib.fetch_all(b.dbname, f"""
            SELECT d.input, d.bin_edges, d.baseline_counts, d.baseline_n_null,
                   (i->'stats'->>'min')::float8, (i->'stats'->>'max')::float8
              FROM ml_drift_baseline(ml_model('{MODEL}')) d
              JOIN jsonb_array_elements(ml_model_info(ml_model('{MODEL}'))->'inputs') i
                ON i->>'name' = d.input""")
        got = {r[0]: {"input": r[0], "edges": np.array(r[1], dtype=float),
                      "counts": np.array(r[2], dtype=float), "n_null": float(r[3] or 0),
                      "min": r[4], "max": r[5]} for r in rows}
        return [got[f] for f in FS]

    base_ms = []
    for _ in range(PY_REPS):
        ms, py_base = timed(fetch_baselines)
        base_ms.append(ms)
    for x, y in zip(py_base, feat_base):
        if not (np.array_equal(x["edges"], y["edges"]) and np.array_equal(x["counts"], y["counts"])):
            raise SystemExit(f"SANITY: baselines of {x['input']} differ between fetches")
    exports = {}
    exp = []
    for _ in range(PY_REPS):
        ms, (X, N) = timed(export_copy_binary, b.dbname)
        exp.append(ms)
    exports["COPY binary (values, NULL bitmask) + np.frombuffer"] = (median(exp), exp)
    log(f"export {COPY_BINARY_SQL[:90]}...: median {median(exp):.0f} ms ("
        + ", ".join(f"{t:.0f}" for t in exp) + ")")
    if X.shape != (ROWS, K):
        raise SystemExit(f"SANITY: exported {X.shape}")
    if DIAG:
        exp = []
        for _ in range(PY_REPS):
            ms, (X2, N2) = timed(export_copy_csv, b.dbname)
            exp.append(ms)
        if not (np.array_equal(N, N2) and np.array_equal(X[~N], X2[~N2])):
            raise SystemExit("SANITY: CSV and binary COPY exports differ")
        del X2, N2
        exports["COPY csv + np.loadtxt"] = (median(exp), exp)
        log(f"export {COPY_CSV_SQL}: median {median(exp):.0f} ms ("
            + ", ".join(f"{t:.0f}" for t in exp) + "); same arrays as binary")
        ms, (X2, N2) = timed(export_fetchall, b.dbname)
        if not (np.array_equal(N, N2) and np.array_equal(X[~N], X2[~N2])):
            raise SystemExit("SANITY: fetchall and binary COPY exports differ")
        del X2, N2
        exports["cursor.fetchall() + np.array (1 run)"] = (ms, [ms])
        log(f"export cursor.fetchall + np.array: {ms:.0f} ms (1 run); same arrays as binary")
    export_how = min(exports, key=lambda k: exports[k][0])
    export_ms = exports[export_how][0]

    np_ms = []
    for _ in range(PY_REPS):
        ms, npv = timed(numpy_drift, X, N, py_base)
        np_ms.append(ms)
    log(f"numpy statistics of 10 columns: median {median(np_ms):.0f} ms ("
        + ", ".join(f"{t:.0f}" for t in np_ms) + ")")
    worst = {}
    for (f, m), v in npv.items():
        if m == "bins":
            continue
        if m == "oor_cells":
            if not same(v, ref[(f, "out_of_range")][0]):
                raise SystemExit(f"SANITY: {f}: out_of_range {ref[(f, 'out_of_range')][0]!r} is not "
                                 f"(below + above) / non-NULL {v!r}")
            continue
        dv = ref[(f, m)][0]
        d = abs(v - dv)
        worst[m] = max(worst.get(m, 0.0), d)
        if d > 1e-9 * max(1.0, abs(dv)):
            raise SystemExit(f"SANITY: numpy's {m} of {f} is {v!r}, ml_drift's {dv!r}")
    log("sanity: numpy vs ml_drift, max |diff| per statistic: "
        + ", ".join(f"{m} {d:.1e}" for m, d in worst.items()) + " (limit 1e-9): ok; "
        "out_of_range = (below + above cells) / non-NULL values for every input")
    if DIAG:
        for mode in MODES:
            got = np.array(R[("d7", mode)]["value"][1], dtype=float)
            want = np.concatenate([npv[(f, "bins")] for f in FS])
            if int(R[("d7", mode)]["value"][0]) != ROWS or not np.array_equal(got, want):
                raise SystemExit(f"SANITY: d7 ({mode}): ml_bin_counts differs from numpy's bin counts")
        log("sanity: d7's ml_bin_counts equal numpy's bin counts")
    py_total = median(base_ms) + export_ms + median(np_ms)
    export_min = min(exports[export_how][1])
    py_min = min(base_ms) + export_min + min(np_ms)

    # ---------------------------------------------------------------- table
    def ms(key, mode):
        return R[(key, mode)]["median"]

    modes = list(MODES)
    w = 12
    print()
    print(f"monitor benchmark: {ROWS} rows x {K} float8 features (2 with NULLs), linear model; "
          f"median of {REPS} runs after 1 warm-up, client-side wall time (psycopg2), "
          f"{benchlib.jit_note(settings)}")
    print(f"load average (1 min) at the start {LOAD_START:.2f}, at the end {os.getloadavg()[0]:.2f}, "
          f"on {os.cpu_count()} cpus: other work on the machine shows as a spread of the times")
    print()
    head = f"{'query':<46}" + "".join(f" {m + ' ms':>{w}}" for m in modes)
    if PARALLEL:
        head += f" {'speed-up':>9}"
    print(head)
    print("-" * len(head))
    for key, label, _, _, _ in queries:
        line = f"{key + '  ' + label:<46}" + "".join(f" {ms(key, m):>{w}.1f}" for m in modes)
        if PARALLEL:
            line += f" {ms(key, 'serial') / ms(key, 'parallel'):>8.2f}x"
        print(line)

    print()
    print(f"{'plan of the drift query (checked run)':<46}" + "".join(f" {m:>{w}}" for m in modes))
    print("-" * len(head))
    for label, f in [
            ("workers launched", lambda c: str((gather_info(c[1]["Plan"]) or (0, 0))[1])),
            ("JIT functions", lambda c: str((jit_of(c[1]) or (0,))[0])),
            ("JIT ms (leader, instrumented run)", lambda c: f"{(jit_of(c[1]) or (0, 0.0))[1] or 0:.0f}"),
            ("JIT optimization", lambda c: "yes" if (jit_of(c[1]) or (0, 0, False))[2] else "no"),
            ("drift query ms (instrumented run)", lambda c: f"{c[0]:.0f}")]:
        vals = []
        for m in modes:
            inner_m = checked[m]["drift"]["inner"]
            vals.append("?" if inner_m is None else f(inner_m))
        print(f"{label:<46}" + "".join(f" {v:>{w}}" for v in vals))

    def st(key, mode, stat):
        return R[(key, mode)][stat]

    cols = [(m, "median") for m in modes] + [(m, "min") for m in modes]
    print()
    head3 = (f"{'where the time goes (differences; of minima)':<46}"
             + "".join(f" {m + ' ms':>{w}}" for m in modes)
             + "".join(f" {'min ' + m[:3] + '.':>{w}}" for m in modes))
    print(head3)
    print("-" * len(head3))
    rows = [("plain scan, count + 10 sums (A)", lambda m, x: st("A", m, x)),
            ("one ml_predict(row) per row (B - A)", lambda m, x: st("B", m, x) - st("A", m, x)),
            ("ml_drift's query beyond A (Q - A)", lambda m, x: st("Q", m, x) - st("A", m, x)),
            ("  beyond one ml_predict(row) per row (Q - B)", lambda m, x: st("Q", m, x) - st("B", m, x))]
    if DIAG:
        rows += [
            ("  unpacking its result (Q - d8)", lambda m, x: st("Q", m, x) - st("d8", m, x)),
            ("10-column bin counts beyond A (d7 - A)", lambda m, x: st("d7", m, x) - st("A", m, x)),
        ]
    rows += [("ml_drift's plpgsql and set-up (D - Q)", lambda m, x: st("D", m, x) - st("Q", m, x)),
             ("monitor's rating and recording (M - D)", lambda m, x: st("M", m, x) - st("D", m, x))]
    for label, f in rows:
        vals = [f(m, x) for m, x in cols]
        print(f"{label:<46}" + "".join(f" {v:>{w}.1f}" for v in vals))

    print()
    print(f"python side (numpy {np.__version__})")
    print(f"{'step':<66} {'ms':>10}")
    print("-" * 78)
    print(f"{'fetch the baselines (ml_drift_baseline)':<66} {median(base_ms):>10.1f}")
    for how, (t, _) in exports.items():
        print(f"{'export: ' + how + (' <- used' if how == export_how else ''):<66} {t:>10.1f}")
    print(f"{'numpy: bin 10 columns, PSI, JS, KS, chi-square, null/range shares':<66} "
          f"{median(np_ms):>10.1f}")
    print(f"{'total: baselines + export + numpy':<66} {py_total:>10.1f}")
    print(f"{'total of the minima':<66} {py_min:>10.1f}")

    print()
    head2 = (f"{'ratios (of medians; of minima)':<46}" + "".join(f" {m:>{w}}" for m in modes)
             + "".join(f" {'min ' + m[:3] + '.':>{w}}" for m in modes))
    print(head2)
    print("-" * len(head2))
    ratio_rows = [("monitor run / plain scan (M / A)", "M", None),
                  ("ml_drift / plain scan (D / A)", "D", None),
                  ("ml_drift's query / plain scan (Q / A)", "Q", None)]
    if DIAG:
        ratio_rows += [("ml.drift_scan alone / plain scan (d8 / A)", "d8", None),
                       ("ml_bin_counts(ARRAY) / plain scan (d7 / A)", "d7", None)]
    ratio_rows += [("B: scan + 1 predict/row / plain scan (B / A)", "B", None),
                   ("monitor run / (export + numpy) (M / py)", "M", "py"),
                   ("ml_drift / (export + numpy) (D / py)", "D", "py")]
    for label, num, den in ratio_rows:
        med = [ms(num, m) / (py_total if den else ms("A", m)) for m in modes]
        mins = [R[(num, m)]["min"] / (py_min if den else R[("A", m)]["min"]) for m in modes]
        print(f"{label:<46}" + "".join(f" {v:>{w - 1}.2f}x" for v in med + mins))
    print(f"{'monitor run / export alone (M / export)':<46}"
          + "".join(f" {ms('M', m) / export_ms:>{w - 1}.2f}x" for m in modes)
          + "".join(f" {R[('M', m)]['min'] / export_min:>{w - 1}.2f}x" for m in modes))

    print()
    print("targets (issue), on the ratios of medians:")
    for mode in modes:
        r = ms("M", mode) / ms("A", mode)
        benchlib.print_target(f"monitor run <= 2x one plain scan of the columns ({mode})", r,
                              r <= TARGET_SCAN, width=66, spec="6.2f")
    for mode in modes:
        r = ms("M", mode) / py_total
        benchlib.print_target(f"monitor run < export + numpy PSI ({mode})", r, r < TARGET_PY,
                              width=66, spec="6.2f")
    print()
    print(f"sanity: numpy's statistics equal ml_drift's (max |diff| "
          f"{max(worst.values()):.0e}, limit 1e-9); ml_run_monitor"
          + (", Q and d8 give ml_drift's values, d7 numpy's bin counts" if DIAG
             else " and Q give ml_drift's values")
          + f"; training took {train_ms / 1000:.1f} s")
    print()


if __name__ == "__main__":
    benchlib.bench_main("monitor", run, Bench)
