#!/usr/bin/python3
"""Reference check of the mlsys hyper-parameter search and k-fold
cross-validation of ml_train against scikit-learn's GridSearchCV.

Run as `/usr/bin/python3 test/reference/tune_sklearn.py` with the libpq
environment (PGHOST, PGPORT, PGUSER, PGDATABASE) pointing at a running
cluster where `CREATE EXTENSION mlsys` is possible. The script creates the
scratch database mlsys_ref_tune (dropping any leftover first), loads
scikit-learn's bundled data sets (offline) and drops the database again at
the end:
  diabetes  load_diabetes() -- the default, centred and scaled columns --
            442 rows, the ten features and `target` as float8 columns;
  bc        load_breast_cancer(), 569 rows, the 30 features standardised in
            Python (StandardScaler on all rows) as float8 columns c01..c30,
            target `label` int 0 / 1 (the model's classes are '0', '1').

Every ml_train below has test_fraction 0.2 and a "seed". The script
recomputes in SQL, with ml_train's own expressions, the row hash
h = hash_record_extended(ROW(target, f1, ..., fk), seed) & 2147483647,
the holdout (h < floor(0.2 * 2^31)) and the fold of each training row
(h % cv); scikit-learn then gets the training rows and
PredefinedSplit(test_fold=fold), so its folds are mlsys's folds.

Checks (one line each, `ok - ...` or `not ok - ...`):
  1. ridge grid search on diabetes, "alpha": [5 values], "cv": 4, seed 11:
     row counts, fold sizes; the trials in ml.training_trials (count, order
     of the grid, their alphas, metrics keys r2 mse rmse mae mape -- no
     "n"); every trial's r2, mse, rmse, mae, mape vs
     GridSearchCV(Ridge(), {"alpha": [...]}, cv=PredefinedSplit, scoring=
     r2 / neg_mean_squared_error / neg_root_mean_squared_error /
     neg_mean_absolute_error / neg_mean_absolute_percentage_error)'s mean
     fold scores (sign restored)                                    1e-9;
     GridSearchCV's mean scores vs the same means computed by hand (fit
     Ridge per fold, sklearn.metrics on the fold, np.mean)          1e-12;
     the chosen alpha (registry params) vs best_params_             exact;
     the version's cv_<metric> keys are the winning trial's metrics exact;
     cv_r2 vs best_score_                                           1e-9;
     the final model (intercept+coefficients) vs Ridge(best alpha) fitted
     on all training rows (= GridSearchCV's best_estimator_)        1e-8;
  2. lasso grid search on diabetes, "alpha": [3 values], "cv": 3, seed 5:
     the same with Lasso(tol=1e-12, max_iter=10**6): trial metrics    1e-7
     (both sides are coordinate descent, stopped by a convergence test);
     the chosen alpha exact; cv_r2 vs best_score_                    1e-7;
     the final model vs Lasso(best alpha) on the training rows      1e-5
     (the tolerance of the lasso checks of linreg_sklearn.py) and its
     exactly-zero coefficients the same as sklearn's;
  3. logistic grid search on bc, "l2": [0.1, 1, 10], "cv": 3, "metric":
     "log_loss", seed 3: per fold LogisticRegression(C=1/l2, tol=1e-12,
     max_iter=10000, solver='newton-cg') fitted on the other folds; every
     trial's metrics keys (accuracy, precision_macro, recall_macro,
     f1_macro, log_loss, roc_auc); its mean fold log_loss
     (sklearn.metrics.log_loss)                                     1e-6
     (solver convergence: newton-cg stalls ~1e-10..1e-8 from the optimum);
     accuracy, precision_macro, recall_macro, f1_macro (mean over folds of
     sklearn.metrics)                                               1e-12,
     i.e. the same predicted classes -- when no sklearn probability is
     within 1e-6 of 0.5 (such rows are counted; if there are any, a flip is
     legitimate: accuracy may then differ by at most their share of the
     fold, averaged over folds, and precision/recall/f1 are not compared);
     roc_auc                                                         1e-12
     when no two rows of different classes in a fold have probabilities
     within 1e-6 of each other, else by at most the share of such pairs
     among the fold's (positive, negative) pairs, averaged over folds
     (they may swap order; counted and reported); the chosen l2 is the
     one minimising sklearn's mean log_loss, and the one minimising the
     trials' log_loss; the version's cv_<metric> keys are the winner's;
     final model vs LogisticRegression(C=1/best) on the training rows
     1e-6 norm-wise relative (as in logistic_sklearn.py);
  4. ridge random search on diabetes, {"alpha": {"min": 0.01, "max": 100,
     "log": true}, "n_iter": 5, "search": "random", "seed": 21} (cv: the
     default, 5): 5 trials, every alpha within [0.01, 100] and not all
     equal; the alphas read back from ml.training_trials reproduce when the
     same ml_train runs again (version 2: same seed, same draws); every
     trial's metrics vs GridSearchCV over exactly those alphas       1e-9;
     the chosen alpha is the trial with the best r2; cv_r2 vs best_score_
     1e-9; the final model vs Ridge(best alpha)                      1e-8.

Error measure ("max rel err"): element-wise |got - want| / |want| with
`want` the scikit-learn value, maximum over the compared elements -- a plain
relative error; every compared metric is well away from 0 here (the smallest
|r2| is printed in a `#` line). "norm rel err" (logistic coefficients):
||got - want|| / ||want|| over [intercept, coefficients]. A missing key, a
NaN or a shape mismatch fails.

Exit status 1 if any check failed, 0 otherwise.
"""
import math
import os
import sys

import numpy as np
import psycopg2.extras
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.linear_model import Lasso, LogisticRegression, Ridge
from sklearn.metrics import (accuracy_score, f1_score, log_loss, mean_absolute_error,
                             mean_absolute_percentage_error, mean_squared_error,
                             precision_score, r2_score, recall_score, roc_auc_score)
from sklearn.model_selection import GridSearchCV, PredefinedSplit
from sklearn.preprocessing import StandardScaler

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from refcheck import (holdout_cut, info_vector, load_xy, max_rel_err, norm_rel_err,  # noqa: E402
                      note, quiet, row_hash_sql, run_checks, sklearn_vector)

SCRATCH_DB = "mlsys_ref_tune"
DIABETES_FEATURES = ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"]
BC_FEATURES = [f"c{j + 1:02d}" for j in range(30)]

TEST_FRACTION = 0.2

RIDGE_ALPHAS = [0.001, 0.01, 0.1, 0.3, 1]
RIDGE_CV, RIDGE_SEED = 4, 11
LASSO_ALPHAS = [0.01, 0.1, 0.5]
LASSO_CV, LASSO_SEED = 3, 5
LOGISTIC_L2 = [0.1, 1, 10]
LOGISTIC_CV, LOGISTIC_SEED = 3, 3
RANDOM_RANGE = {"min": 0.01, "max": 100, "log": True}
RANDOM_N_ITER, RANDOM_SEED, RANDOM_CV = 5, 21, 5  # cv: the default of a search

TOL_METRIC = 1e-9        # ridge trial metrics and cv_r2 vs GridSearchCV
TOL_BY_HAND = 1e-12      # GridSearchCV's means vs the means computed fold by fold
TOL_FIT = 1e-8           # final ridge model
TOL_LASSO_METRIC = 1e-7  # lasso trial metrics (coordinate descent convergence)
TOL_LASSO_FIT = 1e-5     # final lasso model
TOL_LOG_LOSS = 1e-6      # logistic log_loss (solver convergence)
TOL_CLASS = 1e-12        # accuracy & co. and roc_auc: the same predictions, up to rounding of the mean
TOL_LOGISTIC_FIT = 1e-6  # final logistic model, norm-wise
NEAR = 1e-6              # a probability this close to 0.5 (or two of them) may flip

REG_METRICS = ["r2", "mse", "rmse", "mae", "mape"]
# GridSearchCV scorers: name -> (scorer, sign that turns the score into the metric)
REG_SCORING = {"r2": ("r2", 1), "mse": ("neg_mean_squared_error", -1),
               "rmse": ("neg_root_mean_squared_error", -1), "mae": ("neg_mean_absolute_error", -1),
               "mape": ("neg_mean_absolute_percentage_error", -1)}
CLASS_METRICS = ["accuracy", "precision_macro", "recall_macro", "f1_macro", "log_loss", "roc_auc"]

SK_LASSO = {"tol": 1e-12, "max_iter": 10 ** 6}
SK_LOGISTIC = {"tol": 1e-12, "max_iter": 10000, "solver": "newton-cg"}


# ---------------------------------------------------------------- helpers

def metric_values(metrics, keys):
    """The values of keys in a metrics object, NaN where missing."""
    return [math.nan if metrics.get(k) is None else float(metrics[k]) for k in keys]


# ---------------------------------------------------------------- database

class Table:
    """A source table of ml_train: name, target column and its type, feature columns (float8)."""

    def __init__(self, name, target, target_type, features):
        self.name, self.target, self.target_type, self.features = name, target, target_type, features


DIABETES = Table("diabetes", "target", "float8", DIABETES_FEATURES)
BC = Table("bc", "label", "int", BC_FEATURES)


def load_table(cur, table, X, y):
    load_xy(cur, table.name, table.features, X, table.target, y, table.target_type)


def split_rows(cur, table, seed, k):
    """The rows with ml_train's holdout predicate and fold, both evaluated in
    SQL: h = seeded hash of (target, features...); holdout iff
    h < floor(test_fraction * 2^31); fold = h % k."""
    cols = ", ".join(table.features)
    cur.execute(f"SELECT {cols}, {table.target}, h < %(cut)s AS holdout, h %% %(k)s AS fold "
                f"FROM (SELECT *, {row_hash_sql([table.target] + table.features)} AS h "
                f"FROM {table.name}) s",
                {"seed": seed, "cut": holdout_cut(TEST_FRACTION), "k": k})
    rows = cur.fetchall()
    nf = len(table.features)
    X = np.array([r[:nf] for r in rows], dtype=float)
    y = np.array([r[nf] for r in rows], dtype=float if table.target_type == "float8" else int)
    holdout = np.array([r[nf + 1] for r in rows], dtype=bool)
    fold = np.array([r[nf + 2] for r in rows], dtype=int)
    return X, y, holdout, fold


def train(cur, name, algorithm, table, params):
    cur.execute("SELECT * FROM ml_train(%s, %s, %s, %s, %s, %s, %s)",
                (name, algorithm, table.name, table.target, table.features,
                 psycopg2.extras.Json(params), TEST_FRACTION))
    return cur.fetchone()


def trials_of(cur, name, version):
    """[(trial, params, metrics)] of a version, in trial order."""
    cur.execute("SELECT t.trial, t.params, t.metrics FROM ml.training_trials t "
                "JOIN ml.models m USING (model_id) WHERE m.name = %s AND t.version = %s "
                "ORDER BY t.trial", (name, version))
    return cur.fetchall()


def version_of(cur, name, version):
    """(params, metrics, n_train_rows, n_test_rows, ml_model_info) of a version."""
    cur.execute("SELECT v.params, v.metrics, v.n_train_rows, v.n_test_rows, ml_model_info(v.model) "
                "FROM ml.model_versions v JOIN ml.models m USING (model_id) "
                "WHERE m.name = %s AND v.version = %s", (name, version))
    return cur.fetchone()


# ---------------------------------------------------------------- references

def grid_search_regression(estimator, X, y, fold, alphas):
    """GridSearchCV over alpha on mlsys's folds, all five regression scorers,
    refit by r2. Returns (search, {metric: [mean fold value per alpha]})."""
    search = GridSearchCV(estimator, {"alpha": list(alphas)}, cv=PredefinedSplit(test_fold=fold),
                          scoring={k: s for k, (s, _) in REG_SCORING.items()}, refit="r2")
    quiet(search.fit, X, y)
    means = {k: sign * np.asarray(search.cv_results_[f"mean_test_{k}"], dtype=float)
             for k, (_, sign) in REG_SCORING.items()}
    return search, means


def by_hand_regression(make, X, y, fold, k, alphas):
    """The mean fold metrics per alpha, fold by fold with sklearn.metrics."""
    out = {m: [] for m in REG_METRICS}
    for alpha in alphas:
        per_fold = {m: [] for m in REG_METRICS}
        for f in range(k):
            est = quiet(make(alpha).fit, X[fold != f], y[fold != f])
            yt, pt = y[fold == f], est.predict(X[fold == f])
            mse = mean_squared_error(yt, pt)
            per_fold["r2"].append(r2_score(yt, pt))
            per_fold["mse"].append(mse)
            per_fold["rmse"].append(math.sqrt(mse))
            per_fold["mae"].append(mean_absolute_error(yt, pt))
            per_fold["mape"].append(mean_absolute_percentage_error(yt, pt))
        for m in REG_METRICS:
            out[m].append(float(np.mean(per_fold[m])))
    return {m: np.asarray(v) for m, v in out.items()}


# ---------------------------------------------------------------- checks

def check_split(rep, label, version_row, holdout, fold, k):
    _, _, n_train, n_test, _ = version_row
    rep.equal(f"{label}: registry n_train_rows, n_test_rows vs the split recomputed in SQL",
              (n_train, n_test), (int((~holdout).sum()), int(holdout.sum())))
    sizes = [int(((fold == f) & ~holdout).sum()) for f in range(k)]
    rep.line(min(sizes) > 0, f"{label}: {k} folds of the training rows, every one non-empty",
             f"fold sizes {sizes}")


def check_regression_search(rep, label, trials, version_row, X, y, fold, k, alphas, make,
                            tol_metric, tol_fit, lasso):
    """Trials vs GridSearchCV over alphas (in trial order), the choice, cv_ keys, final model."""
    params, metrics, _, _, info = version_row
    search, means = grid_search_regression(make(alphas[0]), X, y, fold, alphas)
    hand = by_hand_regression(make, X, y, fold, k, alphas)
    rep.close(f"{label}: GridSearchCV mean fold r2/mse/rmse/mae/mape vs the same computed fold by fold",
              max(max_rel_err(means[m], hand[m]) for m in REG_METRICS), TOL_BY_HAND)

    rep.equal(f"{label}: every trial's metrics keys",
              sorted({k_ for _, _, tm in trials for k_ in tm}), sorted(REG_METRICS))
    errs = []
    for i, (trial, tparams, tmetrics) in enumerate(trials):
        got = metric_values(tmetrics, REG_METRICS)
        want = [means[m][i] for m in REG_METRICS]
        err = max_rel_err(got, want)
        errs.append(err)
        rep.close(f"{label}: trial {trial} alpha={tparams.get('alpha')}: r2 {want[0]:.6g}, "
                  f"mse {want[1]:.6g}, rmse {want[2]:.6g}, mae {want[3]:.6g}, mape {want[4]:.6g} "
                  f"vs GridSearchCV mean fold scores", err, tol_metric)
    note(f"{label}: smallest |mean fold r2| {np.min(np.abs(means['r2'])):.3g}; "
         f"max rel err of the trial metrics {max(errs, default=math.nan):.2e}")

    best = search.best_params_["alpha"]
    rep.equal(f"{label}: chosen alpha (registry params) vs GridSearchCV best_params_",
              params.get("alpha"), best)
    winner = [tm for _, tp, tm in trials if tp.get("alpha") == params.get("alpha")]
    cv_keys = {f"cv_{k_}": v for k_, v in (winner[0] if winner else {}).items()}
    rep.equal(f"{label}: the version's cv_<metric> keys are the winning trial's metrics",
              {k_: v for k_, v in metrics.items() if k_.startswith("cv_")}, cv_keys)
    rep.close(f"{label}: cv_r2 = {metrics.get('cv_r2')} vs GridSearchCV best_score_ {search.best_score_!r}",
              max_rel_err(metrics.get("cv_r2", math.nan), search.best_score_), tol_metric)

    ref = quiet(make(best).fit, X, y)
    got = info_vector(info)
    rep.close(f"{label}: final model (intercept+coefficients) vs {type(ref).__name__}(alpha={best}) "
              f"on all {len(y)} training rows", max_rel_err(got, sklearn_vector(ref)), tol_fit)
    rep.close(f"{label}: final model vs GridSearchCV best_estimator_",
              max_rel_err(got, sklearn_vector(search.best_estimator_)), tol_fit)
    if lasso:
        rep.equal(f"{label}: final model's exactly-zero coefficients (indices) as sklearn's",
                  [j for j, v in enumerate(got[1:]) if v == 0],
                  [j for j, v in enumerate(ref.coef_) if v == 0])
    return means


def check_grid(rep, cur, table, name, algorithm, alphas, k, seed, make, tol_metric, tol_fit, lasso):
    label = f"{algorithm} grid search {name}"
    params = {"alpha": alphas, "cv": k, "seed": seed}
    result = train(cur, name, algorithm, table, params)
    rep.equal(f"{label}: ml_train {params} returns model name and version 1",
              tuple(result[:2]), (name, 1))
    Xall, yall, holdout, fold_all = split_rows(cur, table, seed, k)
    vrow = version_of(cur, name, 1)
    check_split(rep, label, vrow, holdout, fold_all, k)
    trials = trials_of(cur, name, 1)
    rep.equal(f"{label}: trials recorded in grid order (trial, alpha)",
              [(t, p) for t, p, _ in trials], [(i + 1, {"alpha": a}) for i, a in enumerate(alphas)])
    rep.equal(f"{label}: registry cv, search, metric",
              tuple(vrow[0].get(x) for x in ("cv", "search", "metric")), (k, "grid", "r2"))
    X, y, fold = Xall[~holdout], yall[~holdout], fold_all[~holdout]
    check_regression_search(rep, label, trials, vrow, X, y, fold, k, alphas, make,
                            tol_metric, tol_fit, lasso)


def check_ridge_grid(rep, cur, data):
    check_grid(rep, cur, DIABETES, "ridge_grid", "ridge", RIDGE_ALPHAS, RIDGE_CV, RIDGE_SEED,
               lambda a: Ridge(alpha=a), TOL_METRIC, TOL_FIT, False)


def check_lasso_grid(rep, cur, data):
    check_grid(rep, cur, DIABETES, "lasso_grid", "lasso", LASSO_ALPHAS, LASSO_CV, LASSO_SEED,
               lambda a: Lasso(alpha=a, **SK_LASSO), TOL_LASSO_METRIC, TOL_LASSO_FIT, True)


def logistic_ref(l2):
    return LogisticRegression(C=1 / l2, **SK_LOGISTIC)


def check_logistic_grid(rep, cur, data):
    name, k, seed = "logistic_grid", LOGISTIC_CV, LOGISTIC_SEED
    label = f"logistic grid search {name}"
    params = {"l2": LOGISTIC_L2, "cv": k, "metric": "log_loss", "seed": seed}
    result = train(cur, name, "logistic", BC, params)
    rep.equal(f"{label}: ml_train {params} returns model name and version 1",
              tuple(result[:2]), (name, 1))
    Xall, yall, holdout, fold_all = split_rows(cur, BC, seed, k)
    vrow = version_of(cur, name, 1)
    check_split(rep, label, vrow, holdout, fold_all, k)
    vparams, vmetrics, _, _, info = vrow
    trials = trials_of(cur, name, 1)
    rep.equal(f"{label}: trials recorded in grid order (trial, l2)",
              [(t, p) for t, p, _ in trials], [(i + 1, {"l2": v}) for i, v in enumerate(LOGISTIC_L2)])
    rep.equal(f"{label}: registry cv, search, metric",
              tuple(vparams.get(x) for x in ("cv", "search", "metric")), (k, "grid", "log_loss"))
    rep.equal(f"{label}: model classes", info.get("classes"), ["0", "1"])
    X, y, fold = Xall[~holdout], yall[~holdout], fold_all[~holdout]

    mean_ll = []
    errs_ll, errs_cls = [], []
    for i, (trial, tparams, tmetrics) in enumerate(trials):
        l2 = LOGISTIC_L2[i]
        per_fold = {m: [] for m in CLASS_METRICS}
        # Slack for rows an imperceptible difference between the two fits could
        # flip: a probability within NEAR of 0.5 (accuracy), two rows of
        # different classes within NEAR of each other (roc_auc).
        n_near_half, n_near_pairs, slack_acc, slack_auc = 0, 0, [], []
        for f in range(k):
            est = quiet(logistic_ref(l2).fit, X[fold != f], y[fold != f])
            yt = y[fold == f]
            proba = est.predict_proba(X[fold == f])
            p1 = proba[:, 1]
            pred = est.classes_[np.argmax(proba, axis=1)]  # ties to the first class, as mlsys
            near_half = int(np.sum(np.abs(p1 - 0.5) <= NEAR))
            near_pairs = int(np.sum(np.abs(p1[yt == 1][:, None] - p1[yt == 0][None, :]) <= NEAR))
            n_near_half += near_half
            n_near_pairs += near_pairs
            slack_acc.append(near_half / len(yt))
            slack_auc.append(near_pairs / (np.sum(yt == 1) * np.sum(yt == 0)))
            per_fold["accuracy"].append(accuracy_score(yt, pred))
            per_fold["precision_macro"].append(precision_score(yt, pred, average="macro", zero_division=0))
            per_fold["recall_macro"].append(recall_score(yt, pred, average="macro", zero_division=0))
            per_fold["f1_macro"].append(f1_score(yt, pred, average="macro", zero_division=0))
            per_fold["log_loss"].append(log_loss(yt, proba, labels=[0, 1]))
            per_fold["roc_auc"].append(roc_auc_score(yt, p1))
        want = {m: float(np.mean(v)) for m, v in per_fold.items()}
        mean_ll.append(want["log_loss"])
        what = f"{label}: trial {trial} l2={tparams.get('l2')}"
        rep.equal(f"{what}: metrics keys", sorted(tmetrics), sorted(CLASS_METRICS))
        err = max_rel_err(metric_values(tmetrics, ["log_loss"]), [want["log_loss"]])
        errs_ll.append(err)
        rep.close(f"{what}: mean fold log_loss {want['log_loss']:.9g} vs sklearn newton-cg per fold",
                  err, TOL_LOG_LOSS)
        keys = ["accuracy", "precision_macro", "recall_macro", "f1_macro"]
        if n_near_half == 0:
            err = max_rel_err(metric_values(tmetrics, keys), [want[m] for m in keys])
            errs_cls.append(err)
            rep.close(f"{what}: mean fold accuracy {want['accuracy']:.9g}, precision/recall/f1 macro "
                      f"vs sklearn (no sklearn probability within {NEAR:g} of 0.5)", err, TOL_CLASS)
        else:
            got = metric_values(tmetrics, ["accuracy"])[0]
            bound = float(np.mean(slack_acc))
            rep.line(abs(got - want["accuracy"]) <= bound + TOL_CLASS,
                     f"{what}: mean fold accuracy {want['accuracy']:.9g} vs sklearn within the "
                     f"{n_near_half} rows with a probability within {NEAR:g} of 0.5 may flip",
                     f"got {got!r}, |diff| {abs(got - want['accuracy']):.2e}, allowed {bound:.2e}; "
                     f"precision/recall/f1 not compared")
        got = metric_values(tmetrics, ["roc_auc"])[0]
        if n_near_pairs == 0:
            rep.close(f"{what}: mean fold roc_auc {want['roc_auc']:.9g} vs sklearn "
                      f"(no two rows of different classes within {NEAR:g})",
                      max_rel_err(got, want["roc_auc"]), TOL_CLASS)
        else:
            bound = float(np.mean(slack_auc))
            rep.line(abs(got - want["roc_auc"]) <= bound + TOL_CLASS,
                     f"{what}: mean fold roc_auc {want['roc_auc']:.9g} vs sklearn, up to the "
                     f"{n_near_pairs} pairs of rows of different classes within {NEAR:g} (may swap)",
                     f"got {got!r}, |diff| {abs(got - want['roc_auc']):.2e}, allowed {bound:.2e}")
    note(f"{label}: max rel err log_loss {max(errs_ll):.2e}, "
         f"accuracy & co. {max(errs_cls, default=math.nan):.2e}")

    best_sk = LOGISTIC_L2[int(np.argmin(mean_ll))]
    got_ll = [float(tm.get("log_loss", math.nan)) for _, _, tm in trials]
    best_trials = LOGISTIC_L2[int(np.nanargmin(got_ll))]
    rep.equal(f"{label}: chosen l2 minimises sklearn's mean fold log_loss "
              f"({', '.join(f'{v:.6g}' for v in mean_ll)})", vparams.get("l2"), best_sk)
    rep.equal(f"{label}: chosen l2 minimises the trials' log_loss", vparams.get("l2"), best_trials)
    winner = [tm for _, tp, tm in trials if tp.get("l2") == vparams.get("l2")]
    rep.equal(f"{label}: the version's cv_<metric> keys are the winning trial's metrics",
              {k_: v for k_, v in vmetrics.items() if k_.startswith("cv_")},
              {f"cv_{k_}": v for k_, v in (winner[0] if winner else {}).items()})
    ref = quiet(logistic_ref(best_sk).fit, X, y)
    got = np.concatenate([np.asarray(info.get("intercepts", [math.nan]), dtype=float),
                          np.asarray(info.get("coefficients", [[math.nan]]), dtype=float).ravel()])
    err = norm_rel_err(got, sklearn_vector(ref))
    rep.line(err <= TOL_LOGISTIC_FIT,
             f"{label}: final model vs LogisticRegression(C={1 / best_sk:g}) on all {len(y)} training rows",
             f"norm rel err {err:.2e}, tol {TOL_LOGISTIC_FIT:.0e}")


def check_random_search(rep, cur, data):
    name, k, seed = "ridge_random", RANDOM_CV, RANDOM_SEED
    label = f"ridge random search {name}"
    params = {"alpha": RANDOM_RANGE, "n_iter": RANDOM_N_ITER, "search": "random", "seed": seed}
    result = train(cur, name, "ridge", DIABETES, params)
    rep.equal(f"{label}: ml_train {params} returns model name and version 1",
              tuple(result[:2]), (name, 1))
    trials = trials_of(cur, name, 1)
    alphas = [float(p.get("alpha", math.nan)) for _, p, _ in trials]
    rep.equal(f"{label}: {RANDOM_N_ITER} trials, numbered 1..{RANDOM_N_ITER}",
              [t for t, _, _ in trials], list(range(1, RANDOM_N_ITER + 1)))
    rep.line(all(RANDOM_RANGE["min"] <= a <= RANDOM_RANGE["max"] for a in alphas) and len(set(alphas)) > 1,
             f"{label}: every alpha within [{RANDOM_RANGE['min']}, {RANDOM_RANGE['max']}], not all equal",
             f"alphas {', '.join(repr(a) for a in alphas)}")
    result = train(cur, name, "ridge", DIABETES, params)
    again = [float(p.get("alpha", math.nan)) for _, p, _ in trials_of(cur, name, result[1])]
    rep.equal(f"{label}: the same seed draws the same alphas (version {result[1]})", again, alphas)

    Xall, yall, holdout, fold_all = split_rows(cur, DIABETES, seed, k)
    vrow = version_of(cur, name, 1)
    check_split(rep, label, vrow, holdout, fold_all, k)
    rep.equal(f"{label}: registry cv (the default), search, metric",
              tuple(vrow[0].get(x) for x in ("cv", "search", "metric")), (k, "random", "r2"))
    X, y, fold = Xall[~holdout], yall[~holdout], fold_all[~holdout]
    means = check_regression_search(rep, label, trials, vrow, X, y, fold, k, alphas,
                                    lambda a: Ridge(alpha=a), TOL_METRIC, TOL_FIT, False)
    rep.equal(f"{label}: chosen alpha is the trial with the best r2",
              vrow[0].get("alpha"), alphas[int(np.argmax(means["r2"]))])


CHECKS = [check_ridge_grid, check_lasso_grid, check_logistic_grid, check_random_search]


# ---------------------------------------------------------------- main

def setup(cur):
    """Loads DIABETES and BC (standardised); the checks take no data (None)."""
    Xd, yd = load_diabetes(return_X_y=True)
    Xb, yb = load_breast_cancer(return_X_y=True)
    load_table(cur, DIABETES, Xd, yd)
    load_table(cur, BC, StandardScaler().fit_transform(Xb), yb.astype(int))


def main():
    return run_checks(SCRATCH_DB, setup, CHECKS)


if __name__ == "__main__":
    sys.exit(main())
