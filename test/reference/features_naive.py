#!/usr/bin/python3
"""Randomized check of mlsys point-in-time training sets against a naive query.

Run as `/usr/bin/python3 test/reference/features_naive.py` with the libpq
environment (PGHOST, PGPORT, PGUSER, PGDATABASE) pointing at a running
cluster where `CREATE EXTENSION mlsys` is possible. The script creates the
scratch database mlsys_ref_features (dropping any leftover first) and drops
it again at the end.

The rule under test (ml_training_set): every label row, and for each feature
table the features of the entity's latest row with event time <= the
label's time (and >= time - ttl), NULLs if there is none. It is computed
three ways and every row and column must be identical (exact equality,
Python types included, NaN equal to NaN):
  mlsys   the SQL text returned by ml_training_set, run over the feature
          tables materialised by ml_create_feature_table /
          ml_refresh_feature_table
  naive   a query written here, over the *source* tables: per label row and
          feature column a correlated scalar subquery
            (SELECT f.col FROM src f WHERE f.entity = l.entity
               AND f.event_time <= l.time [AND f.event_time >= l.time - ttl]
             ORDER BY f.event_time DESC LIMIT 1)
  python  the same rule in pure Python over the generated rows (never read
          back from the database): per entity the event times as integer
          microseconds since the epoch, sorted, and bisect_right

Ties: ml_training_set orders the candidate rows by event time only (ORDER BY
event_time DESC LIMIT 1, no tiebreaker), so two rows of one entity with the
same event time in one feature table would make the result arbitrary (and
the naive query just as arbitrary). The generated data therefore has no
duplicate (entity, event time) pair within a source table; event times do
tie deliberately across entities and across the two tables (half of them lie
on an hour or minute grid), and labels fall exactly on feature event times.

Data (numpy, fixed seed), session TimeZone 'Etc/GMT-3' (UTC+3 without DST,
so that local time and UTC differ):
  src_orders  (cust int, at timestamptz, amount float8, channel text, qty int)
              4500 rows over entities 1..280, plus rows with a NULL entity or
              a NULL event time (not materialised, never matched)
  src_visits  (cust int, seen timestamp, pages int, score float8, flag bool)
              4000 rows over entities 21..300 (a timestamp without time zone,
              compared with the labels' timestamptz in the session TimeZone);
              defined as "SELECT cust AS visitor, ..." (entity column named
              differently from the labels')
  labels      (id int, cust int, t timestamptz, y int) 3000 rows: random
              entities and times, entities 301..330 without features, times
              before every feature row, times exactly equal to an orders or a
              visits event time, 1 us before one, exactly time + ttl (the
              bound is inclusive) and 1 us later, NULL entities and times,
              duplicated (entity, time) pairs
  Some feature values are NULL (a NULL feature of the latest row stays
  NULL: it is not filled from older rows), NaN, +-inf and 0.0 (never -0.0,
  see order_values), '' and non-ASCII.

Checks:
  the feature tables hold exactly the source rows with an entity and an
    event time; the training set's columns are l.* then <table>__<feature>
  labels with ttl NULL, '2 days 6 hours' and '0': mlsys = naive = python
  coverage: each kind of label case above really occurs (counted by python)
  incremental refresh: new source rows later than the watermark (and rows
    with a NULL entity): before the refresh the training set still shows the
    old rows (= python over the old rows); ml_refresh_feature_table returns
    the number of new rows with an entity and an event time, a second
    refresh returns 0; row_count and watermark; then over a second label
    table (a query as label source) reaching into the new period, mlsys =
    naive = python over all rows, without and with ttl, and some labels do
    get features from the new rows; a full refresh returns the total and
    changes nothing

Exit status 1 if any check failed, 0 otherwise.
"""
import bisect
import datetime as dt
import math
import os
import sys

import numpy as np
import psycopg2.extras

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from refcheck import create_table, note, run_checks  # noqa: E402

SCRATCH_DB = "mlsys_ref_features"
SEED = 20240301
TIMEZONE = "Etc/GMT-3"                     # POSIX sign: UTC+3
TZ_OFFSET_US = 3 * 3600 * 10**6            # local time = UTC + 3 h
US = 10**6
HOUR = 3600 * US
DAY = 24 * HOUR
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
BASE = (dt.datetime(2024, 3, 1, tzinfo=dt.timezone.utc) - EPOCH) // dt.timedelta(microseconds=1)
SPAN = 30 * DAY
TTLS = {"2 days 6 hours": 2 * DAY + 6 * HOUR, "0": 0}   # SQL interval -> microseconds
MAIN_TTL = "2 days 6 hours"
N_ENTITIES = 300
NO_FEATURE_ENTITIES = range(301, 331)


def utc_dt(us):
    """Microseconds since the epoch as an aware UTC datetime (timestamptz)."""
    return EPOCH + dt.timedelta(microseconds=int(us))


def local_dt(us):
    """Microseconds since the epoch (UTC) as the naive local datetime of the
    session TimeZone (the timestamp value meaning that instant)."""
    return (EPOCH + dt.timedelta(microseconds=int(us) + TZ_OFFSET_US)).replace(tzinfo=None)


def to_us(value):
    """A fetched timestamptz (aware datetime) as microseconds since the epoch."""
    return None if value is None else (value - EPOCH) // dt.timedelta(microseconds=1)


# ---------------------------------------------------------------- sources

class Source:
    """A source table of feature rows and the feature table defined on it.
    rows: tuples (entity, event time in UTC microseconds, features...) as
    generated; event times are stored as timestamptz or, with local=True, as
    the session-local timestamp."""

    def __init__(self, table, feature_table, entity, event_time, local, features, query_entity):
        self.table = table                  # source table
        self.name = feature_table           # feature table
        self.entity = entity                # entity column of the source table
        self.event_time = event_time
        self.local = local                  # timestamp (True) or timestamptz
        self.features = features            # [(column, sql type)]
        self.query_entity = query_entity    # entity column of the feature query
        self.rows = []
        self.pairs = set()                  # (entity, time) of the non-NULL rows

    def columns(self):
        return [(self.entity, "int"), (self.event_time, "timestamp" if self.local else "timestamptz")] \
            + self.features

    def feature_names(self):
        return [c for c, _ in self.features]

    def query(self):
        ent = self.entity if self.query_entity == self.entity else f"{self.entity} AS {self.query_entity}"
        return f"SELECT {ent}, {self.event_time}, {', '.join(self.feature_names())} FROM {self.table}"

    def sql_rows(self, rows):
        """The rows as sent: event times as datetimes of the column's type."""
        conv = local_dt if self.local else utc_dt
        return [(r[0], None if r[1] is None else conv(r[1])) + tuple(r[2:]) for r in rows]

    def valid(self, rows=None):
        """The rows a feature table keeps: entity and event time not NULL."""
        return [r for r in (self.rows if rows is None else rows) if r[0] is not None and r[1] is not None]


def event_times(rng, n, lo, span):
    """n event times (UTC microseconds) in [lo, lo + span): 30% on an hour
    grid, 20% on a minute grid (ties across entities and tables), the rest
    anywhere to the microsecond."""
    kind = rng.random(n)
    t = lo + rng.integers(0, span, n)
    hour = lo + rng.integers(0, span // HOUR, n) * HOUR
    minute = lo + rng.integers(0, span // (60 * US), n) * 60 * US
    return np.where(kind < 0.3, hour, np.where(kind < 0.5, minute, t))


def add_rows(rng, src, n, entities, lo, span, values, n_null_keys=0):
    """Appends n rows with unique (entity, event time) pairs (also unique
    against src's earlier rows), plus n_null_keys rows with a NULL entity
    and as many with a NULL event time; returns the new rows."""
    weights = rng.gamma(0.7, 1.0, len(entities))     # skewed: some entities have many rows
    weights /= weights.sum()
    new = []
    while len(new) < n:
        m = n - len(new)
        ents = rng.choice(entities, m, p=weights)
        times = event_times(rng, m, lo, span)
        for e, t in zip(ents.tolist(), times.tolist()):
            if (e, t) not in src.pairs and len(new) < n:
                src.pairs.add((e, t))
                new.append((e, t) + values(rng))
    for _ in range(n_null_keys):
        new.append((None, int(lo + rng.integers(0, span))) + values(rng))
        new.append((int(rng.choice(entities)), None) + values(rng))
    order = rng.permutation(len(new))
    new = [new[i] for i in order]
    src.rows += new
    return new


CHANNELS = ["web", "shop", "app", "", "café ☕"]


# No -0.0 among the values: psycopg2 sends it as the literal -0.0, a numeric
# (without negative zero) that arrives as float8 0. "+ 0.0" turns -0.0 into 0.0.

def order_values(rng):
    amount = None if rng.random() < 0.1 else float(np.round(rng.normal(50, 30), int(rng.integers(0, 4)))) + 0.0
    channel = None if rng.random() < 0.1 else CHANNELS[int(rng.integers(0, len(CHANNELS)))]
    qty = None if rng.random() < 0.1 else int(rng.integers(-2, 20))
    return amount, channel, qty


def visit_values(rng):
    pages = None if rng.random() < 0.1 else int(rng.integers(0, 50))
    u = rng.random()
    score = (None if u < 0.08 else math.nan if u < 0.1 else math.inf if u < 0.11
             else -math.inf if u < 0.12 else 0.0 if u < 0.13 else float(rng.standard_normal()))
    flag = None if rng.random() < 0.1 else bool(rng.random() < 0.5)
    return pages, score, flag


def make_sources():
    orders = Source("src_orders", "orders", "cust", "at", False,
                    [("amount", "float8"), ("channel", "text"), ("qty", "int")], "cust")
    visits = Source("src_visits", "visits", "cust", "seen", True,
                    [("pages", "int"), ("score", "float8"), ("flag", "bool")], "visitor")
    return orders, visits


# ---------------------------------------------------------------- python reference

class Reference:
    """The rule in pure Python: per source and entity, the sorted event times
    (UTC microseconds) and the feature values of those rows."""

    def __init__(self, sources):
        self.sources = sources
        self.index = []
        for src in sources:
            by_entity = {}
            for r in src.valid():
                by_entity.setdefault(r[0], []).append((r[1], r[2:]))
            idx = {}
            for e, lst in by_entity.items():
                lst.sort(key=lambda x: x[0])
                times = [t for t, _ in lst]
                assert len(set(times)) == len(times), "duplicate (entity, event time)"
                idx[e] = (times, [v for _, v in lst])
            self.index.append(idx)

    def match(self, k, cust, t, ttl_us):
        """(event time, features) of the row of source k for the label
        (cust, t), or None."""
        if cust is None or t is None or cust not in self.index[k]:
            return None
        times, values = self.index[k][cust]
        i = bisect.bisect_right(times, t) - 1
        if i < 0 or (ttl_us is not None and times[i] < t - ttl_us):
            return None
        return times[i], values[i]

    def rows(self, labels, ttl_us):
        """The expected training set: (id, cust, t, y, features...) by id."""
        out = []
        for lid, cust, t, y in sorted(labels, key=lambda r: r[0]):
            row = [lid, cust, t, y]
            for k, src in enumerate(self.sources):
                m = self.match(k, cust, t, ttl_us)
                row += list(m[1]) if m else [None] * len(src.features)
            out.append(tuple(row))
        return out


# ---------------------------------------------------------------- labels

def make_labels(rng, n, first_id, sources, lo, hi, ttl_us, pools=None):
    """n label rows (id, cust, t in UTC microseconds or None, y). pools: per
    source, the rows to draw exact / boundary times from (default: all)."""
    pools = pools or [src.valid() for src in sources]
    labels = []
    for lid in range(first_id, first_id + n):
        u = rng.random()
        cust = int(rng.integers(1, N_ENTITIES + 1))
        t = int(rng.integers(lo, hi))
        if u < 0.40:
            pass                                            # random entity and time
        elif u < 0.45:
            t = lo + int(rng.integers(0, (hi - lo) // HOUR)) * HOUR   # on the hour grid
        elif u < 0.53:
            cust = int(rng.choice(list(NO_FEATURE_ENTITIES)))     # an entity without features
        elif u < 0.58:
            t = BASE - int(rng.integers(1, 10 * DAY))       # before every feature row
        else:
            pool = pools[int(rng.integers(0, len(pools)))]
            cust, t = pool[int(rng.integers(0, len(pool)))][:2]
            if u < 0.76:
                pass                                        # exactly a feature event time
            elif u < 0.82:
                t -= 1                                      # 1 us before it
            elif u < 0.90:
                t += ttl_us                                 # exactly at the ttl bound
            elif u < 0.95:
                t += ttl_us + 1                             # 1 us past it
            elif u < 0.975:
                cust = None                                 # NULL entity
            else:
                t = None                                    # NULL time
        labels.append((lid, cust, t, int(rng.integers(0, 2))))
    for i in range(0, n, 50):                               # duplicated (entity, time) pairs
        lid = first_id + n + i // 50
        labels.append((lid,) + labels[i][1:3] + (int(rng.integers(0, 2)),))
    return labels


def load_labels(cur, name, labels):
    create_table(cur, name, [("id", "int"), ("cust", "int"), ("t", "timestamptz"), ("y", "int")],
                 [(i, c, None if t is None else utc_dt(t), y) for i, c, t, y in labels], page_size=1000)


# ---------------------------------------------------------------- SQL

def feature_columns(sources):
    return [f"{s.name}__{c}" for s in sources for c in s.feature_names()]


def training_set_rows(cur, sources, label_source, ttl):
    """ml_training_set's SQL, run: (column names, rows (id, cust, t, y, features...))."""
    cur.execute("SELECT ml_training_set(%s, 'cust', 't', %s, %s::interval)",
                (label_source, [s.name for s in sources], ttl))
    sql = cur.fetchone()[0]
    cur.execute(f"SELECT * FROM ({sql}\n) AS s LIMIT 0")
    names = [d.name for d in cur.description]
    cur.execute(f"SELECT id, cust, t, y, {', '.join(feature_columns(sources))} FROM ({sql}\n) AS s ORDER BY id")
    return names, [normal_row(r) for r in cur.fetchall()]


def naive_rows(cur, sources, label_table, ttl):
    """The naive reference query over the source tables, written here."""
    cols = []
    for s in sources:
        cond = f"f.{s.entity} = l.cust AND f.{s.event_time} <= l.t"
        if ttl is not None:
            cond += f" AND f.{s.event_time} >= l.t - %(ttl)s::interval"
        for c in s.feature_names():
            cols.append(f"(SELECT f.{c} FROM {s.table} f WHERE {cond}"
                        f" ORDER BY f.{s.event_time} DESC LIMIT 1) AS {s.name}__{c}")
    cur.execute(f"SELECT l.id, l.cust, l.t, l.y, {', '.join(cols)} FROM {label_table} l ORDER BY l.id",
                {"ttl": ttl})
    return [normal_row(r) for r in cur.fetchall()]


def normal_row(row):
    """A fetched row with the label time as microseconds."""
    return (row[0], row[1], to_us(row[2])) + tuple(row[3:])


def key(v):
    """A value for exact, sortable comparison: its type too (True is not 1),
    NaN equal to NaN, -0.0 not equal to 0.0."""
    if isinstance(v, float):
        return ("float", 1, 0.0, 0.0) if math.isnan(v) else ("float", 0, v, math.copysign(1, v))
    return (type(v).__name__, 0, v)


def compare(rep, what, got, want, columns):
    """Every row and column of got vs want, exactly."""
    bad_rows = bad_cells = 0
    first = None
    for g, w in zip(got, want):
        diff = [j for j, (a, b) in enumerate(zip(g, w)) if key(a) != key(b)] + \
               ([-1] if len(g) != len(w) else [])
        if diff:
            bad_rows += 1
            bad_cells += len(diff)
            if first is None:
                j = diff[0]
                first = (f"first: id {g[0]} column {columns[j] if j >= 0 else 'count'}: "
                         f"got {g[j] if j >= 0 else len(g)!r}, want {w[j] if j >= 0 else len(w)!r}")
    ok = bad_rows == 0 and len(got) == len(want)
    detail = f"{len(got)} rows x {len(columns)} columns identical" if ok else \
        f"{bad_rows} rows / {bad_cells} cells differ, {len(got)} vs {len(want)} rows" + \
        (f"; {first}" if first else "")
    rep.line(ok, what, detail)


def compare_three(rep, cur, sources, ref, label_source, label_table, labels, ttl, tag):
    """mlsys vs naive vs python over one label set and ttl."""
    columns = ["id", "cust", "t", "y"] + feature_columns(sources)
    names, got = training_set_rows(cur, sources, label_source, ttl)
    naive = naive_rows(cur, sources, label_table, ttl)
    want = ref.rows(labels, None if ttl is None else TTLS[ttl])
    label = f"{tag}, ttl {ttl or 'NULL'}"
    compare(rep, f"{label}: ml_training_set = naive correlated subqueries", got, naive, columns)
    compare(rep, f"{label}: ml_training_set = python bisect", got, want, columns)
    compare(rep, f"{label}: naive correlated subqueries = python bisect", naive, want, columns)
    return names


def materialised(cur, src):
    """The rows of the latest version of src's feature table, as the source's
    (entity, UTC microseconds, features...), sorted."""
    cur.execute("SELECT table_name FROM ml.feature_tables WHERE name = %s ORDER BY version DESC LIMIT 1",
                (src.name,))
    table = cur.fetchone()[0]
    cur.execute(f"SELECT {src.query_entity}, {src.event_time}, {', '.join(src.feature_names())} "
                f"FROM ml_features.{table}")
    rows = []
    for r in cur.fetchall():
        t = r[1]
        us = (t.replace(tzinfo=dt.timezone.utc) - EPOCH) // dt.timedelta(microseconds=1) - TZ_OFFSET_US \
            if src.local else to_us(t)
        rows.append((r[0], us) + tuple(r[2:]))
    return rows


def sorted_keys(rows):
    return sorted(tuple(key(v) for v in r) for r in rows)


def check_materialised(rep, cur, src, tag):
    got = materialised(cur, src)
    want = src.valid()
    same = sorted_keys(got) == sorted_keys(want)
    rep.line(same, f"{tag}: ml_features table of {src.name} = the source rows with entity and event time",
             f"{len(got)} rows" + ("" if same else f", want {len(want)}, CONTENTS DIFFER"))


def check_catalog(rep, cur, src, tag):
    """row_count and watermark of the latest version."""
    cur.execute("SELECT row_count, watermark FROM ml.feature_tables WHERE name = %s ORDER BY version DESC LIMIT 1",
                (src.name,))
    n, wm = cur.fetchone()
    valid = src.valid()
    latest = max(r[1] for r in valid)
    # timestamp event times: the watermark is the local time read as UTC
    want_wm = latest + (TZ_OFFSET_US if src.local else 0)
    rep.equal(f"{tag}: ml.feature_tables row_count and watermark of {src.name}",
              (n, to_us(wm)), (len(valid), want_wm))


# ---------------------------------------------------------------- setup and checks

def setup(cur):
    cur.execute(f"SET TimeZone = '{TIMEZONE}'")
    rng = np.random.default_rng(SEED)
    orders, visits = sources = make_sources()
    add_rows(rng, orders, 4500, np.arange(1, 281), BASE, SPAN, order_values, n_null_keys=10)
    add_rows(rng, visits, 4000, np.arange(21, 301), BASE, SPAN, visit_values, n_null_keys=10)
    for s in sources:
        create_table(cur, s.table, s.columns(), s.sql_rows(s.rows), page_size=1000)
        # for the naive query's speed only; it changes no result
        cur.execute(f"CREATE INDEX ON {s.table} ({s.entity}, {s.event_time})")
        cur.execute("SELECT ml_create_feature_table(%s, %s, %s, %s, %s)",
                    (s.name, s.query(), s.query_entity, s.event_time, f"reference check: {s.table}"))
    labels = make_labels(rng, 3000, 1, sources, BASE - DAY, BASE + SPAN + 3 * DAY, TTLS[MAIN_TTL])
    load_labels(cur, "labels", labels)
    note(f"{len(orders.rows)} orders rows, {len(visits.rows)} visits rows, {len(labels)} labels, "
         f"TimeZone {TIMEZONE}")
    return {"rng": rng, "sources": sources, "labels": labels}


def check_feature_tables(rep, cur, data):
    for s in data["sources"]:
        check_materialised(rep, cur, s, "created")
        check_catalog(rep, cur, s, "created")


def check_columns(rep, cur, data):
    sources = data["sources"]
    names, _ = training_set_rows(cur, sources, "labels", None)
    rep.equal("training set columns: l.* then <feature table>__<feature>", names,
              ["id", "cust", "t", "y"] + feature_columns(sources))


def check_labels(rep, cur, data):
    ref = Reference(data["sources"])
    for ttl in (None, *TTLS):
        compare_three(rep, cur, data["sources"], ref, "labels", "labels", data["labels"], ttl, "labels")


def check_coverage(rep, cur, data):
    """The label cases the data is meant to exercise do occur."""
    sources, labels = data["sources"], data["labels"]
    ref = Reference(sources)
    ttl_us = TTLS[MAIN_TTL]
    count = dict.fromkeys(["no features for the entity", "before every row of the entity",
                           "exactly at an orders event time", "exactly at a visits event time",
                           "latest row past the ttl (NULL with ttl)", "exactly at the ttl bound (kept)",
                           "NULL entity or time", "a NULL feature of a matched row",
                           "a matched row with an older non-NULL value"], 0)
    for _, cust, t, _ in labels:
        if cust is None or t is None:
            count["NULL entity or time"] += 1
            continue
        if all(cust not in idx for idx in ref.index):
            count["no features for the entity"] += 1
        for k, name in enumerate(["orders", "visits"]):
            idx = ref.index[k]
            if cust in idx and t < idx[cust][0][0]:
                count["before every row of the entity"] += 1
            m = ref.match(k, cust, t, None)
            if not m:
                continue
            count[f"exactly at an {name} event time" if name == "orders"
                  else f"exactly at a {name} event time"] += m[0] == t
            count["latest row past the ttl (NULL with ttl)"] += m[0] < t - ttl_us
            count["exactly at the ttl bound (kept)"] += m[0] == t - ttl_us
            if None in m[1]:
                count["a NULL feature of a matched row"] += 1
                times, values = idx[cust]
                i = times.index(m[0])
                j = m[1].index(None)
                count["a matched row with an older non-NULL value"] += any(v[j] is not None for v in values[:i])
    for what, n in count.items():
        rep.line(n > 0, f"coverage: labels with {what}", f"{n}")


def check_refresh(rep, cur, data):
    rng, sources = data["rng"], data["sources"]
    orders, visits = sources
    old_ref = Reference(sources)
    new_rows = []
    for s, values, n in ((orders, order_values, 500), (visits, visit_values, 400)):
        latest = max(r[1] for r in s.valid())
        ents = np.arange(1, 311) if s is orders else np.arange(21, 311)   # 301..310: new entities
        rows = add_rows(rng, s, n, ents, latest + 1, 10 * DAY, values, n_null_keys=3)
        psycopg2.extras.execute_values(cur, f"INSERT INTO {s.table} VALUES %s", s.sql_rows(rows), page_size=1000)
        new_rows.append(rows)
    end = max(r[1] for s in sources for r in s.valid())
    pools = [s.valid(rows) for s, rows in zip(sources, new_rows)]
    pools = [p + s.valid()[:len(p)] for p, s in zip(pools, sources)]    # new rows and as many old ones
    labels2 = make_labels(rng, 1500, 10001, sources, BASE - DAY, end + 3 * DAY, TTLS[MAIN_TTL], pools)
    load_labels(cur, "labels2", labels2)
    label_query = "SELECT id, cust, t, y FROM labels2;"

    # Before the refresh: the training set still reads the old rows.
    columns = ["id", "cust", "t", "y"] + feature_columns(sources)
    _, got = training_set_rows(cur, sources, label_query, None)
    want_old = old_ref.rows(labels2, None)
    compare(rep, "before refresh: ml_training_set = python over the old rows only", got, want_old, columns)

    for s, rows in zip(sources, new_rows):
        cur.execute("SELECT ml_refresh_feature_table(%s)", (s.name,))
        rep.equal(f"refresh {s.name}: rows added (new rows with entity and event time)",
                  cur.fetchone()[0], len(s.valid(rows)))
        cur.execute("SELECT ml_refresh_feature_table(%s)", (s.name,))
        rep.equal(f"refresh {s.name} again: rows added", cur.fetchone()[0], 0)
        check_materialised(rep, cur, s, "refreshed")
        check_catalog(rep, cur, s, "refreshed")

    ref = Reference(sources)
    want_new = ref.rows(labels2, None)
    changed = sum(a != b for a, b in zip(want_old, want_new))
    rep.line(changed > 0, "refresh: labels whose features come from the new rows", f"{changed}")
    for ttl in (None, MAIN_TTL):
        compare_three(rep, cur, sources, ref, label_query, "labels2", labels2, ttl, "refreshed, labels2")

    # A full refresh reloads every row and changes nothing.
    cur.execute("SELECT ml_refresh_feature_table('orders', full => true)")
    rep.equal("full refresh orders: rows loaded", cur.fetchone()[0], len(orders.valid()))
    check_materialised(rep, cur, orders, "full refresh")
    _, got = training_set_rows(cur, sources, label_query, MAIN_TTL)
    compare(rep, f"full refresh, labels2, ttl {MAIN_TTL}: ml_training_set = python bisect",
            got, ref.rows(labels2, TTLS[MAIN_TTL]), columns)


CHECKS = [check_feature_tables, check_columns, check_labels, check_coverage, check_refresh]


def main():
    return run_checks(SCRATCH_DB, setup, CHECKS)


if __name__ == "__main__":
    sys.exit(main())
