#!/usr/bin/python3
"""Reference check of the mlsys metric aggregates against sklearn.metrics.

Run as `/usr/bin/python3 test/reference/metrics_sklearn.py` with the libpq
environment (PGHOST, PGPORT, PGUSER, PGDATABASE) pointing at a running
cluster where `CREATE EXTENSION mlsys` is possible. The script creates the
scratch database mlsys_ref_metrics (dropping any leftover first) and drops
it again at the end.

Data (all deterministic, fixed seeds; scikit-learn's bundled data sets load
offline):
  regression  diabetes: LinearRegression predictions (fitted on the first
              300 rows, so the rest are out-of-sample); random: normal
              targets with y = 0 rows (MAPE's epsilon) and heavy-tailed
              errors; far: targets near 1e6 with a small spread (R^2 must
              not lose its accuracy to cancellation)
  scores      breast_cancer: LogisticRegression probabilities, and the same
              rounded to 1 decimal (many ties); imbalanced: 3% positives,
              integer-valued scores (ties); separable: perfect ranking
  classes     iris with string labels (3 classes, a decision tree of depth
              2); digits (10 classes, a depth-5 tree, integer labels);
              imbalanced: 4 text labels with skewed frequencies plus a label
              that is only ever predicted and one only ever true; binary
              booleans
  parallel    a 60,000-row table of repeated rows of far, imbalanced and
              imbalanced_text, run with parallel workers (the plan must show
              a Partial Aggregate and workers must have run) and serially

Checks (one line each, `ok - ...` or `not ok - ...`), every metric vs
sklearn.metrics to 1e-12 relative (|got - want| <= 1e-12 * |want|, exact
equality where want is 0), counts and label lists exactly:
  ml_r2, ml_mse, ml_rmse, ml_mae, ml_mape and ml_regression_metrics vs
    r2_score, mean_squared_error (squared=True/False), mean_absolute_error,
    mean_absolute_percentage_error
  ml_roc_auc vs roc_auc_score, ml_pr_auc vs average_precision_score,
    ml_log_loss vs log_loss(labels=[0, 1]) (probabilities including 0 and 1,
    which sklearn clips to [eps, 1 - eps])
  ml_accuracy vs accuracy_score; ml_confusion_matrix vs confusion_matrix
    over the sorted union of labels; ml_classification_metrics vs
    precision_recall_fscore_support(average=None and average='macro',
    zero_division=0); ml_precision / ml_recall / ml_f1 with each label as
    positive vs precision_score / recall_score / f1_score (binary data:
    average='binary', pos_label; more labels: labels=[label],
    average='macro', i.e. that label against the rest)
  documented differences: constant y_true gives r2 NULL (sklearn 0 or 1),
    ml_pr_auc without positives is NULL (sklearn 0 with a warning)
  GROUP BY: per-group results vs sklearn on each group

Exit status 1 if any check failed, 0 otherwise.
"""
import math
import os
import sys
import warnings

import numpy as np
from sklearn import metrics as skm
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits, load_iris
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.tree import DecisionTreeClassifier

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from refcheck import (PARALLEL_OFF, PARALLEL_ON, TINY, Report, create_table, explain,  # noqa: E402
                      plan_workers, scratch_cursor, set_gucs)

SCRATCH_DB = "mlsys_ref_metrics"
TOL = 1e-12


# ---------------------------------------------------------------- reporting

class ValueReport(Report):
    """refcheck's Report whose close() takes the values and measures rel_err itself."""

    def close(self, what, got, want, tol=TOL):
        """got vs want (scalars or sequences), relative error <= tol; None must match None."""
        err = rel_err(got, want)
        self.line(err <= tol, what, f"got {fmt(got)}, want {fmt(want)}, rel err {err:.1e}, tol {tol:.0e}")


def fmt(v):
    if isinstance(v, float):
        return f"{v:.15g}"
    if isinstance(v, (list, tuple, np.ndarray)) and len(v) > 4:
        return f"[{len(v)} values]"
    return repr(v)


def rel_err(got, want):
    """max |got - want| / |want| element-wise (0 vs 0 is 0); inf on None/shape mismatch."""
    if got is None or want is None:
        return 0.0 if got is None and want is None else math.inf
    g = np.atleast_1d(np.asarray(got, dtype=float))
    w = np.atleast_1d(np.asarray(want, dtype=float))
    if g.shape != w.shape or np.isnan(g).any() or np.isnan(w).any():
        return math.inf
    diff = np.abs(g - w)
    scale = np.abs(w)
    err = np.where(diff == 0, 0.0, diff / np.where(scale == 0, TINY, scale))
    return float(err.max()) if err.size else 0.0


# ---------------------------------------------------------------- database

def load(cur, table, columns, rows):
    """refcheck.create_table with a leading row number column rn (insertion
    order) for reading back in order."""
    create_table(cur, table, [("rn", "int")] + list(columns),
                 [(i,) + tuple(r) for i, r in enumerate(rows)], page_size=5000)


def one(cur, sql, params=None):
    cur.execute(sql, params)
    return cur.fetchone()


def py(v):
    """numpy scalars to Python values (for labels and JSON comparison)."""
    return v.item() if isinstance(v, np.generic) else v


# ---------------------------------------------------------------- data

def regression_data():
    X, y = load_diabetes(return_X_y=True)
    model = LinearRegression().fit(X[:300], y[:300])
    rng = np.random.default_rng(1)
    yr = rng.normal(0, 5, 2000)
    yr[::50] = 0.0                                    # MAPE divides by eps here
    pr = yr + rng.standard_t(3, 2000)
    yf = 1e6 + rng.normal(0, 1, 1500)                 # large mean, small spread
    pf = yf + rng.normal(0, 0.3, 1500)
    return {"diabetes": (y, model.predict(X)), "random": (yr, pr), "far": (yf, pf)}


def score_data():
    X, y = load_breast_cancer(return_X_y=True)
    Xs = (X - X.mean(axis=0)) / X.std(axis=0)
    p = LogisticRegression(C=0.05, max_iter=5000).fit(Xs[:350], y[:350]).predict_proba(Xs)[:, 1]
    rng = np.random.default_rng(2)
    yi = rng.random(5000) < 0.03
    si = np.floor(rng.normal(0, 3, 5000) + 2 * yi)    # integer scores: many ties
    pi = 1 / (1 + np.exp(-si / 2))
    pi[:20] = 0.0                                     # clipped by log_loss
    pi[20:40] = 1.0
    ys = np.arange(300) % 3 == 0
    return {"breast_cancer": (y.astype(bool), p, p),
            "breast_cancer_rounded": (y.astype(bool), np.round(p, 1), np.round(p, 1)),
            "imbalanced": (yi, si, pi),
            "separable": (ys, ys * 2.0 + np.arange(300) / 1000, np.where(ys, 0.75, 0.25))}


def class_data():
    iris = load_iris()
    names = np.array(["setosa", "versicolor", "virginica"])
    tree = DecisionTreeClassifier(max_depth=2, random_state=0).fit(iris.data, iris.target)
    Xd, yd = load_digits(return_X_y=True)
    dtree = DecisionTreeClassifier(max_depth=5, random_state=0).fit(Xd[:1000], yd[:1000])
    rng = np.random.default_rng(3)
    labels = np.array(["alpha", "beta", "gamma", "delta"])
    yt = labels[rng.choice(4, 3000, p=[0.7, 0.2, 0.08, 0.02])].astype(object)
    yp = np.where(rng.random(3000) < 0.6, yt, labels[rng.choice(4, 3000, p=[0.4, 0.4, 0.15, 0.05])])
    yt[:5] = "only_true"                              # never predicted
    yp[5:12] = "only_pred"                            # never true
    yb = rng.random(1000) < 0.3
    pb = np.where(rng.random(1000) < 0.8, yb, ~yb)
    return {"iris": ("text", names[iris.target], names[tree.predict(iris.data)]),
            "digits": ("int", yd, dtree.predict(Xd)),
            "imbalanced_text": ("text", yt, yp),
            "binary_bool": ("boolean", yb, pb)}


# ---------------------------------------------------------------- checks

REG_SQL = ("SELECT ml_r2(y, p), ml_mse(y, p), ml_rmse(y, p), ml_mae(y, p), ml_mape(y, p), "
           "ml_regression_metrics(y, p) FROM {t}")


def sk_regression(y, p):
    return {"r2": skm.r2_score(y, p), "mse": skm.mean_squared_error(y, p),
            "rmse": skm.mean_squared_error(y, p, squared=False),
            "mae": skm.mean_absolute_error(y, p),
            "mape": skm.mean_absolute_percentage_error(y, p)}


def compare_regression(rep, label, row, y, p):
    want = sk_regression(y, p)
    for key, got in zip(["r2", "mse", "rmse", "mae", "mape"], row[:5]):
        rep.close(f"{label}: ml_{key} vs sklearn", got, want[key])
    js = row[5]
    rep.close(f"{label}: ml_regression_metrics vs sklearn",
              [js[k] for k in want], list(want.values()))
    rep.equal(f"{label}: ml_regression_metrics n", js["n"], len(y))


def check_regression(rep, cur, data):
    for name, (y, p) in data.items():
        load(cur, f"reg_{name}", [("y", "float8"), ("p", "float8")], zip(y.tolist(), p.tolist()))
        compare_regression(rep, f"regression {name} ({len(y)} rows)",
                           one(cur, REG_SQL.format(t=f"reg_{name}")), y, p)
    # GROUP BY: 4 groups of the random data.
    y, p = data["random"]
    cur.execute("SELECT rn % 4, " + REG_SQL[len("SELECT "):].format(t="reg_random")
                + " GROUP BY 1 ORDER BY 1")
    for row in cur.fetchall():
        g = np.arange(len(y)) % 4 == row[0]
        compare_regression(rep, f"regression random GROUP BY rn % 4 = {row[0]}", row[1:], y[g], p[g])
    # Documented difference: constant y_true.
    r2, js = one(cur, "SELECT ml_r2(3.5, p), ml_regression_metrics(3.5, p) FROM reg_random")
    rep.line(r2 is None and js["r2"] is None, "regression constant y_true: r2 is NULL",
             f"got {r2!r}, json {js['r2']!r}; sklearn says {skm.r2_score(np.full(len(p), 3.5), p)!r}")
    rep.close("regression constant y_true: mse still vs sklearn",
              js["mse"], skm.mean_squared_error(np.full(len(p), 3.5), p))


SCORE_SQL = "SELECT ml_roc_auc(y, s), ml_pr_auc(y, s), ml_log_loss(y, p) FROM {t}"


def compare_scores(rep, label, row, y, s, p):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rep.close(f"{label}: ml_roc_auc vs roc_auc_score", row[0], skm.roc_auc_score(y, s))
        rep.close(f"{label}: ml_pr_auc vs average_precision_score", row[1],
                  skm.average_precision_score(y, s))
        rep.close(f"{label}: ml_log_loss vs log_loss", row[2],
                  skm.log_loss(y.astype(int), p, labels=[0, 1]))


def check_scores(rep, cur, data):
    for name, (y, s, p) in data.items():
        load(cur, f"sc_{name}", [("y", "boolean"), ("s", "float8"), ("p", "float8")],
             zip(y.tolist(), s.tolist(), p.tolist()))
        compare_scores(rep, f"scores {name} ({len(y)} rows, {len(np.unique(s))} distinct scores)",
                       one(cur, SCORE_SQL.format(t=f"sc_{name}")), y, s, p)
    y, s, p = data["breast_cancer_rounded"]
    cur.execute("SELECT rn % 3, " + SCORE_SQL[len("SELECT "):].format(t="sc_breast_cancer_rounded")
                + " GROUP BY 1 ORDER BY 1")
    for row in cur.fetchall():
        g = np.arange(len(y)) % 3 == row[0]
        compare_scores(rep, f"scores breast_cancer_rounded GROUP BY rn % 3 = {row[0]}", row[1:],
                       y[g], s[g], p[g])
    # Documented differences: undefined cases are NULL.
    roc, ap, ap_all = one(cur, "SELECT ml_roc_auc(false, s), ml_pr_auc(false, s), ml_pr_auc(true, s) "
                          "FROM sc_breast_cancer")
    rep.line(roc is None and ap is None, "scores with no positive rows: roc and pr auc are NULL",
             f"got {roc!r}, {ap!r}")
    rep.close("scores with only positive rows: ml_pr_auc vs average_precision_score", ap_all,
              skm.average_precision_score(np.ones(len(data['breast_cancer'][1]), bool),
                                          data["breast_cancer"][1]))


def sk_classification(y, p):
    labels = sorted(set(map(py, y)) | set(map(py, p)))
    prec, rec, f1, sup = skm.precision_recall_fscore_support(y, p, labels=labels, average=None,
                                                             zero_division=0)
    macro = skm.precision_recall_fscore_support(y, p, average="macro", zero_division=0)
    return labels, prec, rec, f1, sup, macro


def compare_classification(rep, label, cur, table, y, p, cast):
    col = (lambda c: f"{c} COLLATE \"C\"") if cast == "text" else (lambda c: c)
    acc, cm, cls = one(cur, f"SELECT ml_accuracy({col('y')}, {col('p')}), "
                            f"ml_confusion_matrix({col('y')}, {col('p')}), "
                            f"ml_classification_metrics({col('y')}, {col('p')}) FROM {table}")
    labels, prec, rec, f1, sup, macro = sk_classification(y, p)
    rep.close(f"{label}: ml_accuracy vs accuracy_score", acc, skm.accuracy_score(y, p))
    rep.equal(f"{label}: ml_confusion_matrix labels (sorted union)", cm["labels"], labels)
    rep.equal(f"{label}: ml_confusion_matrix vs confusion_matrix", cm["matrix"],
              skm.confusion_matrix(y, p, labels=labels).tolist())
    rep.equal(f"{label}: ml_classification_metrics n and labels",
              (cls["n"], [c["label"] for c in cls["classes"]]), (len(y), labels))
    rep.close(f"{label}: macro precision/recall/f1 vs average='macro', zero_division=0",
              [cls["precision_macro"], cls["recall_macro"], cls["f1_macro"]], list(macro[:3]))
    rep.close(f"{label}: accuracy in ml_classification_metrics", cls["accuracy"],
              skm.accuracy_score(y, p))
    rep.close(f"{label}: per-class precision, recall, f1 vs average=None",
              [[c["precision"], c["recall"], c["f1"]] for c in cls["classes"]],
              np.column_stack([prec, rec, f1]))
    rep.equal(f"{label}: per-class support", [c["support"] for c in cls["classes"]], sup.tolist())

    binary = len(labels) == 2
    got, want = [], []
    for pos in labels:
        row = one(cur, f"SELECT ml_precision({col('y')}, {col('p')}, %(pos)s), "
                       f"ml_recall({col('y')}, {col('p')}, %(pos)s), "
                       f"ml_f1({col('y')}, {col('p')}, %(pos)s) FROM {table}", {"pos": pos})
        got.append(list(row))
        kw = {"pos_label": pos, "average": "binary"} if binary else {"labels": [pos], "average": "macro"}
        want.append([skm.precision_score(y, p, zero_division=0, **kw),
                     skm.recall_score(y, p, zero_division=0, **kw),
                     skm.f1_score(y, p, zero_division=0, **kw)])
    rep.close(f"{label}: ml_precision/ml_recall/ml_f1 with each label as positive vs "
              + ("average='binary', pos_label" if binary else "labels=[label]"), got, want)


def check_classification(rep, cur, data):
    for name, (typ, y, p) in data.items():
        load(cur, f"cl_{name}", [("y", typ), ("p", typ)], zip(map(py, y), map(py, p)))
        compare_classification(rep, f"classes {name} ({len(y)} rows, {typ})", cur, f"cl_{name}",
                               y, p, typ)
    typ, y, p = data["iris"]
    cur.execute('SELECT rn % 2, ml_classification_metrics(y COLLATE "C", p COLLATE "C") '
                "FROM cl_iris GROUP BY 1 ORDER BY 1")
    for g, cls in cur.fetchall():
        m = np.arange(len(y)) % 2 == g
        labels, prec, rec, f1, sup, macro = sk_classification(y[m], p[m])
        rep.close(f"classes iris GROUP BY rn % 2 = {g}: macro and per-class scores",
                  [cls["precision_macro"], cls["recall_macro"], cls["f1_macro"]]
                  + [c[k] for c in cls["classes"] for k in ("precision", "recall", "f1")],
                  list(macro[:3]) + np.column_stack([prec, rec, f1]).ravel().tolist())


def check_parallel(rep, cur, reg, scores, classes):
    """60,000 rows: 20 copies of subsets of the data sets, aggregated with and without workers."""
    yr, pr = reg["far"]                               # the combine step must keep R^2's digits
    ys, ss, ps = scores["imbalanced"]
    _, yc, pc = classes["imbalanced_text"]
    n = 60000
    idx_r, idx_s, idx_c = np.arange(n) % len(yr), np.arange(n) % len(ys), np.arange(n) % len(yc)
    rows = zip(yr[idx_r].tolist(), pr[idx_r].tolist(), ys[idx_s].tolist(), ss[idx_s].tolist(),
               ps[idx_s].tolist(), yc[idx_c].tolist(), pc[idx_c].tolist())
    load(cur, "big", [("y", "float8"), ("p", "float8"), ("b", "boolean"), ("s", "float8"),
                      ("prob", "float8"), ("c", "text"), ("cp", "text")], rows)
    cur.execute("VACUUM ANALYZE big")
    sql = ("SELECT ml_regression_metrics(y, p), ml_roc_auc(b, s), ml_pr_auc(b, s), ml_log_loss(b, prob), "
           'ml_classification_metrics(c COLLATE "C", cp COLLATE "C"), '
           "ml_f1(c COLLATE \"C\", cp COLLATE \"C\", 'beta') FROM big")
    results = {}
    try:
        for mode, settings in (("parallel", PARALLEL_ON), ("serial", PARALLEL_OFF)):
            set_gucs(cur, settings)
            plan = explain(cur, sql)
            launched, partial = plan_workers(plan)
            ok = (partial and launched > 0) if mode == "parallel" else not partial
            rep.line(ok, f"parallel: {mode} plan", f"partial aggregate: {partial}, workers launched: {launched}")
            if not ok:
                print("# " + plan.replace("\n", "\n# "))
            results[mode] = one(cur, sql)
    finally:
        cur.execute("RESET ALL")

    want_reg = sk_regression(yr[idx_r], pr[idx_r])
    labels, prec, rec, f1, sup, macro = sk_classification(yc[idx_c], pc[idx_c])
    for mode, (js, roc, ap, ll, cls, f1beta) in results.items():
        label = f"parallel: {mode} {n} rows"
        rep.close(f"{label}: regression metrics vs sklearn", [js[k] for k in want_reg],
                  list(want_reg.values()))
        compare_scores(rep, label, (roc, ap, ll), ys[idx_s], ss[idx_s], ps[idx_s])
        rep.close(f"{label}: macro and per-class scores vs sklearn",
                  [cls["precision_macro"], cls["recall_macro"], cls["f1_macro"]]
                  + [c[k] for c in cls["classes"] for k in ("precision", "recall", "f1")],
                  list(macro[:3]) + np.column_stack([prec, rec, f1]).ravel().tolist())
        rep.equal(f"{label}: per-class support", [c["support"] for c in cls["classes"]], sup.tolist())
        rep.close(f"{label}: ml_f1(..., 'beta') vs f1_score(labels=['beta'])", f1beta,
                  skm.f1_score(yc[idx_c], pc[idx_c], labels=["beta"], average="macro", zero_division=0))
    par, ser = results["parallel"], results["serial"]
    rep.equal("parallel: classification and ranking results identical to serial",
              (par[1], par[2], par[4], par[5]), (ser[1], ser[2], ser[4], ser[5]))


# ---------------------------------------------------------------- main

def main():
    rep = ValueReport()
    reg, scores, classes = regression_data(), score_data(), class_data()
    with scratch_cursor(SCRATCH_DB) as cur:
        rep.run(check_regression, cur, reg)
        rep.run(check_scores, cur, scores)
        rep.run(check_classification, cur, classes)
        rep.run(check_parallel, cur, reg, scores, classes)
    return rep.finish()


if __name__ == "__main__":
    sys.exit(main())
