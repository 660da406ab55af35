#!/usr/bin/python3
"""test/bench/logistic.py -- the work of test/bench/logistic.sh (run that, not this).

Connects with the libpq environment (PGHOST, PGPORT, PGUSER, PGDATABASE), creates a
fresh database with a table t(x1..x10 float8, y boolean) of BENCH_ROWS rows, y drawn
from a logistic model with known coefficients, and measures, serially and with 2
parallel workers:
  A  count(*), sum(x1..x10), count(y)                  (baseline: one plain scan)
  P  one ml_logreg_pass over t, the very query ml_train runs for each Newton step
     (captured from ml_train with auto_explain, run with PREPARE / EXECUTE)
  T  ml_train('bench_logit', 'logistic', 't', 'y', ARRAY[x1..x10], '{"l2": 1}',
     test_fraction => 0)                               (ours: the whole fit)
plus, unless BENCH_DIAG=0, diagnostic rows that say where the time of a pass goes; and,
in this Python process, the other way to do it: export the table with psycopg2 into
numpy and fit scikit-learn's LogisticRegression(C=1.0, tol=1e-8, max_iter=1000), the
same objective (C = 1 / l2, intercept unpenalised). scikit-learn's
solver='newton-cholesky' (Newton's method, as ml_train) is timed too and is the
reference the coefficients must match; lbfgs at tol=1e-8 stops short of the optimum
here (its objective and gradient are printed next to mlsys's).

Timing is client-side: time.perf_counter() around cursor.execute() + fetchall() with
psycopg2 over the local socket, as in test/bench/lib/benchlib.py. Queries A, P and the
diagnostics: one EXPLAIN (ANALYZE, FORMAT JSON) warm-up each (plan shape, workers,
JIT), then BENCH_REPS rounds round-robin, median. ml_train: one untimed checked run
per mode with auto_explain (log_nested_statements) reporting every query ml_train runs
as a NOTICE -- that counts the passes over t exactly and shows that they run in
parallel -- then, in fresh sessions, one warm-up and BENCH_TRAIN_REPS timed runs, the
serial and parallel sessions taking turns; median. Every query (and each mode of
ml_train) has a session of its own: a session that has JIT-compiled anything makes
every later parallel query of that backend load llvmjit.so in each worker (see
test/bench/lib/benchlib.py).
"""
import collections
import io
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import benchlib  # noqa: E402
from benchlib import (DIAG, MODES, gather_info, log, median, plan_shape,  # noqa: E402
                      scans_of, session, sql_str, timed)

ROWS = benchlib.env_int("BENCH_ROWS", 1000000)
REPS = benchlib.env_int("BENCH_REPS", 5)
TRAIN_REPS = benchlib.env_int("BENCH_TRAIN_REPS", 3)
PY_REPS = benchlib.env_int("BENCH_PY_REPS", 3)
TARGET_PASS = 2.0  # time of one training pass <= 2x the plain scan A
TARGET_E2E = 1.0   # ml_train < export + fit in Python

K = 10
L2 = 1.0
# x_j uniform on [0, 2j): different scales, means far from 0. The slopes shrink with
# the scale so that each feature moves the logit by about as much; the logit has
# mean ~0 and standard deviation ~1.5 (no separation, p(1-p) well away from 0).
TRUE_INTERCEPT = -1.0
TRUE_COEF = [0.8, -0.5, 0.3, 0.25, -0.2, 0.1, 0.12, -0.08, 0.05, -0.1]
SEED = 0.42
XS = [f"x{j}" for j in range(1, K + 1)]
ARRAY = "ARRAY[" + ", ".join(XS) + "]"
MODEL = "bench_logit"
TRAIN_SQL = (f"SELECT version FROM ml_train('{MODEL}', 'logistic', 't', 'y', ARRAY["
             + ", ".join(f"'{x}'" for x in XS) + f"], '{{\"l2\": {L2!r}}}', test_fraction => 0)")

AUTO_EXPLAIN = benchlib.auto_explain(analyze=True, timing=False)


def float8_array(values):
    """A float8[] literal that reads back as exactly these values."""
    return "'{" + ",".join(repr(float(v)) for v in values) + "}'::float8[]"


class Bench(benchlib.Bench):
    # ------------------------------------------------------------ ml_train
    def train_info(self, version, cur=None):
        return self.q("SELECT v.training_info, v.model::text FROM ml.model_versions v "
                      "JOIN ml.models m USING (model_id) WHERE m.name = %s AND v.version = %s",
                      (MODEL, version), cur=cur)[0]

    def checked_train(self, mode):
        """One ml_train with auto_explain: every query it runs comes back as a NOTICE
        with its plan (instrumented, so this run is not timed)."""
        conn, cur = session(self.dbname, mode, AUTO_EXPLAIN)
        try:
            conn.notices.clear()
            version = self.q(TRAIN_SQL, cur=cur)[0][0]
            notices = list(conn.notices)
        finally:
            conn.close()
        info, model_text = self.train_info(version)
        plans = benchlib.explained_plans(notices)
        passes = [(ms, p) for ms, p in plans if "ml_logreg_pass" in p.get("Query Text", "")]
        others = [(ms, p) for ms, p in plans
                  if p not in [q for _, q in passes] and "ml_train" not in p.get("Query Text", "")
                  and scans_of(p["Plan"], "t")]
        c = {"version": version, "info": info, "model_text": model_text,
             "n_plans": len(plans), "passes": passes, "others": others}
        if passes:
            c["pass_sql"] = passes[0][1]["Query Text"]
            c["pass_shapes"] = collections.Counter(plan_shape(p["Plan"]) for _, p in passes)
            c["pass_ms"] = [ms for ms, _ in passes]
            c["workers"] = collections.Counter(gather_info(p["Plan"]) for _, p in passes)
            c["jit"] = [(p.get("JIT") or {}).get("Timing", {}).get("Total") for _, p in passes]
        log(f"checked ml_train ({mode}): version {version}, training_info {json.dumps(info)}, "
            f"{len(plans)} statements reported by auto_explain, {len(passes)} of them "
            f"ml_logreg_pass, {len(others)} other scans of t")
        for ms, p in others:
            log(f"    other scan of t: {ms:7.1f} ms  {plan_shape(p['Plan'])}: "
                f"{p['Query Text'][:150]}")
        if passes:
            for shape, n in c["pass_shapes"].items():
                log(f"    {n} x pass plan: {shape}")
            jit = [j for j in c["jit"] if j is not None]
            log("    pass durations (ms, instrumented): "
                + ", ".join(f"{ms:.0f}" for ms in c["pass_ms"])
                + (f"; JIT {median(jit):.0f} ms per pass (median)" if jit else "; no JIT"))
            if mode == "parallel" and any(g is None for g in c["workers"]):
                log("WARNING: ml_train's passes did not run in parallel in parallel mode")
            if mode == "parallel" and any(g is not None and g[1] != 2 for g in c["workers"]):
                log(f"WARNING: workers launched per pass: {dict(c['workers'])}")
        else:
            log("WARNING: auto_explain reported no ml_logreg_pass: passes are estimated "
                "as iterations + 2")
        return c

    def time_train(self):
        """Per mode a session: one warm-up ml_train, then TRAIN_REPS timed runs, the
        modes taking turns."""
        sessions = {m: session(self.dbname, m) for m in MODES}
        out = {m: {"times": [], "seconds": [], "iterations": set(), "models": []} for m in MODES}
        try:
            for m in MODES:
                self.q(TRAIN_SQL, cur=sessions[m][1])
            for _ in range(TRAIN_REPS):
                for m in MODES:
                    cur = sessions[m][1]
                    t0 = time.perf_counter()
                    cur.execute(TRAIN_SQL)
                    version = cur.fetchall()[0][0]
                    out[m]["times"].append((time.perf_counter() - t0) * 1000.0)
                    info, model_text = self.train_info(version)
                    out[m]["seconds"].append(float(info["seconds"]) * 1000.0)
                    out[m]["iterations"].add(int(info["iterations"]))
                    out[m]["models"].append(version)
        finally:
            for conn, _ in sessions.values():
                conn.close()
        for m in MODES:
            r = out[m]
            r["median"], r["min"] = median(r["times"]), min(r["times"])
            log(f"T   {m:<8} median {r['median']:8.1f} ms (min {r['min']:.1f}, "
                f"max {max(r['times']):.1f}); training_info seconds (ms): "
                + ", ".join(f"{s:.0f}" for s in r["seconds"])
                + f"; iterations {sorted(r['iterations'])}")
        return out

    def model_params(self, version):
        info = self.q("SELECT ml_model_info(ml_model(%s, %s))", (MODEL, version))[0][0]
        assert len(info["intercepts"]) == 1 and len(info["coefficients"]) == 1, info
        return (np.array([float(info["intercepts"][0])]
                         + [float(c) for c in info["coefficients"][0]]), info)


# ---------------------------------------------------------------- Python side

def blas_report():
    try:
        from threadpoolctl import threadpool_info
        parts = []
        for p in threadpool_info():
            d = f"{p.get('internal_api')} {p.get('version') or ''}".strip()
            if p.get("architecture"):
                d += f" ({p['architecture']} kernels"
                d += f", {p.get('threading_layer')})" if p.get("threading_layer") else ")"
            d += f", {p.get('num_threads')} threads, {os.path.basename(p.get('filepath', ''))}"
            parts.append(d)
        return "threadpoolctl: " + "; ".join(parts)
    except ImportError:
        buf = io.StringIO()
        old = sys.stdout
        sys.stdout = buf
        try:
            np.show_config()
        finally:
            sys.stdout = old
        return "np.show_config(): " + " ".join(buf.getvalue().split())[:400]


COPY_SQL = "COPY (SELECT " + ", ".join(XS) + ", y FROM t) TO STDOUT (FORMAT binary)"
# Binary COPY row: int16 field count, then per field int32 length + value (no NULLs).
ROW_DTYPE = np.dtype([("nf", ">i2")]
                     + [f for x in XS for f in ((f"l_{x}", ">i4"), (x, ">f8"))]
                     + [("l_y", ">i4"), ("y", "u1")])


def export_copy_binary(dbname):
    """COPY ... TO STDOUT (FORMAT binary) into memory, parsed with np.frombuffer."""
    rec = benchlib.copy_binary(dbname, COPY_SQL, ROW_DTYPE)
    if not ((rec["nf"] == K + 1).all() and (rec["l_y"] == 1).all()
            and all((rec[f"l_{x}"] == 8).all() for x in XS)):
        raise SystemExit("binary COPY: unexpected field count or lengths (NULLs?)")
    X = np.empty((len(rec), K))
    for j, x in enumerate(XS):
        X[:, j] = rec[x]
    y = rec["y"].astype(np.int8)
    return X, y


def export_fetchall(dbname):
    """cursor.execute + fetchall (Python tuples of floats and bools) into numpy."""
    rows = benchlib.fetch_all(dbname, "SELECT " + ", ".join(XS) + ", y FROM t")
    a = np.array(rows, dtype=np.float64)
    return np.ascontiguousarray(a[:, :K]), a[:, K].astype(np.int8)


def fit_sklearn(X, y, solver="lbfgs"):
    import warnings
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    clf = LogisticRegression(C=1.0 / L2, tol=1e-8, max_iter=1000, solver=solver)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        clf.fit(X, y)
    return clf


def objective(theta, X, y):
    """Penalised negative log-likelihood and its gradient (intercept unpenalised)."""
    z = theta[0] + X @ theta[1:]
    loss = float(np.sum(np.logaddexp(0.0, z) - y * z) + 0.5 * L2 * theta[1:] @ theta[1:])
    r = 1.0 / (1.0 + np.exp(-z)) - y
    g = np.concatenate(([r.sum()], X.T @ r + L2 * theta[1:]))
    return loss, g


# ---------------------------------------------------------------- main

def run(b):
    import sklearn
    b.q("CREATE EXTENSION mlsys")
    settings = benchlib.log_settings(b.q, benchlib.SCAN_SETTINGS + ["parallel_leader_participation"])
    log(f"pg_jit_available(): {b.q('SELECT pg_jit_available()')[0][0]}; "
        f"cpus: {os.cpu_count()}; rows: {ROWS}; reps: {REPS} (+1 warm-up), "
        f"ml_train reps: {TRAIN_REPS} (+1 checked, +1 warm-up), python reps: {PY_REPS}")
    blas = blas_report()
    log(f"python: numpy {np.__version__}, scikit-learn {sklearn.__version__}; {blas}")
    log("python env: OPENBLAS_CORETYPE=" + os.environ.get("OPENBLAS_CORETYPE", "(unset)")
        + ", OPENBLAS_L2_SIZE=" + os.environ.get("OPENBLAS_L2_SIZE", "(unset)")
        + ", OPENBLAS_NUM_THREADS=" + os.environ.get("OPENBLAS_NUM_THREADS", "(unset)")
        + ", OMP_NUM_THREADS=" + os.environ.get("OMP_NUM_THREADS", "(unset)"))

    # ---------------------------------------------------------------- data
    logit = (f"{TRUE_INTERCEPT!r} + "
             + " + ".join(f"({c!r})*x{j}" for j, c in enumerate(TRUE_COEF, 1)))
    size, secs = benchlib.create_table_t(
        b.q, K, "boolean", f"random() < 1.0 / (1.0 + exp(-({logit})))", SEED, "avg(y::int)")
    log(f"table t: {ROWS} rows, {size[0]} ({size[1]} pages), mean(y) {float(size[2]):.4f}, "
        f"built in {secs:.1f} s")

    # ---------------------------------------------------------------- ml_train, checked
    log(f"ml_train: {TRAIN_SQL}")
    checked = {m: b.checked_train(m) for m in MODES}
    c0 = checked["serial"]
    theta, info = b.model_params(c0["version"])
    classes = info["classes"]
    log(f"fitted (serial, version {c0['version']}): classes {classes}, intercept "
        f"{theta[0]:.6f}, coefficients " + ", ".join(f"{c:.6f}" for c in theta[1:]))
    true = np.array([TRUE_INTERCEPT] + TRUE_COEF)
    err = np.abs(theta - true)
    # Standard errors here are ~0.01 (intercept) and ~0.004 / j (slopes).
    if err.max() > 0.05:
        raise SystemExit(f"SANITY: fitted coefficients are off the true ones by up to {err.max():g}")
    log(f"sanity: fitted vs. generating coefficients: max |diff| {err.max():.2e} (limit 0.05): ok")
    theta_p, _ = b.model_params(checked["parallel"]["version"])
    d = np.abs(theta_p - theta).max() / np.abs(theta).max()
    log(f"sanity: parallel vs. serial fit: max |diff| / max |coef| {d:.1e} (limit 1e-9)")
    if d > 1e-9:
        raise SystemExit("SANITY: the parallel fit differs from the serial one")

    # ---------------------------------------------------------------- queries
    qa = "SELECT count(*), " + ", ".join(f"sum({x})" for x in XS) + ", count(y) FROM t"
    model_lit = sql_str(c0["model_text"]) + "::mlmodel"
    classes_lit = sql_str("{" + ",".join(classes) + "}") + "::text[]"
    coef_lit = float8_array(theta)
    alias = "_mlsys_src"
    # ml_train's design source when every input is numeric: a float8[] of the columns
    design = "ARRAY[" + ", ".join(f"{alias}.{x}::pg_catalog.float8" for x in XS) + "]"
    if "pass_sql" in c0:
        # the very query of ml_train, its parameters given as they are in SPI:
        # ml_logreg_pass(y::text, ml_transform($1, <design>), $3, $2)
        sig = "pass(mlmodel, text[], float8[])"
        setup_p = ["SET plan_cache_mode = force_custom_plan",
                   f"PREPARE {sig} AS " + c0["pass_sql"]]
        qp = f"EXECUTE pass({model_lit}, {classes_lit}, {coef_lit})"
        log(f"query P: PREPARE {sig} AS {c0['pass_sql']}")
        log("          EXECUTE pass(<model of the serial fit>, "
            f"'{{{','.join(classes)}}}', <its coefficients>)")
        where = c0["pass_sql"].split(" WHERE ", 1)[1] if " WHERE " in c0["pass_sql"] else "true"
        src = c0["pass_sql"].split(" FROM ", 1)[1].split(" WHERE ")[0]
        head = c0["pass_sql"].split(" FROM ", 1)[0]
        if "ml_transform($1, " in head and "), $3, $2)" in head:
            design = head.split("ml_transform($1, ", 1)[1].rsplit("), $3, $2)", 1)[0]
        else:
            log("WARNING: could not find ml_transform($1, <design>) in ml_train's pass query; "
                "the diagnostics use ARRAY[x1::float8, ...]")
    else:
        # as ml_train builds it with test_fraction = 0 (src/train.c: FitLogistic,
        # DesignSource, SplitRows): no split hash, only the known labels
        where = f"{alias}.y IS NOT NULL"
        src = f"public.t AS {alias}"
        setup_p = []
        qp = (f"SELECT ml_logreg_pass({alias}.y::pg_catalog.text, "
              f"ml_transform({model_lit}, {design}), {coef_lit}, {classes_lit}) FROM {src} "
              f"WHERE {where}")
        log(f"query P (hand-built, ml_train's was not captured): {qp[:300]}...")
    log(f"query A: {qa}")
    log(f"design source of the pass: {design}")
    queries = [
        ("A", "baseline A: count + 10 sums + count", qa, []),
        ("P", "ours: one pass, ml_train's query", qp, setup_p),
    ]
    if DIAG:
        pass_expr = (f"ml_logreg_pass({alias}.y::pg_catalog.text, "
                     f"ml_transform({model_lit}, {design}), {coef_lit}, {classes_lit})")
        queries += [
            ("d0", "diag: count(*) WHERE <training rows>",
             f"SELECT count(*) FROM {src} WHERE {where}", []),
            ("d1", "diag: sum(cardinality(ml_transform))",
             f"SELECT sum(cardinality(ml_transform({model_lit}, {design}))) FROM {src}", []),
            ("d2", "diag: the pass without the WHERE",
             f"SELECT {pass_expr} FROM {src}", []),
            ("d3", "diag: pass on ARRAY[x1..x10], y::text",
             f"SELECT ml_logreg_pass(y::text, {ARRAY}, {coef_lit}, {classes_lit}) FROM t", []),
            ("d4", "diag: sum(cardinality(ARRAY[..]))",
             f"SELECT sum(cardinality({ARRAY})) FROM t", []),
        ]
        log(f"diag WHERE (ml_train's training rows): {where}")

    # ---------------------------------------------------------------- timing
    for mode in MODES:
        log(f"timing queries, {mode}")
        b.measure_all(queries, mode, reps=REPS)
    log("timing ml_train, serial and parallel sessions taking turns")
    train = b.time_train()

    # ---------------------------------------------------------------- sanity (SQL)
    R = b.results
    for mode in MODES:
        if int(R[("A", mode)]["value"][0]) != ROWS:
            raise SystemExit(f"SANITY: A ({mode}) count != {ROWS}")
        v = R[("P", mode)]["value"][0]
        if int(v[0]) != ROWS:
            raise SystemExit(f"SANITY: P ({mode}) n {v[0]} != {ROWS}")
        for m in train[mode]["models"]:
            tm, _ = b.model_params(m)
            if np.abs(tm - theta).max() / np.abs(theta).max() > 1e-9:
                raise SystemExit(f"SANITY: ml_train version {m} ({mode}) differs from the checked fit")
    log("sanity: every pass saw all rows; every timed ml_train gave the same model")

    # ---------------------------------------------------------------- Python side
    log(f"python: export, {PY_REPS} runs: {COPY_SQL}")
    exp_copy = []
    for _ in range(PY_REPS):
        ms, (X, y) = timed(export_copy_binary, b.dbname)
        exp_copy.append(ms)
    log(f"export COPY binary + np.frombuffer: median {median(exp_copy):.0f} ms "
        f"(" + ", ".join(f"{t:.0f}" for t in exp_copy) + ")")
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

    fit_ms = []
    for _ in range(PY_REPS):
        ms, clf = timed(fit_sklearn, X, y)
        fit_ms.append(ms)
    log(f"sklearn fit (lbfgs, {blas.split(': ', 1)[0]} default threads): median "
        f"{median(fit_ms):.0f} ms (" + ", ".join(f"{t:.0f}" for t in fit_ms)
        + f"), n_iter_ {int(clf.n_iter_[0])}")
    # The same objective by Newton's method in scikit-learn (new in 1.2): the
    # reference the coefficients must agree with (lbfgs stops early, see below).
    nc_ms = []
    for _ in range(PY_REPS):
        ms, nc = timed(fit_sklearn, X, y, "newton-cholesky")
        nc_ms.append(ms)
    log(f"sklearn fit, solver='newton-cholesky': median {median(nc_ms):.0f} ms ("
        + ", ".join(f"{t:.0f}" for t in nc_ms) + f"), n_iter_ {int(nc.n_iter_[0])}")
    fit1_ms = None
    if DIAG:
        from threadpoolctl import threadpool_limits
        with threadpool_limits(limits=1):
            fit1 = []
            for _ in range(PY_REPS):
                ms, _ = timed(fit_sklearn, X, y)
                fit1.append(ms)
        fit1_ms = median(fit1)
        log(f"sklearn fit, 1 thread (threadpool_limits(1)): median {fit1_ms:.0f} ms ("
            + ", ".join(f"{t:.0f}" for t in fit1) + ")")

    # ---------------------------------------------------------------- sanity (models)
    f_ml, g_ml = objective(theta, X, y)
    gn_ml = np.abs(g_ml).max() / ROWS
    log(f"mlsys:    objective {f_ml:.10f}, max |gradient| / n {gn_ml:.1e}")
    rel = {}
    for name, m in [("lbfgs", clf), ("newton-cholesky", nc)]:
        sk = np.concatenate((m.intercept_, m.coef_[0]))
        f_sk, g_sk = objective(sk, X, y)
        rel[name] = (np.abs(theta - sk) / np.abs(sk)).max()
        log(f"sklearn {name}: intercept {sk[0]:.6f}, coefficients "
            + ", ".join(f"{c:.6f}" for c in sk[1:]))
        log(f"    vs. mlsys: max relative diff per coefficient {rel[name]:.2e}, max |diff| / "
            f"max |coef| {np.abs(theta - sk).max() / np.abs(sk).max():.2e}; objective "
            f"{f_sk:.10f} ({f_sk - f_ml:+.1e} vs. mlsys), max |gradient| / n "
            f"{np.abs(g_sk).max() / ROWS:.1e}")
        if f_sk < f_ml - 1e-9 * abs(f_ml):
            raise SystemExit(f"SANITY: sklearn {name} reached a lower objective than mlsys")
    if gn_ml > 1e-9:
        raise SystemExit("SANITY: mlsys's gradient is not ~0 at its solution")
    if rel["newton-cholesky"] > 1e-4:
        raise SystemExit("SANITY: mlsys and sklearn (newton-cholesky) disagree by more than 1e-4")
    sample = b.q("SELECT " + ", ".join(XS) + f", ml_predict_proba('{MODEL}', t) FROM t LIMIT 1000")
    Xs = np.array([r[:K] for r in sample], dtype=float)
    pos = classes.index("true")
    p_db = np.array([r[K][pos] for r in sample])
    p_np = 1.0 / (1.0 + np.exp(-(theta[0] + Xs @ theta[1:])))
    p_sk = clf.predict_proba(Xs)[:, list(clf.classes_).index(1)]
    log(f"sanity: ml_predict_proba on 1000 rows: max |diff| vs. numpy with mlsys's coefficients "
        f"{np.abs(p_db - p_np).max():.1e} (limit 1e-12), vs. sklearn predict_proba "
        f"{np.abs(p_db - p_sk).max():.1e}")
    if np.abs(p_db - p_np).max() > 1e-12:
        raise SystemExit("SANITY: ml_predict_proba disagrees with the model's coefficients")

    # ---------------------------------------------------------------- table
    def ms(key, mode):
        return R[(key, mode)]["median"]

    npasses = {}
    for m in MODES:
        c = checked[m]
        it = int(c["info"]["iterations"])
        if c["passes"]:
            npasses[m] = (len(c["passes"]), len(c["others"]), "measured")
        else:
            npasses[m] = (it + 2, 1, "estimated: iterations + 2")
    T = {m: train[m]["median"] for m in MODES}
    per_pass = {m: T[m] / npasses[m][0] for m in MODES}
    py_total = export_ms + median(fit_ms)

    print()
    print(f"logistic benchmark: {ROWS} rows x {K} float8 features, boolean target, l2 = {L2:g}; "
          f"client-side wall time (psycopg2), {benchlib.jit_note(settings)}")
    print(f"queries: median of {REPS} runs after 1 warm-up; ml_train: median of {TRAIN_REPS} "
          "after 1 checked + 1 warm-up run")
    print()
    print(f"{'query':<44} {'serial ms':>10} {'parallel ms':>12} {'speed-up':>9}")
    print("-" * 78)
    for key, label, _, _ in queries:
        s, p = ms(key, "serial"), ms(key, "parallel")
        print(f"{key + '  ' + label:<44} {s:>10.1f} {p:>12.1f} {s / p:>8.2f}x")
    s, p = T["serial"], T["parallel"]
    print(f"{'T   ours: ml_train (whole fit)':<44} {s:>10.1f} {p:>12.1f} {s / p:>8.2f}x")

    print()
    print(f"{'training':<44} {'serial':>10} {'parallel':>12}")
    print("-" * 78)
    rows = [
        ("iterations (training_info)",
         [str(checked[m]["info"]["iterations"]) for m in MODES]),
        ("passes of ml_logreg_pass" + (" (measured)" if all(c["passes"] for c in checked.values())
                                       else " (ESTIMATED)"),
         [str(npasses[m][0]) for m in MODES]),
        ("other scans of t (statistics, classes)", [str(npasses[m][1]) for m in MODES]),
        ("ml_train wall time, ms (T)", [f"{T[m]:.1f}" for m in MODES]),
        ("  of which server-side (training_info)", [f"{median(train[m]['seconds']):.1f}" for m in MODES]),
        ("time per pass = T / passes, ms", [f"{per_pass[m]:.1f}" for m in MODES]),
        ("one pass timed alone (P), ms", [f"{ms('P', m):.1f}" for m in MODES]),
        ("per pass / plain scan  (T / passes / A)", [f"{per_pass[m] / ms('A', m):.2f}x" for m in MODES]),
        ("one pass / plain scan  (P / A)", [f"{ms('P', m) / ms('A', m):.2f}x" for m in MODES]),
        ("T - passes x P (statistics, solver, rest), ms",
         [f"{T[m] - npasses[m][0] * ms('P', m):.1f}" for m in MODES]),
        ("  other scans in the checked run, ms (*)",
         [f"{sum(t for t, _ in checked[m]['others']):.1f}" for m in MODES]),
        ("  passes in the checked run, ms (*)",
         [f"{sum(checked[m].get('pass_ms', [])):.1f}" for m in MODES]),
    ]
    for label, vals in rows:
        print(f"{label:<44} {vals[0]:>10} {vals[1]:>12}")
    print("(*) the untimed run with auto_explain (log_analyze, log_timing off): "
          "server-side durations, instrumented")

    if DIAG:
        print()
        print(f"{'where a pass goes (differences of medians)':<44} {'serial ms':>10} {'parallel ms':>12}")
        print("-" * 78)
        diag_rows = [
            ("scan + deform + ARRAY[x1..x10] (d4)", lambda m: ms("d4", m)),
            ("pass maths + y::text, class (d3 - d4)", lambda m: ms("d3", m) - ms("d4", m)),
            ("ml_transform(model, array) (d1 - d4)", lambda m: ms("d1", m) - ms("d4", m)),
            ("rest (d2 - d3 - (d1 - d4))",
             lambda m: ms("d2", m) - ms("d3", m) - (ms("d1", m) - ms("d4", m))),
            ("WHERE <training rows> in the pass (P - d2)", lambda m: ms("P", m) - ms("d2", m)),
            ("count(*) WHERE <training rows> alone (d0)", lambda m: ms("d0", m)),
        ]
        for label, f in diag_rows:
            row = [f(m) for m in MODES]
            print(f"{label:<44} {row[0]:>10.1f} {row[1]:>12.1f}")

    print()
    print(f"python side (numpy {np.__version__}, scikit-learn {sklearn.__version__}; {blas})")
    print(f"{'step':<60} {'ms':>10}")
    print("-" * 72)
    for how, t in exports.items():
        print(f"{'export: ' + how + (' <- used' if how == export_how else ''):<60} {t:>10.1f}")
    print(f"{'fit: LogisticRegression(C=1, tol=1e-8), lbfgs, n_iter ' + str(int(clf.n_iter_[0])):<60} "
          f"{median(fit_ms):>10.1f}")
    if fit1_ms is not None:
        print(f"{'  (the same fit limited to 1 thread)':<60} {fit1_ms:>10.1f}")
    print(f"{'  (solver=newton-cholesky, n_iter ' + str(int(nc.n_iter_[0])) + ')':<60} "
          f"{median(nc_ms):>10.1f}")
    print(f"{'total: export + fit (lbfgs, the default solver)':<60} {py_total:>10.1f}")
    print()
    print(f"{'end to end':<44} {'serial':>10} {'parallel':>12}")
    print("-" * 78)
    print(f"{'ml_train / (export + fit)':<44} {T['serial'] / py_total:>10.2f} "
          f"{T['parallel'] / py_total:>12.2f}")
    if fit1_ms is not None:
        print(f"{'ml_train / (export + 1-thread fit)':<44} {T['serial'] / (export_ms + fit1_ms):>10.2f} "
              f"{T['parallel'] / (export_ms + fit1_ms):>12.2f}")
    print(f"{'ml_train / (export + newton-cholesky fit)':<44} "
          f"{T['serial'] / (export_ms + median(nc_ms)):>10.2f} "
          f"{T['parallel'] / (export_ms + median(nc_ms)):>12.2f}")
    print(f"{'coefficients vs lbfgs, max rel diff':<44} {rel['lbfgs']:>10.1e}")
    print(f"{'coefficients vs newton-cholesky, max rel diff':<44} {rel['newton-cholesky']:>10.1e}")
    print()
    print("targets, on the ratios of medians:")
    for mode in MODES:
        r = per_pass[mode] / ms("A", mode)
        benchlib.print_target(f"time per training pass <= 2x plain scan A ({mode})", r,
                              r <= TARGET_PASS)
    for mode in MODES:
        r = T[mode] / py_total
        benchlib.print_target(f"ml_train < export + sklearn fit ({mode})", r, r < TARGET_E2E)
    print()
    print("sanity (mlsys's solution has max |gradient| / n "
          f"{gn_ml:.0e}; an error is raised if sklearn finds a lower objective):")
    for name in rel:
        note = ""
        if name == "lbfgs" and rel[name] > 1e-5:
            note = "  (lbfgs stops early: see its objective and gradient above)"
        print(f"  {'coefficients agree with sklearn ' + name + ' to 1e-5 relative':<62} "
              f"{rel[name]:.0e}  {'ok' if rel[name] <= 1e-5 else 'NO'}{note}")
    print()


if __name__ == "__main__":
    benchlib.bench_main("logistic", run, Bench)
