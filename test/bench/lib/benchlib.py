"""Shared helpers of the benchmarks test/bench/*.py.

Every benchmark connects with the libpq environment (PGHOST, PGPORT, PGUSER,
PGDATABASE), creates a scratch database of its own (mlsys_bench_<name>_<pid>,
dropped at the end unless BENCH_KEEP_DB=1), measures, and prints log lines
`[hh:mm:ss] ...`, then its tables and PASS/MISS lines against the targets.

Timing is client-side: time.perf_counter() around cursor.execute() + fetchall()
with psycopg2 over the local socket. Every query has a session of its own
(Bench.measure_all): session state one query leaves behind must not slow another
down. (It does: once a backend has JIT-compiled anything, every later parallel
query of that backend has each worker load llvmjit.so, ~25 ms per query here.)
The queries of a group are warmed up once each, then timed round-robin, so that a
burst of load from elsewhere on the machine hits all of them alike.

This module is in test/bench/lib/, next to server.sh (the server the .sh scripts
use). A script imports it with

    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
    import benchlib
"""
import collections
import hashlib
import io
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time

try:  # predict_tps.py can run without psycopg2 (BENCH_CLIENT=psql)
    import psycopg2
except ImportError:
    psycopg2 = None

# ---------------------------------------------------------------- environment

JIT = os.environ.get("BENCH_JIT", "default")      # default | on | off
DIAG = os.environ.get("BENCH_DIAG", "1") != "0"   # also time the diagnostic rows
KEEP_DB = os.environ.get("BENCH_KEEP_DB", "0") == "1"

PGBIN = "/usr/lib/postgresql/15/bin"


def env_int(name, default):
    return int(os.environ.get(name, str(default)))


def pg_tool(name):
    """The path of a PostgreSQL 15 client program (pgbench, psql), or None."""
    path = os.path.join(PGBIN, name)
    return path if os.path.exists(path) else shutil.which(name)


# Session settings of the two timing modes.
MODES = {
    "serial": ["SET max_parallel_workers_per_gather = 0"],
    "parallel": ["SET max_parallel_workers_per_gather = 2",
                 "SET parallel_setup_cost = 0",
                 "SET parallel_tuple_cost = 0",
                 "SET min_parallel_table_scan_size = 0"],
}


def auto_explain(analyze, timing=None):
    """Session settings that report every statement (nested ones too) with its plan as
    a NOTICE (read them back with explained_plans)."""
    s = ["LOAD 'auto_explain'",
         "SET auto_explain.log_min_duration = 0",
         "SET auto_explain.log_nested_statements = on",
         f"SET auto_explain.log_analyze = {'on' if analyze else 'off'}"]
    if timing is not None:
        s.append(f"SET auto_explain.log_timing = {'on' if timing else 'off'}")
    return s + ["SET auto_explain.log_format = json",
                "SET auto_explain.log_level = notice"]


def explained_plans(notices):
    """[(duration ms, plan)] of the auto_explain NOTICEs among notices."""
    out = []
    for n in notices:
        i = n.find("{")
        if "plan:" not in n or i < 0:
            continue
        try:
            d = float(n.split("duration:")[1].split("ms")[0])
            p = json.loads(n[i:])
        except (ValueError, IndexError):
            continue
        out.append((d, p))
    return out


# ---------------------------------------------------------------- output

def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def median(xs):
    return statistics.median(xs)


def timed(f, *args, **kw):
    """(ms, f(*args, **kw))."""
    t0 = time.perf_counter()
    r = f(*args, **kw)
    return (time.perf_counter() - t0) * 1000.0, r


def loadavg_text():
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "?"


def jit_note(settings):
    """'jit=on' (and the BENCH_JIT override) for a table's title."""
    return f"jit={settings.get('jit')}" + ("" if JIT == "default" else f" (BENCH_JIT={JIT})")


def verdict(ok):
    return "PASS" if ok else "MISS"


def print_target(label, value, ok, width=62, spec="5.2f", unit="x "):
    """One line under "targets": label, value, PASS or MISS."""
    print(f"  {label:<{width}} {value:{spec}}{unit} {verdict(ok)}")


def sql_str(s):
    return "'" + s.replace("'", "''") + "'"


def lit(v):
    """A float8 literal that reads back as exactly v."""
    return f"'{float(v)!r}'::float8"


# ---------------------------------------------------------------- plans

def plan_shape(node):
    """'Finalize Aggregate > Gather[planned 2, launched 2] > Partial Aggregate >
    Parallel Seq Scan on t': the chain of first children (InitPlans left out)."""
    parts = []
    while node is not None:
        name = node["Node Type"]
        if node.get("Partial Mode") and node["Partial Mode"] != "Simple":
            name = f"{node['Partial Mode']} {name}"
        if node.get("Parallel Aware"):
            name = f"Parallel {name}"
        if "Relation Name" in node:
            name += f" on {node['Relation Name']}"
        if "Function Name" in node:
            name += f" {node['Function Name']}"
        if node["Node Type"] in ("Gather", "Gather Merge"):
            launched = node.get("Workers Launched")
            name += f"[planned {node.get('Workers Planned')}" + (
                "]" if launched is None else f", launched {launched}]")
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


def jit_of(plan):
    """(functions, total ms, optimization on?) of a plan's JIT, or None."""
    jit = plan.get("JIT")
    if jit is None:
        return None
    return (jit.get("Functions"), jit.get("Timing", {}).get("Total"),
            jit.get("Options", {}).get("Optimization"))


def jit_text(j):
    if j is None:
        return "no JIT"
    return (f"JIT {j[0]} functions, {j[1] or 0:.0f} ms in the leader"
            + (", optimized" if j[2] else ""))


# ---------------------------------------------------------------- sessions

def session(dbname, mode=None, setup=()):
    """A new autocommit connection (and cursor), in the given mode (MODES) and
    BENCH_JIT, after the setup statements; its NOTICEs are kept in conn.notices."""
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


def query(cur, sql, args=None):
    cur.execute(sql, args)
    return cur.fetchall() if cur.description else None


class Admin:
    """A psycopg2 session on the default database (q, close): creates and drops the
    scratch database."""

    def __init__(self):
        self.conn = psycopg2.connect("")
        self.conn.autocommit = True
        self.cur = self.conn.cursor()

    def q(self, sql, args=None):
        return query(self.cur, sql, args)

    def close(self):
        self.conn.close()


def scratch_db(name, body, admin=None):
    """Logs the server's version, creates the database mlsys_bench_<name>_<pid>, calls
    body(dbname), drops the database (unless BENCH_KEEP_DB=1), logs the run time.
    admin: an object with q() and close() (default: an Admin)."""
    t_start = time.time()
    admin = admin or Admin()
    log(admin.q("SELECT version()")[0][0])
    db = f"mlsys_bench_{name}_{os.getpid()}"
    admin.q(f"DROP DATABASE IF EXISTS {db}")
    admin.q(f"CREATE DATABASE {db}")
    try:
        body(db)
    finally:
        if not KEEP_DB:
            admin.q(f"DROP DATABASE IF EXISTS {db}")
        else:
            log(f"kept database {db}")
        admin.close()
    log(f"total run time {time.time() - t_start:.0f} s")


def bench_main(name, run, bench_class=None):
    """The main program of a benchmark: scratch_db with a Bench (bench_class) on it,
    run(bench), as entry() does."""
    def body(db):
        b = (bench_class or Bench)(db)
        try:
            run(b)
        finally:
            b.close()
    entry(lambda: scratch_db(name, body))


def entry(main):
    """Runs main(); a database error is one line on stderr and exit status 1."""
    try:
        main()
    except Exception as e:
        if psycopg2 is not None and isinstance(e, psycopg2.Error):
            print(f"ERROR: {e}", file=sys.stderr)
            sys.exit(1)
        raise


def log_settings(q, names):
    """Logs the server settings names (with their units) and returns them as a dict."""
    settings = {r[0]: r[1] for r in q(
        "SELECT name, setting || coalesce(unit, '') FROM pg_settings WHERE name IN ("
        + ", ".join(f"'{n}'" for n in names) + ")")}
    log("settings: " + ", ".join(f"{k}={v}" for k, v in sorted(settings.items())))
    return settings


# The settings every benchmark of table t logs.
SCAN_SETTINGS = ["jit", "shared_buffers", "max_worker_processes", "max_parallel_workers",
                 "work_mem", "shared_preload_libraries"]


def create_table_t(q, k, y_type, y_sql, seed, size_extra=""):
    """Table t(x1..xk float8, y y_type) of ROWS rows, x_j uniform on [0, 2j), y =
    y_sql over the x of the row (random() allowed); vacuumed. Returns the row of
    pg_size_pretty(pg_table_size('t')), relpages, <size_extra> and the seconds taken."""
    rows = env_int("BENCH_ROWS", 1000000)
    log("creating table t")
    t0 = time.time()
    xs = [f"x{j}" for j in range(1, k + 1)]
    q("CREATE TABLE t (" + ", ".join(f"{x} float8" for x in xs) + f", y {y_type})")
    gen = ", ".join(f"random() * {2 * j} AS x{j}" for j in range(1, k + 1))
    q("SELECT setseed(%s)", (seed,))
    # OFFSET 0 keeps the subquery (and its random() calls) from being flattened.
    q(f"INSERT INTO t SELECT s.*, {y_sql} FROM "
      f"(SELECT {gen} FROM generate_series(1, {rows}) OFFSET 0) s")
    q("VACUUM ANALYZE t")
    size = q("SELECT pg_size_pretty(pg_table_size('t')), "
             "(SELECT relpages FROM pg_class WHERE relname = 't')"
             + (", " + size_extra + " FROM t" if size_extra else ""))[0]
    return size, time.time() - t0


# ---------------------------------------------------------------- exports

def copy_binary(dbname, copy_sql, row_dtype):
    """COPY ... TO STDOUT (FORMAT binary) into memory in a new connection, parsed with
    np.frombuffer into records of row_dtype (fixed-width rows: no NULLs). The caller
    checks the field count and lengths."""
    import numpy as np
    data = copy_out(dbname, copy_sql, io.BytesIO()).getbuffer()
    if bytes(data[:11]) != b"PGCOPY\n\xff\r\n\x00":
        raise SystemExit("binary COPY: bad signature")
    ext = int.from_bytes(data[15:19], "big")
    start = 19 + ext
    body = len(data) - start - 2
    if body % row_dtype.itemsize or bytes(data[-2:]) != b"\xff\xff":
        raise SystemExit("binary COPY: unexpected layout (NULLs?)")
    return np.frombuffer(data, dtype=row_dtype, count=body // row_dtype.itemsize, offset=start)


def copy_out(dbname, copy_sql, buf):
    """COPY ... TO STDOUT into buf (BytesIO for binary, StringIO for text or CSV) in a
    new connection; returns buf, at position 0."""
    conn = psycopg2.connect(dbname=dbname)
    try:
        conn.cursor().copy_expert(copy_sql, buf)
    finally:
        conn.close()
    buf.seek(0)
    return buf


def fetch_all(dbname, sql):
    """cursor.execute + fetchall in a new connection."""
    conn = psycopg2.connect(dbname=dbname)
    try:
        cur = conn.cursor()
        cur.execute(sql)
        return cur.fetchall()
    finally:
        conn.close()


# ---------------------------------------------------------------- timing

class Bench:
    """The scratch database dbname: a session for setup and checks (q), and the timing
    of queries (measure_all) into results[(key, mode)]: times (ms), median, min, value
    (the first row), rows, digests (of the first row), shape, workers, jit."""
    parallel_required = True  # a parallel-mode query without a Gather is an error

    def __init__(self, dbname):
        self.dbname = dbname
        self.conn, self.cur = session(dbname)  # setup and checks; no timing
        self.results = {}

    def close(self):
        self.conn.close()

    def q(self, sql, args=None, cur=None):
        return query(cur or self.cur, sql, args)

    def explain(self, key, sql, mode, cur, analyze=True):
        """EXPLAIN (ANALYZE: also the warm-up run): checks the plan (a serial one must
        not have a Gather, a parallel one must), notes workers and JIT."""
        opts = "ANALYZE, FORMAT JSON" if analyze else "FORMAT JSON"
        plan = self.q(f"EXPLAIN ({opts}) " + sql, cur=cur)[0][0][0]
        top = plan["Plan"]
        g = gather_info(top)
        if mode == "serial" and g is not None:
            raise SystemExit(f"{key}: serial plan has a Gather: {plan_shape(top)}")
        if mode == "parallel":
            if g is None:
                if self.parallel_required:
                    raise SystemExit(f"{key}: the plan is not parallel: {plan_shape(top)}")
                log(f"WARNING {key}: the plan is not parallel: {plan_shape(top)}")
            elif analyze and g[1] != 2:
                log(f"WARNING {key}: {g[1]} of {g[0]} workers launched "
                    "(max_worker_processes / max_parallel_workers?)")
        return record(shape=plan_shape(top), workers=g, jit=jit_of(plan) if analyze else None)

    def measure_all(self, queries, mode, budget=None, reps=None):
        """Warm up every query, then time them round-robin, each in a session of its own.

        queries: (key, label, sql[, setup statements[, warm-up]]). sql is a statement,
        or a Python step: a function of no arguments, timed like a statement, which
        returns (value, {part: ms}). warm-up is one of "explain" (the default: EXPLAIN
        ANALYZE), "none" (plain EXPLAIN, no run), "run" (one untimed run: Python steps)
        or a function (bench, cursor, connection) that does the warm-up run and returns
        the result record (see record()). Without a budget: reps (BENCH_REPS) rounds.
        With one (seconds): up to reps rounds, at least one, and no round is started
        that would (at the pace so far) end beyond the budget."""
        reps = env_int("BENCH_REPS", 3) if reps is None else reps
        qs = [tuple(q) + ((), "explain")[len(q) - 3:] for q in queries]
        sessions = {key: session(self.dbname, mode, setup or ())
                    for key, _, sql, setup, _ in qs if not callable(sql)}
        try:
            for key, _, sql, _, warm in qs:
                if callable(sql):
                    if warm == "run":
                        sql()
                    r = record(shape="python", parts=collections.defaultdict(list))
                else:
                    conn, cur = sessions[key]
                    if callable(warm):
                        r = warm(self, cur, conn)
                    else:
                        r = self.explain(key, sql, mode, cur, warm == "explain")
                self.results[(key, mode)] = r
            t_start = time.perf_counter()
            load0 = os.getloadavg()[0]
            for rnd in range(reps):
                if budget is not None and rnd > 0:
                    spent = time.perf_counter() - t_start
                    if spent + spent / rnd > budget:
                        log(f"{mode}: {rnd} round(s) of prediction queries ({spent:.0f} s); "
                            f"another would pass BENCH_PREDICT_BUDGET={budget:g} s")
                        break
                for key, _, sql, _, _ in qs:
                    r = self.results[(key, mode)]
                    t0 = time.perf_counter()
                    if callable(sql):
                        value, parts = sql()
                        r["times"].append((time.perf_counter() - t0) * 1000.0)
                        r["value"] = value
                        for part, ms in parts.items():
                            r["parts"][part].append(ms)
                        continue
                    cur = sessions[key][1]
                    cur.execute(sql)
                    rows = cur.fetchall()
                    r["times"].append((time.perf_counter() - t0) * 1000.0)
                    r["rows"], r["value"] = rows, rows[0]
                    r["digests"].add(hashlib.sha1(repr(rows[0]).encode()).hexdigest())
        finally:
            for conn, _ in sessions.values():
                conn.close()
        log(f"load average (1 min) at the start of the timed rounds {load0:.2f}, at the end "
            f"{os.getloadavg()[0]:.2f} (this benchmark alone: about 1; {os.cpu_count()} cpus)")
        for key, _, _, _, _ in qs:
            r = self.results[(key, mode)]
            t = r["times"]
            r["median"], r["min"] = median(t), min(t)
            jit = "" if r["jit"] is None else ", " + jit_text(r["jit"])
            parts = ""
            if r.get("parts"):
                parts = "; " + ", ".join(f"{k} median {median(v):.0f} ms"
                                         for k, v in r["parts"].items())
            log(f"{key:<3} {mode:<8} median {r['median']:9.1f} ms (min {min(t):.1f}, "
                f"max {max(t):.1f}, {len(t)} runs{jit})  {r['shape']}{parts}")


def record(shape, workers=None, jit=None, **more):
    """A fresh result record of Bench.measure_all (warm-up functions return one)."""
    return dict({"times": [], "shape": shape, "workers": workers, "digests": set(),
                 "jit": jit}, **more)


# ---------------------------------------------------------------- pgbench

def pgbench(dbname, script_path, defines=None):
    """Runs pgbench -M prepared -n once, BENCH_SLICE seconds, BENCH_CLIENTS clients,
    BENCH_THREADS threads; returns the TPS (an error if a transaction failed)."""
    exe = pg_tool("pgbench")
    if exe is None:
        raise SystemExit("ERROR: pgbench not found (postgresql-client-15)")
    cmd = [exe, "-M", "prepared", "-n", "-T", str(SLICE), "-c", str(CLIENTS),
           "-j", str(THREADS), "-f", script_path]
    for k, v in (defines or {}).items():
        cmd += ["-D", f"{k}={v}"]
    cmd.append(dbname)
    out = subprocess.run(cmd, capture_output=True, text=True)
    text = out.stdout + out.stderr
    tps = re.search(r"^tps = ([0-9.]+) \(without initial connection time\)", text, re.M)
    failed = re.search(r"^number of failed transactions: (\d+)", text, re.M)
    if out.returncode != 0 or not tps or (failed and int(failed.group(1)) != 0):
        raise SystemExit(f"ERROR: pgbench failed (exit {out.returncode}) on {script_path}:\n{text}")
    return float(tps.group(1))


SLICE = env_int("BENCH_SLICE", 1)
CLIENTS = env_int("BENCH_CLIENTS", 2)
THREADS = env_int("BENCH_THREADS", 2)


def pgbench_rounds(seconds):
    """The number of BENCH_SLICE-second pgbench runs that make up `seconds`."""
    return max(1, -(-seconds // SLICE))


def pgbench_round(dbname, scripts, rnd, defines=None):
    """One round of a group of pgbench scripts ({key: path}), run back to back in
    rotating order (round rnd starts with the (rnd % n)-th); returns {key: tps}."""
    keys = list(scripts)
    i = rnd % len(keys)
    return {key: pgbench(dbname, scripts[key], defines) for key in keys[i:] + keys[:i]}
