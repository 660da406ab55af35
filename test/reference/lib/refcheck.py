"""Shared helpers of the reference checks test/reference/*_sklearn.py.

Every check script compares mlsys with independent libraries (scikit-learn,
numpy, scipy) in a scratch database of its own and prints one TAP-like line
per check, `ok - what (detail)` or `not ok - what (detail)`, `# ...` notes,
and last `# N passed, N failed, T s`; it exits with 1 if any check failed.

This module is in test/reference/lib/, not test/reference/, because
scripts/test.sh runs every test/reference/*.py as a test. A script imports it
with

    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
    from refcheck import ...
"""
import collections
import contextlib
import math
import re
import time
import warnings

import numpy as np
import psycopg2
import psycopg2.extras
from sklearn.exceptions import ConvergenceWarning

TINY = np.finfo(float).tiny  # the smallest positive double: the default floor of max_rel_err

# Settings that make even a small aggregate run with parallel workers, and none.
PARALLEL_ON = {"parallel_setup_cost": 0, "parallel_tuple_cost": 0,
               "min_parallel_table_scan_size": 0, "max_parallel_workers_per_gather": 2}
PARALLEL_OFF = {"max_parallel_workers_per_gather": 0}


# ---------------------------------------------------------------- reporting

def note(text):
    """Prints a `# text` line (a remark, not a check)."""
    print(f"# {text}", flush=True)


class Report:
    """Prints one TAP-like line per check, counts passes and failures, and
    remembers the largest error per measure (or group) passed to close()."""

    def __init__(self, show_worst=False):
        """Starts the clock of the summary line; with show_worst, finish()
        also notes the largest error per measure / group."""
        self.passed = 0
        self.failed = 0
        self.worst = {}
        self.show_worst = show_worst
        self.start = time.monotonic()

    def line(self, ok, what, detail):
        """Prints `ok - what (detail)` or `not ok - what (detail)` and counts it."""
        print(f"{'ok' if ok else 'not ok'} - {what} ({detail})", flush=True)
        if ok:
            self.passed += 1
        else:
            self.failed += 1

    def close(self, what, err, tol, measure="max rel err", group=None):
        """A numeric comparison: ok iff err <= tol (NaN fails); the detail
        names the measure. The largest err is remembered per group (default:
        per measure)."""
        key = group or measure
        prev = self.worst.get(key, 0.0)
        self.worst[key] = err if math.isnan(err) or err > prev else prev
        self.line(err <= tol, what, f"{measure} {err:.2e}, tol {tol:.0e}")

    def equal(self, what, got, want):
        """An exact comparison: ok iff got == want."""
        self.line(got == want, what, f"got {got!r}" + ("" if got == want else f", want {want!r}"))

    def run(self, check, *args):
        """Runs check(self, *args); an exception becomes a `not ok` line named
        after the check, and the script goes on with the next check."""
        try:
            check(self, *args)
        except Exception as exc:  # report, then go on with the next check
            self.line(False, check.__name__, f"raised {type(exc).__name__}: {exc}".strip())

    def finish(self):
        """Prints the summary line `# N passed, N failed, T s` (after the
        largest errors, with show_worst) and returns the exit status."""
        if self.show_worst:
            for key, err in self.worst.items():
                note(f"largest {key} error: {err:.2e}")
        print(f"# {self.passed} passed, {self.failed} failed, {time.monotonic() - self.start:.1f} s")
        return 1 if self.failed else 0


# ---------------------------------------------------------------- error measures

def as_arrays(got, want):
    """got and want as float arrays of at least one dimension; (None, None)
    if either is not numeric (None, a missing value) or their shapes differ."""
    try:
        got = np.atleast_1d(np.asarray(got, dtype=float))
        want = np.atleast_1d(np.asarray(want, dtype=float))
    except (TypeError, ValueError):
        return None, None
    return (got, want) if got.shape == want.shape else (None, None)


def max_rel_err(got, want, floor=TINY):
    """max |got - want| / max(|want|, floor), element-wise (floor may be an
    array, e.g. per column); inf if not comparable (see as_arrays), NaN if
    any element is NaN."""
    got, want = as_arrays(got, want)
    if got is None:
        return math.inf
    err = np.max(np.abs(got - want) / np.maximum(np.abs(want), floor))
    return math.nan if np.isnan(err) else float(err)


def max_abs_err(got, want):
    """max |got - want|, element-wise (0 for empty arrays); inf if not
    comparable, NaN if any element is NaN."""
    got, want = as_arrays(got, want)
    if got is None:
        return math.inf
    err = np.max(np.abs(got - want)) if got.size else 0.0
    return math.nan if np.isnan(err) else float(err)


def norm_rel_err(got, want):
    """||got - want||_2 / ||want||_2 over all elements; inf if not comparable,
    NaN if any element is NaN."""
    got, want = as_arrays(got, want)
    if got is None:
        return math.inf
    err = np.linalg.norm(got - want) / np.linalg.norm(want)
    return math.nan if np.isnan(err) else float(err)


# ---------------------------------------------------------------- database

def connect(dbname=None):
    """An autocommit connection from the libpq environment (PGHOST, PGPORT,
    PGUSER, PGDATABASE), optionally to another database."""
    conn = psycopg2.connect("", **({"dbname": dbname} if dbname else {}))
    conn.autocommit = True
    return conn


def drop_scratch_db(admin, dbname):
    """DROP DATABASE IF EXISTS dbname, even with sessions still connected."""
    with admin.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS {dbname} WITH (FORCE)")


def create_scratch_db(admin, dbname):
    """Creates dbname afresh (dropping a leftover) and returns an autocommit
    connection to it with CREATE EXTENSION mlsys done, client_min_messages =
    warning (no NOTICE per trained model) and conn.notices keeping the last
    1000 notices (auto_explain's plans, see start_auto_explain)."""
    drop_scratch_db(admin, dbname)
    with admin.cursor() as cur:
        cur.execute(f"CREATE DATABASE {dbname}")
    conn = connect(dbname)
    conn.notices = collections.deque(maxlen=1000)
    with conn.cursor() as cur:
        cur.execute("CREATE EXTENSION mlsys")
        cur.execute("SET client_min_messages = warning")  # no NOTICE per trained model
    return conn


@contextlib.contextmanager
def scratch_cursor(dbname):
    """with scratch_cursor(name) as cur: a cursor in the fresh scratch
    database `name` (create_scratch_db), which is dropped again on leaving."""
    admin = connect()
    try:
        conn = create_scratch_db(admin, dbname)
        try:
            with conn.cursor() as cur:
                yield cur
        finally:
            conn.close()
    finally:
        drop_scratch_db(admin, dbname)
        admin.close()


def run_checks(scratch_db, setup, checks, show_worst=False):
    """A script's main: in the scratch database, data = setup(cur), then every
    check(rep, cur, data) (Report.run), then the summary; returns the exit
    status. show_worst: see Report."""
    rep = Report(show_worst)
    with scratch_cursor(scratch_db) as cur:
        data = setup(cur)
        for check in checks:
            rep.run(check, cur, data)
    return rep.finish()


def set_gucs(cur, settings):
    """SET name = value for every item of the dict settings (trusted text)."""
    for name, value in settings.items():
        cur.execute(f"SET {name} = {value}")


def create_table(cur, name, columns, rows, page_size=100):
    """CREATE TABLE name (columns, a list of (column, sql type)), INSERT the
    rows (tuples of Python values), ANALYZE. psycopg2 sends Python floats as
    repr(), the shortest exact decimal, so float8 values arrive bit for bit."""
    cur.execute(f"CREATE TABLE {name} ({', '.join(f'{c} {t}' for c, t in columns)})")
    psycopg2.extras.execute_values(cur, f"INSERT INTO {name} VALUES %s", rows, page_size=page_size)
    cur.execute(f"ANALYZE {name}")


def load_xy(cur, name, features, X, target, y, target_type="float8"):
    """Table name (features... float8, target target_type) holding the rows of
    the 2-D array X and the 1-D array y (no id column)."""
    create_table(cur, name, [(c, "float8") for c in features] + [(target, target_type)],
                 [tuple(x) + (t,) for x, t in zip(X.tolist(), y.tolist())])


class Table:
    """A table with an `id` column (never a feature): name, columns [(name,
    sql type)] with id first, the target column (None for k-means), the
    feature columns, and the rows as read back from the database ordered by
    id (fetch), so the references see exactly the stored values."""

    def __init__(self, name, columns, target, features):
        self.name = name
        self.columns = columns      # [(name, sql type)], id first
        self.target = target
        self.features = features
        self.rows = None            # list of tuples as fetched, id first

    @classmethod
    def numeric(cls, name, features, target=None, target_type=None):
        """The Table (id int, features... float8[, target target_type])."""
        return cls(name, [("id", "int")] + [(f, "float8") for f in features]
                   + ([(target, target_type)] if target else []), target, features)

    def fetch(self, cur):
        """Reads the rows (all columns, ordered by id) back into self.rows."""
        cur.execute(f"SELECT {', '.join(c for c, _ in self.columns)} FROM {self.name} ORDER BY id")
        self.rows = cur.fetchall()
        return self

    def column(self, name):
        """The values of one column, in id order."""
        j = [c for c, _ in self.columns].index(name)
        return [r[j] for r in self.rows]

    def matrix(self, names=None, order="F"):
        """The given columns (default: the features) as a float matrix, rows in
        id order; order "F": column-major (a transposed array), "C": row-major.
        The values are the same, but numpy's and scikit-learn's reductions
        (StandardScaler's mean_, ...) round differently on the two layouts:
        every script keeps the layout its reference numbers were written with."""
        m = np.array([self.column(c) for c in (names or self.features)], dtype=float).T
        return m if order == "F" else np.ascontiguousarray(m)

    def labels(self):
        """The target column as an array, in id order."""
        return np.array(self.column(self.target))

    def ids(self):
        """The id column as an array, in id order."""
        return np.array(self.column("id"))


def load_table(cur, table, rows):
    """Creates and fills the Table (create_table), then reads its rows back."""
    create_table(cur, table.name, table.columns, rows)
    return table.fetch(cur)


def load_numeric(cur, name, features, X, target=None, target_type=None, labels=None):
    """Table.numeric with row i = (i, X[i]..., labels[i]) loaded; returns
    (table, the rows sent) as check_round_trip expects them."""
    table = Table.numeric(name, features, target, target_type)
    rows = [(i, *map(float, X[i])) + ((labels[i],) if target else ()) for i in range(len(X))]
    return load_table(cur, table, rows), rows


def check_round_trip(rep, cur, tables):
    """Every table of {name: (Table, rows sent)} reads back bit for bit, in
    id order, with the same Python types (True == 1 would hide a bool/int)."""
    for name, (table, sent) in tables.items():
        def typed(rows):
            return [tuple((type(v), v) for v in r) for r in rows]
        same = typed(table.rows) == typed(sent)
        rep.line(same, f"{name}: {len(sent)} rows round-trip bit for bit",
                 "identical" if same else "DIFFERENT")


def sql_name(feature_name):
    """A scikit-learn feature name as an SQL column name ("sepal length (cm)"
    -> sepal_length, "od280/od315_of_..." -> od280_od315_of_...)."""
    return re.sub(r"[^a-z0-9_]", "_", feature_name.lower().replace(" (cm)", ""))


# ---------------------------------------------------------------- plans and workers

def explain(cur, sql, params=None, analyze=True):
    """The plan of sql as text: EXPLAIN ANALYZE without costs, timing and
    summary, or (analyze=False) EXPLAIN (COSTS OFF)."""
    prefix = "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) " if analyze else "EXPLAIN (COSTS OFF) "
    cur.execute(prefix + sql, params)
    return "\n".join(r[0] for r in cur.fetchall())


def plan_workers(plan):
    """(workers launched in total, whether there is a Partial Aggregate) of an
    EXPLAIN ANALYZE text."""
    launched = sum(int(k) for k in re.findall(r"Workers Launched: (\d+)", plan))
    partial = re.search(r"Partial \w*Aggregate", plan) is not None
    return launched, partial


def start_auto_explain(cur):
    """Loads auto_explain so that the plans of every statement, nested ones
    too, arrive as NOTICEs in cur.connection.notices (cleared). Returns
    False, with a note, if it cannot be loaded (it needs a superuser)."""
    explained = True
    try:
        cur.execute("LOAD 'auto_explain'")
        set_gucs(cur, {"auto_explain.log_min_duration": 0,
                       "auto_explain.log_nested_statements": "on",
                       "auto_explain.log_analyze": "on", "auto_explain.log_timing": "off",
                       "auto_explain.log_level": "notice", "client_min_messages": "notice"})
    except psycopg2.Error as exc:
        explained = False
        note(f"parallel: auto_explain unavailable ({str(exc).strip()}); "
             "workers inside ml_train not verified")
    cur.connection.notices.clear()
    return explained


def stop_auto_explain(cur):
    """Ends start_auto_explain's logging (client_min_messages back to warning)."""
    set_gucs(cur, {"auto_explain.log_min_duration": -1, "client_min_messages": "warning"})


def auto_explain_workers(conn, needle):
    """(workers launched, Partial Aggregate?, number of plans) of the last
    auto_explain plan among conn.notices that mentions needle;
    (None, False, 0) if none does."""
    plans = [n for n in conn.notices if needle in n]
    if not plans:
        return None, False, 0
    launched, partial = plan_workers(plans[-1])
    return launched, partial, len(plans)


# ---------------------------------------------------------------- ml_train

def row_hash_sql(columns):
    """ml_train's row hash in SQL, h = hash_record_extended(ROW(columns),
    seed) & 2147483647, with the seed as the query parameter %(seed)s; a row
    is held out iff h < holdout_cut(test_fraction), its fold is h % cv."""
    return f"(hash_record_extended(ROW({', '.join(columns)}), %(seed)s) & 2147483647)"


def holdout_cut(test_fraction):
    """The bound of ml_train's holdout predicate: floor(test_fraction * 2^31)."""
    return math.floor(test_fraction * 2 ** 31)


def holdout_mask(cur, table, seed, test_fraction):
    """ml_train's split predicate evaluated in SQL per row of the Table, in id
    order (the hash covers the target, if any, then the features)."""
    columns = ([table.target] if table.target else []) + table.features
    cur.execute(f"SELECT {row_hash_sql(columns)} < %(cut)s FROM {table.name} ORDER BY id",
                {"seed": seed, "cut": holdout_cut(test_fraction)})
    return np.array([r[0] for r in cur.fetchall()], dtype=bool)


def train(cur, model, algorithm, table, params, test_fraction=0.0):
    """ml_train(model, algorithm, table, target, features, params, test_fraction)
    -> ((model_name, version, metrics), ml_model_info of that version)."""
    cur.execute("SELECT * FROM ml_train(%s, %s, %s, %s, %s, %s, %s)",
                (model, algorithm, table.name, table.target, table.features,
                 psycopg2.extras.Json(params), test_fraction))
    result = cur.fetchone()
    cur.execute("SELECT ml_model_info(ml_model(%s, %s))", (model, result[1]))
    return result, cur.fetchone()[0]


def registry_row_counts(cur, model, version):
    """(n_train_rows, n_test_rows) of a model version in the registry."""
    cur.execute("SELECT v.n_train_rows, v.n_test_rows FROM ml.model_versions v "
                "JOIN ml.models m USING (model_id) WHERE m.name = %s AND v.version = %s",
                (model, version))
    return cur.fetchone()


def model_rows(cur, model, table, func):
    """func(model, row) on every row of the Table, ordered by id."""
    cur.execute(f"SELECT {func}(%s, t) FROM {table.name} t ORDER BY id", (model,))
    return [r[0] for r in cur.fetchall()]


def check_predicted_classes(rep, cur, label, model, table, ref, X):
    """ml_predict_class on every row vs the fitted classifier ref's predict(X)
    (X: the rows in id order), compared as text."""
    pred = model_rows(cur, model, table, "ml_predict_class")
    want_pred = [str(c) for c in ref.predict(X)]
    mismatch = sum(a != b for a, b in zip(pred, want_pred)) + abs(len(pred) - len(want_pred))
    rep.line(mismatch == 0, f"{label}: ml_predict_class on all rows vs sklearn predict",
             f"{mismatch} of {len(want_pred)} differ")


# ---------------------------------------------------------------- references

def quiet(fn, *args, **kwargs):
    """fn(*args, **kwargs) without scikit-learn's convergence and line search
    warnings (the references are run to the limits of their solvers)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.filterwarnings("ignore", message=".*[Ll]ine [Ss]earch.*")
        return fn(*args, **kwargs)


def info_vector(info):
    """[intercept, b1..bk] of a linear model's ml_model_info."""
    return np.concatenate([[info["intercept"]], np.asarray(info["coefficients"], dtype=float)])


def sklearn_vector(est):
    """[intercept(s), coefficients] of a fitted scikit-learn linear model, flat."""
    return np.concatenate([np.atleast_1d(est.intercept_), np.ravel(est.coef_)])


def class_index(labels, classes):
    """The position of every label in the list classes."""
    pos = {c: k for k, c in enumerate(classes)}
    return np.array([pos[c] for c in labels])
