#!/usr/bin/python3
"""Reference check of mlsys Gaussian naive Bayes against scikit-learn's GaussianNB.

Run as `/usr/bin/python3 test/reference/naive_bayes_sklearn.py` with the
libpq environment (PGHOST, PGPORT, PGUSER, PGDATABASE) pointing at a running
cluster where `CREATE EXTENSION mlsys` is possible (and, for the worker check
of check 5, `LOAD 'auto_explain'`, i.e. a superuser). The script creates the
scratch database mlsys_ref_nb (dropping any leftover first), loads
scikit-learn's bundled data sets (offline), and drops the database again at
the end. Models are trained with ml_train(..., 'naive_bayes', ...);
test_fraction => 0 (train on every row) wherever parameters are compared
with a fit on all rows.

Tables (every one has an `id` column, which is never a feature; all
features in raw units):
  iris  150 x 4, target `species` text (setosa / versicolor / virginica);
  wine  178 x 13, target `cultivar` int, the classes 0, 1, 2 relabelled
        100, 20, 3 so that the numeric class order (3, 20, 100) differs from
        both the original and the text order; proline's variance (~1e5)
        dominates the others, so var_smoothing's epsilon is visible;
  bc    breast_cancer, 569 x 30, target `diagnosis` text 'malignant' /
        'benign' ('benign' sorts first);
  big   wine repeated REPLICAS times (target `label` text 'a' / 'b' / 'c'),
        for the parallel check.

Checks (one line each, `ok - ...` or `not ok - ...`):
  0. every table round-trips bit for bit (Python float -> float8 -> Python);
  1. iris, wine, bc, defaults (var_smoothing 1e-9): classes in sklearn's
     (sorted) order exactly; class_log_priors vs log(class_prior_), means vs
     theta_, variances vs var_ (sigma_ before sklearn 1.0)  1e-12 max rel;
     ml_predict_proba on every row vs predict_proba           1e-9 max abs;
     ml_predict_class on every row vs predict                  exact;
  2. wine with var_smoothing 1e-9, 1e-3, 0.1: the same comparisons against
     GaussianNB(var_smoothing=...);
  3. bc and wine with {"scale": "standard"}: stored center / scale_by vs
     StandardScaler mean_ / scale_ (1e-12 max rel), then the comparisons of
     check 1 against Pipeline(StandardScaler(), GaussianNB()) (the model's
     means and variances are in standardised units);
  4. bc with {"seed": 9} and test_fraction 0.25: the holdout recomputed in
     SQL with ml_train's predicate; registry row counts exact; the model vs
     GaussianNB fitted on the training rows (1e-12 max rel); ml_train's
     metrics (accuracy, log_loss, precision / recall / f1 macro, roc_auc of
     the second class) vs sklearn.metrics on the holdout rows applied to
     ml_predict_proba's probabilities, and vs the same metrics of the
     sklearn model's own holdout predictions             1e-9 max rel;
  5. big (REPLICAS x 178 rows) with parallel_setup_cost = 0,
     parallel_tuple_cost = 0, min_parallel_table_scan_size = 0,
     max_parallel_workers_per_gather = 2: EXPLAIN ANALYZE of
     ml_naive_bayes_pass(label, ARRAY[...], ARRAY['a', 'b', 'c']) over big
     shows a Partial Aggregate and launched workers; the aggregate's result
     equals the serial one (1e-12 max rel); ml_train in that session (with
     auto_explain showing that its ml_naive_bayes_pass query launched
     workers) gives the model of ml_train with max_parallel_workers_per_gather
     = 0 (1e-12 max rel) and of GaussianNB on the repeated rows (1e-12).

Error measures:
  "max rel err"  element-wise max |got - want| / |want| -- model parameters
                 (log priors, means, variances: none of them near zero in
                 these data) and metrics.
  "max abs err"  max |got - want| over all elements -- probabilities.
A NaN or a shape mismatch fails.

Probabilities: sklearn computes the joint log-likelihoods and normalises
with logsumexp (exp(jll - logsumexp(jll))), mlsys with a softmax
(exp(jll - max) / sum). Both agree to ~1e-12 or better unless a probability
underflows; each probability line is followed by a `#` note saying where
they differ most (row id, class, both values) and the largest relative
difference among probabilities that are at least 1e-300 in both.

log_loss clipping: mlsys clips the true class's probability below at
DBL_EPSILON; sklearn 1.2's log_loss clips every probability to
[eps, 1 - eps] with eps "auto" = 2.2e-16 for float64 (older releases: 1e-15)
and renormalises rows. GaussianNB on breast_cancer is confident: a row
whose true-class probability is below eps costs -log(eps) in both; a row
with a probability of exactly 1 costs 0 in mlsys and -log(1 - eps) ~ 2.2e-16
in sklearn. The script notes how many holdout rows each clip touches.

Exit status 1 if any check failed, 0 otherwise.
"""
import math
import os
import sys

import numpy as np
from sklearn.datasets import load_breast_cancer, load_iris, load_wine
from sklearn.metrics import (accuracy_score, f1_score, log_loss, precision_score, recall_score,
                             roc_auc_score)
from sklearn.naive_bayes import GaussianNB
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from refcheck import (PARALLEL_OFF, PARALLEL_ON, Table, auto_explain_workers,  # noqa: E402
                      check_predicted_classes, check_round_trip, class_index, explain,
                      holdout_mask, load_numeric, max_abs_err, max_rel_err, model_rows, note,
                      plan_workers, registry_row_counts, run_checks, set_gucs, sql_name,
                      start_auto_explain, stop_auto_explain, train)

SCRATCH_DB = "mlsys_ref_nb"

TOL_PARAM = 1e-12    # log priors, means, variances, scaler statistics: max rel
TOL_PROBA = 1e-9     # probabilities: max abs
TOL_METRIC = 1e-9    # holdout metrics: max rel

VAR_SMOOTHINGS = (1e-9, 1e-3, 0.1)
HOLDOUT_SEED = 9
HOLDOUT_FRACTION = 0.25
REPLICAS = 200       # big = 200 x 178 = 35,600 rows


# ---------------------------------------------------------------- database

def make_tables(cur):
    tables = {}

    iris = load_iris()
    tables["iris"] = load_numeric(cur, "iris", [sql_name(n) for n in iris.feature_names], iris.data,
                                  "species", "text", [str(iris.target_names[t]) for t in iris.target])

    wine = load_wine()
    relabel = {0: 100, 1: 20, 2: 3}
    tables["wine"] = load_numeric(cur, "wine", [sql_name(n) for n in wine.feature_names], wine.data,
                                  "cultivar", "int", [relabel[int(t)] for t in wine.target])

    bc = load_breast_cancer()
    tables["bc"] = load_numeric(cur, "bc", [sql_name(n) for n in bc.feature_names], bc.data,
                                "diagnosis", "text", [str(bc.target_names[t]) for t in bc.target])
    return tables


def make_big(cur, wine):
    """wine repeated REPLICAS times, target text 'a' / 'b' / 'c' (100 / 20 / 3)."""
    feats = ", ".join(wine.features)
    cur.execute(f"CREATE TABLE big AS SELECT r * 1000 + w.id AS id, {feats}, "
                f"CASE cultivar WHEN 100 THEN 'a' WHEN 20 THEN 'b' ELSE 'c' END AS label "
                f"FROM wine w, generate_series(0, %s) r", (REPLICAS - 1,))
    cur.execute("ANALYZE big")
    return Table.numeric("big", wine.features, "label", "text").fetch(cur)


# ---------------------------------------------------------------- references

def nb_var(nb):
    """GaussianNB's variances: var_ (sklearn >= 1.0) or sigma_ (older)."""
    return nb.var_ if hasattr(nb, "var_") else nb.sigma_


def model_parts(info):
    """(log priors, means, variances) of a model info as arrays."""
    return (np.asarray(info.get("class_log_priors"), dtype=float),
            np.asarray(info.get("means"), dtype=float),
            np.asarray(info.get("variances"), dtype=float))


def compare_params(rep, label, info, nb, reference_name):
    """Classes, log priors, means and variances of a model vs a fitted GaussianNB."""
    rep.equal(f"{label}: classes in the label type's order vs sklearn classes_",
              info.get("classes"), [str(c) for c in nb.classes_])
    priors, means, variances = model_parts(info)
    rep.close(f"{label}: class_log_priors vs log({reference_name}.class_prior_)",
              max_rel_err(priors, np.log(nb.class_prior_)), TOL_PARAM, "max rel err", "parameters")
    rep.close(f"{label}: means vs {reference_name}.theta_",
              max_rel_err(means, nb.theta_), TOL_PARAM, "max rel err", "parameters")
    rep.close(f"{label}: variances vs {reference_name}.var_ (incl. epsilon_ {nb.epsilon_:.6g})",
              max_rel_err(variances, nb_var(nb)), TOL_PARAM, "max rel err", "parameters")


def proba_note(label, got, want, ids, classes):
    """Where the probabilities differ most, and their relative agreement where
    neither has underflowed."""
    if got.shape != want.shape or not got.size:
        return
    diff = np.abs(got - want)
    i, k = np.unravel_index(np.argmax(diff), diff.shape)
    both = (got >= 1e-300) & (want >= 1e-300)
    rel = np.abs(got - want)[both] / want[both]
    j = np.argmax(rel)
    ri, rk = [a[j] for a in np.nonzero(both)]
    under = int(np.sum((got == 0) != (want == 0)))
    note(f"{label}: largest |diff| {diff[i, k]:.2e} at id {ids[i]} class {classes[k]!r}: "
         f"mlsys {got[i, k]:.17g}, sklearn {want[i, k]:.17g}; largest rel diff among "
         f"{int(both.sum())} of {got.size} probabilities >= 1e-300 in both: {rel[j]:.2e} "
         f"(id {ids[ri]} class {classes[rk]!r}: {got[ri, rk]:.6g}); "
         f"{under} zero in one but not the other")


def compare_classifier(rep, cur, label, model, table, info, ref, X, reference_name="GaussianNB"):
    """Parameters, probabilities on every row and predicted classes of a
    model vs a fitted GaussianNB (or a Pipeline ending in one)."""
    nb = ref[-1] if isinstance(ref, Pipeline) else ref
    compare_params(rep, label, info, nb, reference_name)
    classes = [str(c) for c in nb.classes_]

    proba = np.array(model_rows(cur, model, table, "ml_predict_proba"), dtype=float)
    want = ref.predict_proba(X)
    rep.close(f"{label}: ml_predict_proba on all {len(want)} rows vs sklearn predict_proba",
              max_abs_err(proba, want), TOL_PROBA, "max abs err", "probabilities")
    proba_note(label, proba, want, table.ids(), classes)

    check_predicted_classes(rep, cur, label, model, table, ref, X)


# ---------------------------------------------------------------- checks

def check_defaults(rep, cur, tables):
    for name in ("iris", "wine", "bc"):
        table = tables[name][0]
        X, y = table.matrix(), table.labels()
        model = f"{name}_nb"
        _, info = train(cur, model, "naive_bayes", table, {})
        ref = GaussianNB().fit(X, y)
        compare_classifier(rep, cur, f"{name} defaults", model, table, info, ref, X)


def check_var_smoothing(rep, cur, tables):
    table = tables["wine"][0]
    X, y = table.matrix(), table.labels()
    for vs in VAR_SMOOTHINGS:
        model = f"wine_vs_{vs:g}"
        _, info = train(cur, model, "naive_bayes", table, {"var_smoothing": vs})
        ref = GaussianNB(var_smoothing=vs).fit(X, y)
        compare_classifier(rep, cur, f"wine var_smoothing={vs:g}", model, table, info, ref, X,
                           f"GaussianNB(var_smoothing={vs:g})")


def check_scaled(rep, cur, tables):
    for name in ("bc", "wine"):
        table = tables[name][0]
        X, y = table.matrix(), table.labels()
        model = f"{name}_standard"
        _, info = train(cur, model, "naive_bayes", table, {"scale": "standard"})
        ref = Pipeline([("scale", StandardScaler()), ("nb", GaussianNB())]).fit(X, y)
        inputs = info.get("inputs", [])
        center = [i.get("center", math.nan) for i in inputs]
        scale_by = [i.get("scale_by", math.nan) for i in inputs]
        rep.close(f"{name} scale=standard: stored center vs StandardScaler mean_",
                  max_rel_err(center, ref[0].mean_), TOL_PARAM, "max rel err", "parameters")
        rep.close(f"{name} scale=standard: stored scale_by vs StandardScaler scale_",
                  max_rel_err(scale_by, ref[0].scale_), TOL_PARAM, "max rel err", "parameters")
        compare_classifier(rep, cur, f"{name} scale=standard", model, table, info, ref, X,
                           "Pipeline(StandardScaler, GaussianNB)")


def sklearn_metrics(y_test, proba, classes):
    """ml_train's metrics recomputed with sklearn.metrics from probabilities
    (predicted class: the first of the largest probability, as mlsys does)."""
    predicted = classes[np.argmax(proba, axis=1)]
    want = {"accuracy": accuracy_score(y_test, predicted),
            "log_loss": log_loss(y_test, proba, labels=classes)}
    for key, metric in (("precision_macro", precision_score), ("recall_macro", recall_score),
                        ("f1_macro", f1_score)):
        want[key] = metric(y_test, predicted, labels=classes, average="macro", zero_division=0)
    if len(classes) == 2:
        want["roc_auc"] = roc_auc_score(y_test == classes[1], proba[:, 1])
    return want


def check_holdout(rep, cur, tables):
    table = tables["bc"][0]
    X, y = table.matrix(), table.labels()
    model = "bc_holdout"
    (_, version, metrics), info = train(cur, model, "naive_bayes", table, {"seed": HOLDOUT_SEED},
                                        HOLDOUT_FRACTION)
    hold = holdout_mask(cur, table, HOLDOUT_SEED, HOLDOUT_FRACTION)
    rep.equal(f"bc holdout (seed {HOLDOUT_SEED}, test_fraction {HOLDOUT_FRACTION}): registry "
              "n_train_rows, n_test_rows vs the SQL split",
              registry_row_counts(cur, model, version), (int((~hold).sum()), int(hold.sum())))

    ref = GaussianNB().fit(X[~hold], y[~hold])
    compare_params(rep, f"bc holdout: model on the {int((~hold).sum())} training rows", info, ref,
                   "GaussianNB")

    classes = ref.classes_
    proba = np.array(model_rows(cur, model, table, "ml_predict_proba"), dtype=float)[hold]
    y_test = y[hold]
    ref_proba = ref.predict_proba(X[hold])
    rep.close(f"bc holdout: ml_predict_proba on the {len(y_test)} holdout rows vs sklearn",
              max_abs_err(proba, ref_proba), TOL_PROBA, "max abs err", "probabilities")
    proba_note("bc holdout", proba, ref_proba, table.ids()[hold], [str(c) for c in classes])

    eps = np.finfo(float).eps
    p_true = proba[np.arange(len(y_test)), class_index(y_test, list(classes))]
    note(f"bc holdout: {len(y_test)} rows; true-class probability below DBL_EPSILON (both clip "
         f"to eps) on {int((p_true < eps).sum())} rows (smallest {p_true.min():.3g}); a probability "
         f"above 1 - eps (sklearn clips, mlsys does not: <= 2.2e-16 per row) on "
         f"{int((proba > 1 - eps).any(axis=1).sum())} rows")

    want = sklearn_metrics(y_test, proba, classes)
    rep.equal("bc holdout: metrics keys", sorted(metrics), sorted(want))
    for key in sorted(want):
        rep.close(f"bc holdout: {key} = {want[key]:.12g} vs sklearn.metrics on mlsys's "
                  f"probabilities of the {len(y_test)} holdout rows",
                  max_rel_err(metrics.get(key, math.nan), want[key]), TOL_METRIC, "max rel err",
                  "metrics")
    ref_want = sklearn_metrics(y_test, ref_proba, classes)
    for key in sorted(ref_want):
        rep.close(f"bc holdout: {key} vs sklearn.metrics on the sklearn model's probabilities",
                  max_rel_err(metrics.get(key, math.nan), ref_want[key]), TOL_METRIC,
                  "max rel err", "metrics")


def check_parallel(rep, cur, tables):
    wine = tables["wine"][0]
    big = make_big(cur, wine)
    X, y = big.matrix(), big.labels()
    pass_sql = (f"SELECT ml_naive_bayes_pass(label::text, ARRAY[{', '.join(big.features)}], "
                f"ARRAY['a', 'b', 'c']) FROM big")
    try:
        set_gucs(cur, PARALLEL_ON)
        launched, partial = plan_workers(explain(cur, pass_sql))
        rep.line(partial and launched > 0,
                 f"parallel: EXPLAIN of ml_naive_bayes_pass over big ({len(y)} rows)",
                 f"partial aggregate: {partial}, workers launched: {launched}")
        cur.execute(pass_sql)
        pass_parallel = cur.fetchone()[0]

        # ml_train in the same session, with auto_explain reporting its nested queries.
        explained = start_auto_explain(cur)
        try:
            _, info_parallel = train(cur, "big_parallel", "naive_bayes", big, {}, 0.0)
        finally:
            if explained:
                stop_auto_explain(cur)
        if explained:
            workers, partial, _ = auto_explain_workers(cur.connection, "ml_naive_bayes_pass")
            rep.line(bool(workers) and partial,
                     "parallel: ml_train's ml_naive_bayes_pass query ran with workers (auto_explain)",
                     f"partial aggregate: {partial}, workers launched: {workers}")

        set_gucs(cur, PARALLEL_OFF)
        plan = explain(cur, pass_sql, analyze=False)
        rep.line("Partial" not in plan, "parallel: serial plan has no partial aggregate",
                 "serial" if "Partial" not in plan else "PARTIAL")
        cur.execute(pass_sql)
        pass_serial = cur.fetchone()[0]
        _, info_serial = train(cur, "big_serial", "naive_bayes", big, {}, 0.0)
    finally:
        cur.execute("RESET ALL")
        cur.execute("SET client_min_messages = warning")

    rep.close("parallel: ml_naive_bayes_pass result (counts, means, sums of squares) parallel vs "
              "serial", max_rel_err(pass_parallel, pass_serial), TOL_PARAM, "max rel err",
              "parameters")
    rep.equal("parallel: classes parallel vs serial", info_parallel.get("classes"),
              info_serial.get("classes"))
    for part, got, want in zip(("class_log_priors", "means", "variances"),
                               model_parts(info_parallel), model_parts(info_serial)):
        rep.close(f"parallel: ml_train {part} with workers vs max_parallel_workers_per_gather = 0",
                  max_rel_err(got, want), TOL_PARAM, "max rel err", "parameters")
    ref = GaussianNB().fit(X, y)
    compare_params(rep, f"parallel: model with workers on {len(y)} rows", info_parallel, ref,
                   "GaussianNB")


CHECKS = [check_round_trip, check_defaults, check_var_smoothing, check_scaled, check_holdout,
          check_parallel]


# ---------------------------------------------------------------- main

def main():
    return run_checks(SCRATCH_DB, make_tables, CHECKS, show_worst=True)


if __name__ == "__main__":
    sys.exit(main())
