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
(see test/bench/lib/benchlib.py for why); the data are loaded in yet another.
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import benchlib  # noqa: E402
from benchlib import DIAG, MODES, lit, log  # noqa: E402

ROWS = benchlib.env_int("BENCH_ROWS", 1000000)
REPS = benchlib.env_int("BENCH_REPS", 5)
TARGET = 1.5  # issue: training <= 1.5x baseline A; batch prediction <= 1.5x expression D

K = 10
TRUE_INTERCEPT = 3.0
TRUE_COEF = [1.5, -2.0, 0.5, 3.0, -1.0, 0.25, 2.0, -0.75, 1.0, -3.5]
NOISE = 0.5  # y noise: uniform on [-NOISE/2, NOISE/2)
SEED = 0.42
XS = [f"x{j}" for j in range(1, K + 1)]
ARRAY = "ARRAY[" + ", ".join(XS) + "]"


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


def run(b):
    b.q("CREATE EXTENSION mlsys")
    settings = benchlib.log_settings(b.q, benchlib.SCAN_SETTINGS + ["parallel_leader_participation"])
    log(f"pg_jit_available(): {b.q('SELECT pg_jit_available()')[0][0]}; "
        f"cpus: {os.cpu_count()}; rows: {ROWS}; reps: {REPS} (+1 warm-up)")

    # ---------------------------------------------------------------- data
    yexpr = (f"{TRUE_INTERCEPT!r} + "
             + " + ".join(f"({c!r})*x{j}" for j, c in enumerate(TRUE_COEF, 1))
             + f" + (random() - 0.5) * {NOISE!r}")
    size, secs = benchlib.create_table_t(b.q, K, "float8", yexpr, SEED)
    log(f"table t: {ROWS} rows, {size[0]} ({size[1]} pages), built in {secs:.1f} s")

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
    for st in MODES["parallel"]:
        b.q(st)
    log("parallel plan of C (EXPLAIN VERBOSE, COSTS OFF):")
    for (line,) in b.q("EXPLAIN (VERBOSE, COSTS OFF) " + qc):
        print("    " + line)

    # ---------------------------------------------------------------- timing
    for mode in MODES:
        log(f"timing, {mode}")
        b.measure_all(queries, mode, reps=REPS)

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
          f"after 1 warm-up, client-side wall time (psycopg2), {benchlib.jit_note(settings)}")
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
            benchlib.print_target(f"{label} ({mode})", r, r <= TARGET)
    print()


if __name__ == "__main__":
    benchlib.bench_main("linreg", run)
