#!/usr/bin/python3
"""Reference check of the mlsys drift aggregates against numpy / scipy.

Run as `/usr/bin/python3 test/reference/drift_scipy.py` with the libpq
environment (PGHOST, PGPORT, PGUSER, PGDATABASE) pointing at a running
cluster where `CREATE EXTENSION mlsys` is possible. The script creates the
scratch database mlsys_ref_drift (dropping any leftover first) and drops it
again at the end.

The reference counts the same cells as mlsys, independently, with numpy:
numpy.histogram(x, bin_edges) for the k bins (its bins are mlsys's:
[e_i, e_i+1), the last one closed), x < e_0 (and -inf) "below", x > e_k
(+inf, NaN) "above", None "null"; categorical values by exact level
(unseen levels "above"). The baseline has 0 below and above and
baseline_n_null (0 unless passed) in null. Then:
  ml_psi            sum((p - q) ln(p / q)), p and q the proportions
                    np.maximum(., 1e-4) over all cells (numpy)
  ml_js_divergence  scipy.spatial.distance.jensenshannon(c, b, base=2) ** 2
  ml_chi_square     scipy.stats.chi2_contingency([b, c], correction=False)
                    over the cells non-empty on either side: statistic,
                    p-value, dof (all three)
  ml_ks             max |cumsum(c) / sum(c) - cumsum(b) / sum(b)| over the
                    non-NULL cells [below, bins, above] (numpy)

Data (fixed seeds): a normal training sample with 10 quantile bins and
current samples that are the same distribution, shifted, wider (out of range
on both sides), special (NULLs, NaN, +-inf, values exactly on every edge),
concentrated in one bin; 200 equal-width bins of a gamma sample; categorical
levels (the empty string and non-ASCII among them, one with baseline count
0) with the same, drifted, and unseen levels + NULLs; fractional baseline
counts; two levels (dof 1 and 2); 600 levels (dof ~ 600, p-values from ~1
down to ~1e-160); GROUP BY;
a 60,000-row table with and without parallel workers (the plan must show a
Partial Aggregate and launched workers; results must be identical); and
ml_drift on a model trained by ml_train, against the same reference on the
baseline read from ml_model_info.

Tolerance: |got - want| <= 1e-9 * max(|want|, 1e-6) for every statistic
(relative, absolute 1e-15 near 0), 1e-9 relative for p-values; dof exactly.

Exit status 1 if any check failed, 0 otherwise.
"""
import json
import math
import os
import sys

import numpy as np
from scipy.spatial.distance import jensenshannon
from scipy.stats import chi2_contingency

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from refcheck import (PARALLEL_OFF, PARALLEL_ON, TINY, Report, create_table, explain,  # noqa: E402
                      max_rel_err, plan_workers, scratch_cursor, set_gucs)

SCRATCH_DB = "mlsys_ref_drift"
TOL = 1e-9
STAT_FLOOR = 1e-6
EPS = 1e-4


# ---------------------------------------------------------------- reference

def numeric_cells(values, edges):
    """[below, bins..., above, null] counts of a list of floats / None."""
    edges = np.asarray(edges, dtype=float)
    null = sum(v is None for v in values)
    x = np.array([v for v in values if v is not None], dtype=float)
    below = np.sum(x < edges[0])
    above = np.sum((x > edges[-1]) | np.isnan(x))
    inside = x[(x >= edges[0]) & (x <= edges[-1])]
    hist, _ = np.histogram(inside, bins=edges)
    return np.concatenate([[below], hist, [above, null]]).astype(float)


def categorical_cells(values, levels):
    """[below (0), levels..., unseen, null] counts of a list of str / None."""
    index = {lv: i for i, lv in enumerate(levels)}
    c = np.zeros(len(levels) + 3)
    for v in values:
        if v is None:
            c[-1] += 1
        elif v in index:
            c[1 + index[v]] += 1
        else:
            c[-2] += 1
    return c


def baseline_cells(counts, n_null=0.0):
    return np.concatenate([[0.0], np.asarray(counts, dtype=float), [0.0, float(n_null)]])


def ref_psi(c, b):
    p = np.maximum(c / c.sum(), EPS)
    q = np.maximum(b / b.sum(), EPS)
    return float(np.sum((p - q) * np.log(p / q)))


def ref_js(c, b):
    return float(jensenshannon(c, b, base=2) ** 2)


def ref_chi_square(c, b):
    keep = (c + b) > 0
    table = np.array([b[keep], c[keep]])
    if table.shape[1] < 2:
        return [0.0, 1.0, 0.0]
    stat, p, dof, _ = chi2_contingency(table, correction=False)
    return [float(stat), float(p), float(dof)]


def ref_ks(c, b):
    c, b = c[:-1], b[:-1]                      # NULLs are not values
    if c.sum() == 0 or b.sum() == 0:
        return None
    return float(np.max(np.abs(np.cumsum(c) / c.sum() - np.cumsum(b) / b.sum())))


def reference(c, b, numeric=True):
    out = {"psi": ref_psi(c, b), "js": ref_js(c, b), "chi": ref_chi_square(c, b)}
    if numeric:
        out["ks"] = ref_ks(c, b)
    return out


# ---------------------------------------------------------------- comparison

def compare(rep, label, got, want):
    """got: {psi, js, chi, [ks]} from SQL; want: the reference."""
    for key in ("psi", "js", "ks"):
        if key not in want:
            continue
        if want[key] is None or got[key] is None:
            rep.equal(f"{label}: ml_{key} is NULL", got[key], want[key])
            continue
        rep.close(f"{label}: ml_{key}", max_rel_err(got[key], want[key], STAT_FLOOR), TOL,
                  group=key)
    g, w = got["chi"], want["chi"]
    rep.close(f"{label}: ml_chi_square statistic", max_rel_err(g[0], w[0], STAT_FLOOR), TOL,
              group="chi-square statistic")
    rep.close(f"{label}: ml_chi_square p-value ({w[1]:.3g}, dof {w[2]:.0f})",
              max_rel_err(g[1], w[1], TINY), TOL, group="chi-square p-value")
    if len(g) > 2:                            # ml_drift returns no dof
        rep.equal(f"{label}: ml_chi_square dof", g[2], w[2])


def arg_sql(numeric, n_null):
    bins = "%(edges)s::float8[]" if numeric else "%(levels)s::text[]"
    return f"{bins}, %(counts)s::float8[]" + (", %(n_null)s::float8" if n_null is not None else "")


def stats_sql(col, numeric, n_null, table, where="true", group=None):
    a = arg_sql(numeric, n_null)
    ks = f", ml_ks({col}, %(edges)s::float8[], %(counts)s::float8[])" if numeric else ""
    head = f"{group}, " if group else ""
    tail = f" GROUP BY {group} ORDER BY {group}" if group else ""
    return (f"SELECT {head}ml_psi({col}, {a}), ml_js_divergence({col}, {a}), "
            f"ml_chi_square({col}, {a}){ks} FROM {table} WHERE {where}{tail}")


def as_got(row, numeric):
    got = {"psi": row[0], "js": row[1], "chi": row[2]}
    if numeric:
        got["ks"] = row[3]
    return got


def load_values(cur, table, sql_type, values):
    create_table(cur, table, [("id", "int"), ("v", sql_type)],
                 [(i, v) for i, v in enumerate(values)], page_size=5000)


def check_case(rep, cur, label, table, values, numeric, bins, counts, n_null=None):
    """One current sample against one baseline, with the 3- and (if n_null) 4-argument forms."""
    params = {"edges" if numeric else "levels": list(bins), "counts": [float(c) for c in counts],
              "n_null": n_null}
    c = numeric_cells(values, bins) if numeric else categorical_cells(values, bins)
    for nn in ([None, n_null] if n_null is not None else [None]):
        cur.execute(stats_sql("v", numeric, nn, table), params)
        got = as_got(cur.fetchone(), numeric)
        want = reference(c, baseline_cells(counts, nn or 0.0), numeric)
        compare(rep, f"{label}" + (f" (baseline_n_null {nn:g})" if nn is not None else ""), got, want)


# ---------------------------------------------------------------- data

def with_nulls(x, rng, rate):
    return [None if rng.random() < rate else float(v) for v in x]


def numeric_data():
    rng = np.random.default_rng(11)
    train = rng.normal(50, 10, 20000)
    edges = np.quantile(train, np.linspace(0, 1, 11))
    counts, _ = np.histogram(train, bins=edges)
    special = list(rng.normal(50, 10, 3000)) + list(edges) * 3 + [math.nan] * 5 \
        + [math.inf] * 3 + [-math.inf] * 2
    special = with_nulls(special, rng, 0.02)
    gamma_train = rng.gamma(2.0, 3.0, 30000)
    g_edges = np.linspace(0, gamma_train.max(), 201)
    g_counts, _ = np.histogram(gamma_train, bins=g_edges)
    cases = {
        "same": (list(rng.normal(50, 10, 5000)), edges, counts),
        "shifted": (list(rng.normal(53, 10, 5000)), edges, counts),
        "wider": (list(rng.normal(50, 14, 5000)), edges, counts),
        "special": (special, edges, counts),
        "one_bin": (list(rng.uniform(edges[4], edges[5], 500)), edges, counts),
        "gamma_200_bins_same": (list(rng.gamma(2.0, 3.0, 8000)), g_edges, g_counts),
        "gamma_200_bins_shifted": (list(rng.gamma(2.2, 3.0, 8000)), g_edges, g_counts),
    }
    return {k: ([None if v is None else float(v) for v in x], [float(e) for e in e_], c)
            for k, (x, e_, c) in cases.items()}


def categorical_data():
    rng = np.random.default_rng(12)
    levels = [f"level_{i:02d}" for i in range(28)] + ["", "größe"]
    probs = rng.dirichlet(np.ones(len(levels)))
    counts = rng.multinomial(50000, probs).astype(float)
    counts[5] = 0.0                               # a level never seen in training
    drift = rng.dirichlet(np.ones(len(levels)) * 3)

    def sample(p, n, unseen=0.0, null=0.0):
        out = list(rng.choice(levels, size=n, p=p))
        for i in range(n):
            u = rng.random()
            if u < null:
                out[i] = None
            elif u < null + unseen:
                out[i] = ["new_a", "new_b", "LEVEL_00"][rng.integers(3)]
        return out

    many = [f"m{i}" for i in range(600)]
    mp = rng.dirichlet(np.ones(600) * 5)
    many_counts = rng.multinomial(200000, mp).astype(float)
    mp_drift = 0.95 * mp + 0.05 * rng.dirichlet(np.ones(600) * 5)
    mp_strong = 0.6 * mp + 0.4 * rng.dirichlet(np.ones(600) * 5)
    return {
        "same": (sample(probs / probs.sum(), 8000), levels, counts),
        "drifted": (sample(drift, 8000), levels, counts),
        "unseen_and_nulls": (sample(probs, 8000, unseen=0.03, null=0.05), levels, counts),
        "fractional_baseline": (sample(probs, 3000, null=0.01), levels,
                                np.round(probs * 7.3, 6)),
        "two_levels": (list(rng.choice(["no", "yes"], 1000, p=[0.31, 0.69])), ["no", "yes"],
                       [300.0, 700.0]),
        "600_levels_same": (list(rng.choice(many, 20000, p=mp)), many, many_counts),
        "600_levels_mild": (list(rng.choice(many, 20000, p=mp_drift)), many, many_counts),
        "600_levels_strong": (list(rng.choice(many, 20000, p=mp_strong)), many, many_counts),
    }


# ---------------------------------------------------------------- checks

def check_numeric(rep, cur, data):
    for name, (values, edges, counts) in data.items():
        load_values(cur, f"num_{name}", "float8", values)
        check_case(rep, cur, f"numeric {name} ({len(values)} rows, {len(edges) - 1} bins)",
                   f"num_{name}", values, True, edges, counts, n_null=250.0)


def check_categorical(rep, cur, data):
    for name, (values, levels, counts) in data.items():
        load_values(cur, f"cat_{name}", "text", values)
        check_case(rep, cur, f"categorical {name} ({len(values)} rows, {len(levels)} levels)",
                   f"cat_{name}", values, False, levels, counts, n_null=1234.0)
    # ml_psi_categorical is ml_psi on text
    values, levels, counts = data["unseen_and_nulls"]
    cur.execute("SELECT ml_psi_categorical(v, %(l)s::text[], %(c)s::float8[]), "
                "ml_psi(v, %(l)s::text[], %(c)s::float8[]) FROM cat_unseen_and_nulls",
                {"l": levels, "c": list(counts)})
    a, b = cur.fetchone()
    rep.equal("categorical: ml_psi_categorical = ml_psi(text, ...)", a, b)


def check_group_by(rep, cur, num, cat):
    values, edges, counts = num["special"]
    params = {"edges": edges, "counts": [float(c) for c in counts], "n_null": 40.0}
    cur.execute(stats_sql("v", True, 40.0, "num_special", group="mod(id, 4)"), params)
    for row in cur.fetchall():
        g = row[0]
        sub = [v for i, v in enumerate(values) if i % 4 == g]
        want = reference(numeric_cells(sub, edges), baseline_cells(counts, 40.0))
        compare(rep, f"numeric special GROUP BY mod(id, 4) = {g}", as_got(row[1:], True), want)
    values, levels, counts = cat["unseen_and_nulls"]
    params = {"levels": levels, "counts": [float(c) for c in counts]}
    cur.execute(stats_sql("v", False, None, "cat_unseen_and_nulls", group="mod(id, 3)"), params)
    for row in cur.fetchall():
        g = row[0]
        sub = [v for i, v in enumerate(values) if i % 3 == g]
        want = reference(categorical_cells(sub, levels), baseline_cells(counts), False)
        compare(rep, f"categorical unseen_and_nulls GROUP BY mod(id, 3) = {g}", as_got(row[1:], False), want)


def check_parallel(rep, cur, num, cat):
    """60,000 rows, aggregated with and without parallel workers."""
    n = 60000
    xs, edges, counts = num["special"]
    cs, levels, ccounts = cat["unseen_and_nulls"]
    x = [xs[i % len(xs)] for i in range(n)]
    c = [cs[i % len(cs)] for i in range(n)]
    create_table(cur, "big", [("id", "int"), ("x", "float8"), ("c", "text")],
                 [(i, x[i], c[i]) for i in range(n)], page_size=5000)
    cur.execute("VACUUM ANALYZE big")
    params = {"edges": edges, "counts": [float(v) for v in counts], "n_null": 99.0,
              "levels": levels, "ccounts": [float(v) for v in ccounts]}
    num_args = "%(edges)s::float8[], %(counts)s::float8[], %(n_null)s::float8"
    cat_args = "%(levels)s::text[], %(ccounts)s::float8[]"
    sql = (f"SELECT ml_psi(x, {num_args}), ml_js_divergence(x, {num_args}), "
           f"ml_chi_square(x, {num_args}), ml_ks(x, %(edges)s::float8[], %(counts)s::float8[]), "
           f"ml_psi(c, {cat_args}), ml_js_divergence(c, {cat_args}), ml_chi_square(c, {cat_args}) "
           "FROM big")
    results = {}
    try:
        for mode, settings in (("parallel", PARALLEL_ON), ("serial", PARALLEL_OFF)):
            set_gucs(cur, settings)
            plan = explain(cur, sql, params)
            launched, partial = plan_workers(plan)
            ok = (partial and launched > 0) if mode == "parallel" else not partial
            rep.line(ok, f"parallel: {mode} plan", f"partial aggregate: {partial}, workers launched: {launched}")
            if not ok:
                print("# " + plan.replace("\n", "\n# "))
            cur.execute(sql, params)
            results[mode] = cur.fetchone()
    finally:
        cur.execute("RESET ALL")
    want_num = reference(numeric_cells(x, edges), baseline_cells(counts, 99.0))
    want_cat = reference(categorical_cells(c, levels), baseline_cells(ccounts), False)
    for mode, row in results.items():
        compare(rep, f"parallel: {mode} {n} rows numeric", as_got(row[:4], True), want_num)
        compare(rep, f"parallel: {mode} {n} rows categorical", as_got(row[4:], False), want_cat)
    rep.equal("parallel: results identical to serial", results["parallel"], results["serial"])


def check_model(rep, cur, _num, _cat):
    """ml_drift on a model trained by ml_train, vs the reference on the model's stored baseline."""
    rng = np.random.default_rng(13)
    n = 4000
    amount = rng.lognormal(3, 0.5, n)
    amount[rng.random(n) < 0.05] = np.nan                       # NULL in the table
    region = rng.choice(["north", "south", "east", "west"], n, p=[0.4, 0.3, 0.2, 0.1])
    y = np.nan_to_num(amount, nan=20.0) * 0.3 + (region == "north") * 2 + rng.normal(0, 1, n)
    rows = [(i, None if np.isnan(amount[i]) else float(amount[i]), str(region[i]), float(y[i]))
            for i in range(n)]
    create_table(cur, "orders", [("id", "int"), ("amount", "float8"), ("region", "text"), ("y", "float8")], rows)
    cur.execute("SELECT * FROM ml_train('orders_y', 'linear', 'orders', 'y', ARRAY['amount', 'region'], "
                "'{\"impute\": \"mean\"}', 0)")
    cur.execute("SELECT ml_model_info(ml_model('orders_y'))::text")
    info = json.loads(cur.fetchone()[0])                        # floats parse exactly (shortest repr)
    inputs = {i["name"]: i for i in info["inputs"]}
    am, rg = inputs["amount"], inputs["region"]
    # Current data: amounts 15% larger, NULLs 10%, a new region.
    m = 3000
    cur_amount = [None if rng.random() < 0.1 else float(v) for v in rng.lognormal(3.14, 0.5, m)]
    cur_region = [str(r) if rng.random() > 0.04 else "central"
                  for r in rng.choice(["north", "south", "east", "west"], m, p=[0.3, 0.3, 0.25, 0.15])]
    create_table(cur, "orders_now", [("id", "int"), ("amount", "float8"), ("region", "text")],
                 [(i, cur_amount[i], cur_region[i]) for i in range(m)])
    cur.execute("SELECT feature, metric, value, p_value FROM ml_drift('orders_y', 'orders_now')")
    got = {(f, k): (v, p) for f, k, v, p in cur.fetchall()}

    st = am["stats"]
    # the training histogram ml_train stored: numpy's counts of the training
    # values in the stored bins (edges quantiles to within a 1/1024 cell)
    hist, _ = np.histogram(amount[~np.isnan(amount)], bins=np.array(st["bin_edges"]))
    rep.close("ml_train's stored histogram of amount vs numpy.histogram of the training rows",
              float(np.max(np.abs(hist - np.array(st["bin_counts"])))), 0, measure="max count diff",
              group="training histogram")
    shares = np.array(st["bin_counts"]) / np.sum(st["bin_counts"])
    rep.close("ml_train's histogram bins hold about a tenth each (quantile edges)",
              float(np.max(np.abs(shares - 0.1))), 0.01, measure="max |share - 0.1|",
              group="training histogram")
    c = numeric_cells(cur_amount, st["bin_edges"])
    want = reference(c, baseline_cells(st["bin_counts"], st["n_null"]))
    nonnull = [v for v in cur_amount if v is not None]
    want["null_rate"] = sum(v is None for v in cur_amount) / m
    want["out_of_range"] = sum(not (st["min"] <= v <= st["max"]) for v in nonnull) / len(nonnull)
    compare(rep, "ml_drift amount", {"psi": got["amount", "psi"][0], "js": got["amount", "js_divergence"][0],
                                     "ks": got["amount", "ks"][0],
                                     "chi": got["amount", "chi_square"]}, want)
    for k in ("null_rate", "out_of_range"):
        rep.close(f"ml_drift amount: {k} ({want[k]:.4f})", max_rel_err(got["amount", k][0], want[k], STAT_FLOOR),
                  TOL, group="data quality rate")

    st = rg["stats"]
    c = categorical_cells(cur_region, rg["levels"])
    want = reference(c, baseline_cells(st["counts"], st["n_null"]), False)
    want["unseen"] = sum(v not in rg["levels"] for v in cur_region) / m
    compare(rep, "ml_drift region", {"psi": got["region", "psi"][0], "js": got["region", "js_divergence"][0],
                                     "chi": got["region", "chi_square"]}, want)
    rep.close(f"ml_drift region: unseen ({want['unseen']:.4f})",
              max_rel_err(got["region", "unseen"][0], want["unseen"], STAT_FLOOR), TOL, group="data quality rate")
    rep.equal("ml_drift: metrics per input", sorted(k for f, k in got if f == "amount"),
              sorted(["null_rate", "out_of_range", "psi", "js_divergence", "ks", "chi_square"]))

    # The prediction: the model's output on its training rows (test_fraction 0),
    # in bins between its deciles, against its output on the current rows --
    # both computed here from the stored coefficients and preprocessing.
    def predict(amounts, regions):
        x_amount = np.array([am["fill"] if v is None else v for v in amounts], dtype=float)
        fill_region = rg["levels"][rg["fill_level"]] if rg["fill_level"] >= 0 else None
        design = [x_amount] + [np.array([(r if r in rg["levels"] else fill_region) == level for r in regions],
                                        dtype=float) for level in rg["levels"][1:]]
        order = [i["name"] for i in info["inputs"]]
        cols = {"amount": [design[0]], "region": design[1:]}
        x = np.column_stack([c for name in order for c in cols[name]])
        return info["intercept"] + x @ np.array(info["coefficients"])

    train_pred = predict([r[1] for r in rows], [r[2] for r in rows])
    outputs = info["outputs"]
    deciles = np.unique(np.percentile(train_pred, np.arange(0, 101, 10), method="inverted_cdf"))
    rep.close("prediction baseline: bin edges are the deciles of the training predictions",
              max_rel_err(outputs["bin_edges"], deciles, STAT_FLOOR), 1e-12, group="prediction baseline")
    # (a training prediction on an edge may fall either side by a rounding)
    base = numeric_cells(list(train_pred), outputs["bin_edges"])[1:-2]
    rep.line(np.all(np.abs(np.array(outputs["counts"]) - base) <= 2) and sum(outputs["counts"]) == n,
             "prediction baseline: counts of the training predictions per bin",
             f"{outputs['counts']} vs {list(base.astype(int))}")
    cur_pred = predict(cur_amount, cur_region)
    c = numeric_cells(list(cur_pred), outputs["bin_edges"])
    want = reference(c, baseline_cells(outputs["counts"]))
    compare(rep, "ml_drift (prediction)", {"psi": got["(prediction)", "psi"][0],
                                           "js": got["(prediction)", "js_divergence"][0],
                                           "ks": got["(prediction)", "ks"][0],
                                           "chi": got["(prediction)", "chi_square"]}, want)
    rep.close("ml_drift (prediction): unpredictable (0: imputation covers every row)",
              got["(prediction)", "unpredictable"][0], 0, group="data quality rate")


# ---------------------------------------------------------------- main

def main():
    rep = Report(show_worst=True)
    num, cat = numeric_data(), categorical_data()
    with scratch_cursor(SCRATCH_DB) as cur:
        rep.run(check_numeric, cur, num)
        rep.run(check_categorical, cur, cat)
        for check in (check_group_by, check_parallel, check_model):
            rep.run(check, cur, num, cat)
    return rep.finish()


if __name__ == "__main__":
    sys.exit(main())
