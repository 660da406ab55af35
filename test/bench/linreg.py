#!/usr/bin/python3
"""test/bench/linreg.py -- the work of test/bench/linreg.sh (run that, not this).

Connects with the libpq environment (PGHOST, PGPORT, PGUSER, PGDATABASE), creates a
fresh database with a table t(x1..x10, y) of BENCH_ROWS rows, y a known linear
combination of the x plus uniform noise, and times, serially and with 2 parallel
workers:
  A  count(*), sum(x1..x10), sum(y)                            (baseline: one scan)
  B  the normal equations in plain SQL: 66 + 11 + 1 sums        (baseline: same maths)
  C  ml_linreg_fit(y, ARRAY[x1..x10])                           (ours, training)
  D  sum(<b0> + <b1>*x1 + ... + <b10>*x10), fitted coefficients as literals
                                                                (baseline: prediction)
  E  sum(ml_predict('bench', ARRAY[x1..x10]))                   (ours, prediction)
plus, unless BENCH_DIAG=0, diagnostic rows that say where time goes.

Timing is client-side: time.perf_counter() around cursor.execute() + fetchall() with
psycopg2 over the local socket. Every query returns one row, so that is the server's
execution time plus one round trip and parse/plan (well under 1 ms here). Each query
runs once as EXPLAIN (ANALYZE, FORMAT JSON) -- the warm-up, which also
gives the plan shape, workers launched and JIT use -- then all queries of a mode are
timed round-robin, BENCH_REPS rounds (so a burst of load from elsewhere on the machine
hits every query alike); the median is reported. Every query has a session of its own
(see Bench.measure_all for why); the data are loaded in yet another.
"""
import os
import statistics
import sys
import time

import psycopg2

ROWS = int(os.environ.get("BENCH_ROWS", "1000000"))
REPS = int(os.environ.get("BENCH_REPS", "5"))
JIT = os.environ.get("BENCH_JIT", "default")
DIAG = os.environ.get("BENCH_DIAG", "1") != "0"
KEEP_DB = os.environ.get("BENCH_KEEP_DB", "0") == "1"
TARGET = 1.5  # issue: training <= 1.5x baseline A; batch prediction <= 1.5x expression D

K = 10
TRUE_INTERCEPT = 3.0
TRUE_COEF = [1.5, -2.0, 0.5, 3.0, -1.0, 0.25, 2.0, -0.75, 1.0, -3.5]
NOISE = 0.5  # y noise: uniform on [-NOISE/2, NOISE/2)
SEED = 0.42
XS = [f"x{j}" for j in range(1, K + 1)]
ARRAY = "ARRAY[" + ", ".join(XS) + "]"

MODES = {
    "serial": ["SET max_parallel_workers_per_gather = 0"],
    "parallel": ["SET max_parallel_workers_per_gather = 2",
                 "SET parallel_setup_cost = 0",
                 "SET parallel_tuple_cost = 0",
                 "SET min_parallel_table_scan_size = 0"],
}


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def lit(v):
    """A float8 literal that reads back as exactly v."""
    return f"'{float(v)!r}'::float8"


def normal_equations_sql():
    """Baseline B: sum(zi*zj) for i <= j over z = (1, x1..x10), sum(zi*y), sum(y*y)."""
    z = ["1"] + XS
    terms = []
    for i in range(len(z)):
        for j in range(i, len(z)):
            if i == 0 and j == 0:
                terms.append("count(*)")
            elif i == 0:
                terms.append(f"sum({z[j]})")
            else:
                terms.append(f"sum({z[i]}*{z[j]})")
    assert len(terms) == 66
    for i in range(len(z)):
        terms.append("sum(y)" if i == 0 else f"sum({z[i]}*y)")
    terms.append("sum(y*y)")
    assert len(terms) == 78
    return "SELECT " + ", ".join(terms) + " FROM t"


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


def session(dbname, mode=None):
    """A new autocommit connection (and cursor), in the given mode and BENCH_JIT."""
    conn = psycopg2.connect(dbname=dbname)
    conn.autocommit = True
    cur = conn.cursor()
    if JIT != "default":
        cur.execute(f"SET jit = {JIT}")
    for s in MODES.get(mode, []):
        cur.execute(s)
    return conn, cur


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

    def set_mode(self, mode):
        for s in MODES[mode]:
            self.q(s)

    def warm_up(self, key, sql, mode, cur):
        """One EXPLAIN ANALYZE run: warms caches, checks the plan, notes workers and JIT."""
        plan = self.q("EXPLAIN (ANALYZE, FORMAT JSON) " + sql, cur=cur)[0][0][0]
        top = plan["Plan"]
        g = gather_info(top)
        if mode == "serial" and g is not None:
            raise SystemExit(f"{key}: serial plan has a Gather: {plan_shape(top)}")
        if mode == "parallel":
            if g is None:
                raise SystemExit(f"{key}: the plan is not parallel: {plan_shape(top)}")
            if g[1] != 2:
                log(f"WARNING {key}: {g[1]} of {g[0]} workers launched "
                    "(max_worker_processes / max_parallel_workers?)")
        jit = plan.get("JIT")
        self.results[(key, mode)] = {
            "times": [], "shape": plan_shape(top), "workers": g,
            "jit": None if jit is None else (jit.get("Functions"),
                                             jit.get("Timing", {}).get("Total"))}

    def measure_all(self, queries, mode):
        """Warm up every query, then time them round-robin REPS times (so a burst of
        load from elsewhere on the machine hits all queries alike).

        Each query runs in a session of its own: session state one query leaves
        behind must not slow another down. (It does: once a backend has JIT-compiled
        anything, e.g. query B, every later parallel query of that backend has each
        worker load llvmjit.so, ~25 ms per query here.)"""
        sessions = {key: session(self.dbname, mode) for key, _, _ in queries}
        try:
            for key, _, sql in queries:
                self.warm_up(key, sql, mode, sessions[key][1])
            for _ in range(REPS):
                for key, _, sql in queries:
                    cur = sessions[key][1]
                    t0 = time.perf_counter()
                    cur.execute(sql)
                    rows = cur.fetchall()
                    r = self.results[(key, mode)]
                    r["times"].append((time.perf_counter() - t0) * 1000.0)
                    r["value"] = rows[0]
        finally:
            for conn, _ in sessions.values():
                conn.close()
        for key, _, sql in queries:
            r = self.results[(key, mode)]
            t = r["times"]
            r["median"], r["min"] = statistics.median(t), min(t)
            jit = ""
            if r["jit"] is not None:
                jit = f", JIT: {r['jit'][0]} functions, {r['jit'][1]:.0f} ms in the leader"
            log(f"{key:<3} {mode:<8} median {r['median']:8.1f} ms (min {min(t):.1f}, "
                f"max {max(t):.1f}{jit})  {r['shape']}")


def main():
    t_start = time.time()
    admin = psycopg2.connect("")
    admin.autocommit = True
    acur = admin.cursor()
    acur.execute("SELECT version()")
    log(acur.fetchone()[0])
    db = f"mlsys_bench_linreg_{os.getpid()}"
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
        " 'work_mem', 'shared_preload_libraries', 'parallel_leader_participation')")}
    log("settings: " + ", ".join(f"{k}={v}" for k, v in sorted(settings.items())))
    log(f"pg_jit_available(): {b.q('SELECT pg_jit_available()')[0][0]}; "
        f"cpus: {os.cpu_count()}; rows: {ROWS}; reps: {REPS} (+1 warm-up)")

    # ---------------------------------------------------------------- data
    log("creating table t")
    t0 = time.time()
    b.q("CREATE TABLE t (" + ", ".join(f"{x} float8" for x in XS) + ", y float8)")
    # x_j uniform on [0, 2j): different scales, means far from 0.
    gen = ", ".join(f"random() * {2 * j} AS x{j}" for j in range(1, K + 1))
    yexpr = (f"{TRUE_INTERCEPT!r} + "
             + " + ".join(f"({c!r})*x{j}" for j, c in enumerate(TRUE_COEF, 1))
             + f" + (random() - 0.5) * {NOISE!r}")
    b.q("SELECT setseed(%s)", (SEED,))
    # OFFSET 0 keeps the subquery (and its random() calls) from being flattened.
    b.q(f"INSERT INTO t SELECT s.*, {yexpr} FROM "
        f"(SELECT {gen} FROM generate_series(1, {ROWS}) OFFSET 0) s")
    b.q("VACUUM ANALYZE t")
    size = b.q("SELECT pg_size_pretty(pg_table_size('t')), "
               "(SELECT relpages FROM pg_class WHERE relname = 't')")[0]
    log(f"table t: {ROWS} rows, {size[0]} ({size[1]} pages), built in {time.time() - t0:.1f} s")

    # ---------------------------------------------------------------- queries
    qa = "SELECT count(*), " + ", ".join(f"sum({x})" for x in XS) + ", sum(y) FROM t"
    qb = normal_equations_sql()
    qc = f"SELECT ml_model_info(ml_linreg_fit(y, {ARRAY}))->'n_rows' FROM t"

    # One fit (and its full info) for the coefficients and the registry.
    b.q("SET max_parallel_workers_per_gather = 0")
    b.q(f"CREATE TABLE fit AS SELECT ml_linreg_fit(y, {ARRAY}) AS m FROM t")
    info = b.q("SELECT ml_model_info(m) FROM fit")[0][0]
    b0 = float(info["intercept"])
    coef = [float(c) for c in info["coefficients"]]
    version = b.q("SELECT ml_register_model('bench', m) FROM fit")[0][0]
    model_text = b.q("SELECT m::text FROM fit")[0][0]
    log(f"fitted: intercept {b0:.6f}, coefficients "
        + ", ".join(f"{c:.6f}" for c in coef) + f"; registered 'bench' version {version}")
    errs = [abs(b0 - TRUE_INTERCEPT)] + [abs(c - t) for c, t in zip(coef, TRUE_COEF)]
    # Standard errors here are ~1e-3 (intercept) and ~1e-4 / j (slopes).
    if max(errs) > 0.02:
        raise SystemExit(f"SANITY: fitted coefficients are off the true ones by up to {max(errs):g}")
    log(f"sanity: fitted vs. generating coefficients: max |diff| {max(errs):.2e} (limit 0.02): ok")

    qd = ("SELECT sum(" + lit(b0) + " + "
          + " + ".join(f"{lit(c)}*{x}" for c, x in zip(coef, XS)) + ") FROM t")
    qe = f"SELECT sum(ml_predict('bench', {ARRAY})) FROM t"
    queries = [
        ("A", "baseline A: count + 11 sums", qa),
        ("B", "baseline B: normal eqs, 78 sums", qb),
        ("C", "ours: ml_linreg_fit", qc),
        ("D", "baseline D: sum(literal expr)", qd),
        ("E", "ours: sum(ml_predict(name))", qe),
    ]
    if DIAG:
        queries += [
            ("d0", "diag: sum(y) (scan + deform floor)", "SELECT sum(y) FROM t"),
            ("d1", "diag: sum(cardinality(ARRAY[..]))",
             f"SELECT sum(cardinality({ARRAY})) FROM t"),
            ("d2", "diag: sum(ml_predict(const model))",
             f"SELECT sum(ml_predict('{model_text.replace(chr(39), chr(39) * 2)}'::mlmodel, {ARRAY})) FROM t"),
        ]

    log(f"query A: {qa}")
    log(f"query B: {qb[:160]}... ({len(qb)} chars, 78 aggregates)")
    log(f"query C: {qc}")
    log(f"query D: {qd[:160]}... ({len(qd)} chars)")
    log(f"query E: {qe}")

    # Full plan of the parallel training query, once.
    b.set_mode("parallel")
    log("parallel plan of C (EXPLAIN VERBOSE, COSTS OFF):")
    for (line,) in b.q("EXPLAIN (VERBOSE, COSTS OFF) " + qc):
        print("    " + line)

    # ---------------------------------------------------------------- timing
    for mode in MODES:
        log(f"timing, {mode}")
        b.measure_all(queries, mode)

    # ---------------------------------------------------------------- sanity
    R = b.results
    for mode in MODES:
        n = int(R[("C", mode)]["value"][0])
        if n != ROWS:
            raise SystemExit(f"SANITY: C ({mode}) n_rows {n} != {ROWS}")
        if int(R[("A", mode)]["value"][0]) != ROWS:
            raise SystemExit(f"SANITY: A ({mode}) count != {ROWS}")
        d, e = R[("D", mode)]["value"][0], R[("E", mode)]["value"][0]
        rel = abs(d - e) / abs(d)
        log(f"sanity ({mode}): D sum {d!r}, E sum {e!r}, relative diff {rel:.2e} (limit 1e-9)")
        if rel > 1e-9:
            raise SystemExit(f"SANITY: D and E disagree ({mode}): {d!r} vs {e!r}")
        if DIAG:
            d2 = R[("d2", mode)]["value"][0]
            if abs(d2 - e) / abs(e) > 1e-9:
                raise SystemExit(f"SANITY: d2 and E disagree ({mode}): {d2!r} vs {e!r}")
    # The plain-SQL normal equations give the same fit (a check on B's SQL too).
    try:
        import numpy as np
        v = [float(x) for x in R[("B", "serial")]["value"]]
        p = K + 1
        xtx = np.zeros((p, p))
        it = iter(v[:66])
        for i in range(p):
            for j in range(i, p):
                xtx[i, j] = xtx[j, i] = next(it)
        xty = np.array(v[66:77])
        beta = np.linalg.solve(xtx, xty)
        diff = max(abs(beta[0] - b0), *(abs(beta[1:] - np.array(coef))))
        log(f"sanity: B's normal equations solved in numpy vs. ml_linreg_fit: max |diff| {diff:.2e}")
        if diff > 1e-6:
            raise SystemExit("SANITY: B's normal equations disagree with ml_linreg_fit")
    except ImportError:
        log("numpy missing: B's normal equations not solved")

    # ---------------------------------------------------------------- table
    def ms(key, mode):
        return R[(key, mode)]["median"]

    print()
    print(f"linreg benchmark: {ROWS} rows x {K} float8 features, median of {REPS} runs "
          f"after 1 warm-up, client-side wall time (psycopg2), jit={settings['jit']}"
          + ("" if JIT == "default" else f" (BENCH_JIT={JIT})"))
    print()
    print(f"{'query':<38} {'serial ms':>10} {'parallel ms':>12} {'speed-up':>9}")
    print("-" * 72)
    for key, label, _ in queries:
        s, p = ms(key, "serial"), ms(key, "parallel")
        print(f"{key + '  ' + label:<38} {s:>10.1f} {p:>12.1f} {s / p:>8.2f}x")
    print()
    print(f"{'ratio (of medians; of minima)':<38} {'serial':>10} {'parallel':>12}"
          f" {'min serial':>11} {'min par.':>9}")
    print("-" * 84)
    ratios = [("training / A  (C/A)", "C", "A"),
              ("training / B  (C/B)", "C", "B"),
              ("predict / D   (E/D)", "E", "D")]
    for label, num, den in ratios:
        print(f"{label:<38} {ms(num, 'serial') / ms(den, 'serial'):>10.2f} "
              f"{ms(num, 'parallel') / ms(den, 'parallel'):>12.2f} "
              f"{R[(num, 'serial')]['min'] / R[(den, 'serial')]['min']:>11.2f} "
              f"{R[(num, 'parallel')]['min'] / R[(den, 'parallel')]['min']:>9.2f}")
    if DIAG:
        print()
        print(f"{'where time goes (differences of medians)':<38} {'serial ms':>10} {'parallel ms':>12}")
        print("-" * 72)
        for label, plus, minus in [
                ("scan + deform 11 columns (d0)", "d0", None),
                ("11 more float8 sums (A - d0)", "A", "d0"),
                ("ARRAY[x1..x10] per row (d1 - d0)", "d1", "d0"),
                ("fit beyond the array (C - d1)", "C", "d1"),
                ("literal expression (D - d0)", "D", "d0"),
                ("ml_predict(name) beyond array (E - d1)", "E", "d1"),
                ("ml_predict(value) beyond array (d2-d1)", "d2", "d1")]:
            row = [ms(plus, m) - (ms(minus, m) if minus else 0.0) for m in MODES]
            print(f"{label:<38} {row[0]:>10.1f} {row[1]:>12.1f}")
    print()
    print("targets (issue), on the ratios of medians:")
    for label, num, den in [("training <= 1.5x baseline A", "C", "A"),
                            ("batch prediction <= 1.5x hand-written expression D", "E", "D")]:
        for mode in MODES:
            r = ms(num, mode) / ms(den, mode)
            print(f"  {label + ' (' + mode + ')':<62} {r:5.2f}x  "
                  f"{'PASS' if r <= TARGET else 'MISS'}")
    print()


if __name__ == "__main__":
    try:
        main()
    except psycopg2.Error as e:
        print(f"ERROR: {e}", file=sys.stderr)
        sys.exit(1)
