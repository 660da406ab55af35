#!/usr/bin/python3
"""Reference check of mlsys logistic regression against scikit-learn.

Run as `/usr/bin/python3 test/reference/logistic_sklearn.py` with the libpq
environment (PGHOST, PGPORT, PGUSER, PGDATABASE) pointing at a running
cluster where `CREATE EXTENSION mlsys` is possible. The script creates the
scratch database mlsys_ref_logistic (dropping any leftover first), loads
scikit-learn's bundled data sets (offline) and a synthetic table, and drops
the database again at the end. Models are trained with ml_train(...,
'logistic', ...) at the default "tol" and "max_iter"; test_fraction => 0
(train on every row) wherever coefficients are compared.

Tables (every one has an `id` column, which is never a feature):
  bc        breast_cancer, 569 x 30, columns standardised in Python before
            loading, target `diagnosis` text 'malignant' / 'benign' (byte
            order puts 'benign' first: the model's logit is of 'malignant');
  bc_raw    the same rows in raw units;
  iris      150 x 4 in raw units, target `species` text;
  wine      178 x 13 standardised in Python, target `cultivar` int, the
            classes 0, 1, 2 relabelled 100, 20, 3 so that the numeric order
            (3, 20, 100) differs from both the original and the text order;
  mixed     400 synthetic rows: float8 x_mean and int x_median with NULLs,
            float8 x_const with NULLs, text `color` with four levels whose
            byte order ('Gamma' < 'Zeta' < 'alpha' < 'beta') differs from
            dictionary order and some NULLs, boolean `flag` with NULLs,
            boolean target `label`.

Checks (one line each, `ok - ...` or `not ok - ...`):
  0. every table round-trips bit for bit (Python float -> float8 -> Python);
  1. bc, binary, l2 in {1, 0.1}: classes, intercept+coefficients vs
     LogisticRegression(C=1/l2)                          1e-6 norm-wise rel;
     ml_predict_proba on every row vs predict_proba     1e-6 abs;
     ml_predict_class on every row vs predict            exact;
  2. bc_raw with {"scale": "standard"}, l2=1: stored center / scale_by vs
     StandardScaler mean_ / scale_                       1e-12 rel;
     coefficients vs Pipeline(StandardScaler, LogisticRegression) 1e-6;
     probabilities on every row                          1e-6 abs;
  3. iris (raw) and wine (standardised), multinomial, l2=1: class order,
     one parameter set per class, intercepts sum to 0    1e-9 of their scale;
     intercepts+coefficients (K sets) vs LogisticRegression(
     multi_class='multinomial')                          1e-6 norm-wise rel;
     probabilities on every row                          1e-6 abs;
     ml_predict_class vs predict                         exact;
  4. mixed, per-column impute mean / median / {"constant": -1} / mode /
     mode and scale standard / standard / minmax: ml_transform(model, row)
     on every row vs a ColumnTransformer of SimpleImputer + StandardScaler
     / MinMaxScaler for the numbers and SimpleImputer(most_frequent) +
     OneHotEncoder(drop='first', categories=sorted levels) for text and
     boolean ('false' / 'true')                          1e-12 abs;
     stored levels and fill level vs the encoder / imputer   exact;
     coefficients vs Pipeline(ColumnTransformer, LogisticRegression)  1e-6
     norm-wise rel; probabilities on every row           1e-6 abs;
  5. ml_train(..., '{"seed": 7}', 0.25) on bc (binary) and wine (3 classes):
     holdout split recomputed in SQL with ml_train's predicate; registry
     row counts exact; model vs sklearn on the training rows 1e-6 norm-wise;
     holdout accuracy and log_loss vs sklearn.metrics on the holdout rows
     applied to ml_predict_proba's probabilities        1e-9 rel;
     and applied to the sklearn reference model's probabilities: accuracy
     1e-9 (same predicted classes), log_loss 1e-6 (model agreement).

Error measures:
  "norm rel err"  ||got - want||_2 / ||want||_2 over the whole parameter
                  vector [intercept(s), coefficients of every set] -- used
                  for fitted parameters. Norm-wise because scikit-learn's own
                  convergence limits element-wise agreement of the smallest
                  coefficients: its most accurate solver here, newton-cg,
                  stalls in its line search ~1e-10..1e-8 (norm-wise) from
                  the optimum (its lbfgs stops on scipy's default ftol
                  ~1e-4 away and is not usable as a reference), so a
                  coefficient of 5e-4 next to ones of 3 can be off by 1e-5
                  relative to itself while the fit is right. The `#` lines
                  print the max |gradient| of the penalised objective at the
                  sklearn and the mlsys solutions to show which is closer
                  (a fit failing by 1e-6..1e-4 with an mlsys gradient far
                  above sklearn's means mlsys stopped early, not that the
                  objective differs).
  "max abs err"   max |got - want| over all elements -- probabilities
                  (in [0, 1]) and design vectors (standardised values and
                  0/1 indicators, O(1)).
  "max rel err"   element-wise max |got - want| / |want| -- preprocessing
                  statistics (all well away from zero) and metrics.
A NaN or a shape mismatch fails.

log_loss clipping: mlsys clips the true class's probability below at
DBL_EPSILON; the installed scikit-learn's log_loss clips every probability to
[eps, 1 - eps] with eps "auto" = 2.2e-16 for float64 (older releases: 1e-15)
and renormalises rows. The script prints the smallest true-class
probability on each holdout set; when it is above eps neither clip
applies at the low end, and the high clip and the renormalisation change
the loss by at most ~1e-16 per row.

Exit status 1 if any check failed, 0 otherwise.
"""
import math
import os
import sys

import numpy as np
from scipy.special import expit, softmax
from scipy.stats import norm
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_breast_cancer, load_iris, load_wine
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import (accuracy_score, f1_score, log_loss, precision_score, recall_score,
                             roc_auc_score)
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MinMaxScaler, OneHotEncoder, StandardScaler

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from refcheck import (Table, check_predicted_classes, check_round_trip, class_index,  # noqa: E402
                      holdout_mask, load_numeric, load_table, max_abs_err, max_rel_err,
                      model_rows, norm_rel_err, note, quiet, registry_row_counts, run_checks,
                      sql_name, train)

SCRATCH_DB = "mlsys_ref_logistic"

TOL_FIT = 1e-6      # parameters, norm-wise relative, and probabilities, absolute
TOL_PREP = 1e-12    # design vectors (abs) and preprocessing statistics (rel)
TOL_METRIC = 1e-9   # holdout metrics, relative
TOL_INTERCEPT_SUM = 1e-9  # |sum of intercepts| / max |intercept|
TOL_SE = 1e-8       # standard errors, z and p values, relative

TRAIN_SEED = 7
TEST_FRACTION = 0.25

MIXED_LEVELS = ["Gamma", "Zeta", "alpha", "beta"]  # byte order; dictionary order differs
MIXED_PARAMS = {
    "l2": 1,
    "impute": {"x_mean": "mean", "x_median": "median", "x_const": {"constant": -1},
               "color": "mode", "flag": "mode"},
    "scale": {"x_mean": "standard", "x_median": "standard", "x_const": "minmax"},
}
MIXED_FEATURES = ["x_mean", "x_median", "x_const", "color", "flag"]


# ---------------------------------------------------------------- database

def make_tables(cur):
    tables = {}

    bc = load_breast_cancer()
    names = [sql_name(n) for n in bc.feature_names]
    diag = [str(bc.target_names[t]) for t in bc.target]
    X_std = StandardScaler().fit_transform(bc.data)
    for name, X in (("bc", X_std), ("bc_raw", bc.data)):
        tables[name] = load_numeric(cur, name, names, X, "diagnosis", "text", diag)

    iris = load_iris()
    tables["iris"] = load_numeric(cur, "iris", [sql_name(n) for n in iris.feature_names], iris.data,
                                  "species", "text", [str(iris.target_names[t]) for t in iris.target])

    wine = load_wine()
    relabel = {0: 100, 1: 20, 2: 3}
    tables["wine"] = load_numeric(cur, "wine", [sql_name(n) for n in wine.feature_names],
                                  StandardScaler().fit_transform(wine.data), "cultivar", "int",
                                  [relabel[int(t)] for t in wine.target])

    tables["mixed"] = make_mixed(cur)

    rng = np.random.default_rng(20261122)
    X_sim = rng.normal(size=(1500, 4))
    y_sim = rng.random(1500) < expit(0.3 + X_sim @ np.array([1.0, -0.5, 0.25, 0.0]))
    tables["sim"] = load_numeric(cur, "sim", ["a", "b", "c", "d"], X_sim, "outcome", "text",
                                 ["yes" if v else "no" for v in y_sim])
    return tables


def make_mixed(cur, n=400, seed=20240612):
    """Synthetic table with NULLs, text and boolean features, boolean target."""
    rng = np.random.default_rng(seed)
    x_mean = 10 + 3 * rng.standard_normal(n)
    x_median = rng.poisson(6, n) * rng.integers(1, 4, n)          # skewed integers
    x_const = rng.uniform(-5, 20, n)
    color_p = [0.2, 0.15, 0.4, 0.25]                               # mode 'alpha', not the first level
    color = rng.choice(len(MIXED_LEVELS), n, p=color_p)
    flag = rng.random(n) < 0.65                                    # mode 'true', not the first level
    effect = np.array([0.0, 0.8, -0.7, 0.4])[color]
    logit = 0.3 * (x_mean - 10) - 0.08 * (x_median - 12) + 0.05 * x_const + effect + 0.9 * flag - 0.6
    label = rng.random(n) < expit(logit)
    null = {c: rng.random(n) < p for c, p in
            (("x_mean", 0.1), ("x_median", 0.08), ("x_const", 0.12), ("color", 0.07), ("flag", 0.05))}
    rows = []
    for i in range(n):
        rows.append((i,
                     None if null["x_mean"][i] else float(x_mean[i]),
                     None if null["x_median"][i] else int(x_median[i]),
                     None if null["x_const"][i] else float(x_const[i]),
                     None if null["color"][i] else MIXED_LEVELS[color[i]],
                     None if null["flag"][i] else bool(flag[i]),
                     bool(label[i])))
    t = Table("mixed", [("id", "int"), ("x_mean", "float8"), ("x_median", "int"), ("x_const", "float8"),
                        ("color", "text"), ("flag", "boolean"), ("label", "boolean")],
              "label", MIXED_FEATURES)
    return load_table(cur, t, rows), rows


def info_params(info):
    """[intercept, coefficients] per parameter set, as a (sets x (1 + p)) matrix."""
    return np.column_stack([np.asarray(info["intercepts"], dtype=float),
                            np.asarray(info["coefficients"], dtype=float)])


# ---------------------------------------------------------------- references

def logistic(l2, multinomial=False):
    """scikit-learn's best-converging solver for this objective: newton-cg.

    C = 1/l2 gives  sum(loss) + l2/2 ||w||^2  with the intercept unpenalised.
    tol=1e-12 cannot be met in floating point: newton-cg then stalls at the
    same point until max_iter (so 200 suffices; 10000 only costs time).
    """
    kw = {"multi_class": "multinomial"} if multinomial else {}
    return LogisticRegression(C=1 / l2, tol=1e-12, max_iter=200, solver="newton-cg", **kw)


def sklearn_params(lr):
    """sklearn's parameters as a (sets x (1 + p)) matrix, like info_params."""
    return np.column_stack([lr.intercept_, lr.coef_])


def penalised_gradient_max(theta, X, y_index, n_classes, l2):
    """max |gradient| of -loglik + l2/2 ||w||^2 at theta (sets x (1 + p)).

    One set: the logit of class 1. n_classes sets: softmax. y_index holds
    class positions 0..K-1.
    """
    A = np.column_stack([np.ones(len(y_index)), X])
    theta = np.asarray(theta, dtype=float)
    if theta.shape[0] == 1:
        resid = (expit(A @ theta[0]) - (y_index == 1))[:, None]
    else:
        resid = softmax(A @ theta.T, axis=1) - np.eye(n_classes)[y_index]
    grad = resid.T @ A
    grad[:, 1:] += l2 * theta[:, 1:]
    return float(np.max(np.abs(grad)))


def convergence_note(label, got, want, X, y_index, n_classes, l2):
    note(f"{label}: max |gradient| of the penalised objective: sklearn "
         f"{penalised_gradient_max(want, X, y_index, n_classes, l2):.1e}, mlsys "
         f"{penalised_gradient_max(got, X, y_index, n_classes, l2):.1e}")


# ---------------------------------------------------------------- checks

def compare_classifier(rep, cur, label, model, table, info, ref, X, y, l2, design):
    """Classes, parameters, probabilities and predicted classes of a model vs
    a fitted sklearn estimator (or pipeline) `ref` whose last step is the
    LogisticRegression; X, y are the sklearn inputs for all rows in id order,
    design the design matrix (for the gradient diagnostics)."""
    lr = ref[-1] if isinstance(ref, Pipeline) else ref
    classes = [str(c) for c in lr.classes_]
    rep.equal(f"{label}: classes in the label type's order", info["classes"], classes)
    K = len(classes)
    got, want = info_params(info), sklearn_params(lr)
    rep.equal(f"{label}: parameter sets", got.shape[0], 1 if K == 2 else K)
    rep.close(f"{label}: intercept(s)+coefficients vs sklearn LogisticRegression(C={1 / l2:g}"
              + (", multinomial)" if K > 2 else ")"), norm_rel_err(got, want), TOL_FIT, "norm rel err")
    convergence_note(label, got, want, design, class_index(np.asarray(y).astype(str), classes), K, l2)

    proba = np.array(model_rows(cur, model, table, "ml_predict_proba"), dtype=float)
    rep.close(f"{label}: ml_predict_proba on all {len(proba)} rows vs sklearn predict_proba",
              max_abs_err(proba, ref.predict_proba(X)), TOL_FIT, "max abs err")
    check_predicted_classes(rep, cur, label, model, table, ref, X)
    return got, want


def check_binary(rep, cur, tables):
    table = tables["bc"][0]
    X, y = table.matrix(), table.labels()
    for l2 in (1, 0.1):
        model = f"bc_l2_{l2}"
        _, info = train(cur, model, "logistic", table, {"l2": l2})
        ref = quiet(logistic(l2).fit, X, y)
        compare_classifier(rep, cur, f"bc l2={l2}", model, table, info, ref, X, y, l2, X)


def check_scaled(rep, cur, tables):
    table = tables["bc_raw"][0]
    X, y = table.matrix(), table.labels()
    l2 = 1
    model = "bc_raw_standard"
    _, info = train(cur, model, "logistic", table, {"l2": l2, "scale": "standard"})
    ref = quiet(Pipeline([("scale", StandardScaler()), ("lr", logistic(l2))]).fit, X, y)
    center = [i.get("center", math.nan) for i in info["inputs"]]
    scale_by = [i.get("scale_by", math.nan) for i in info["inputs"]]
    rep.close("bc_raw: stored center vs StandardScaler mean_", max_rel_err(center, ref[0].mean_),
              TOL_PREP, "max rel err")
    rep.close("bc_raw: stored scale_by vs StandardScaler scale_ (population std)",
              max_rel_err(scale_by, ref[0].scale_), TOL_PREP, "max rel err")
    compare_classifier(rep, cur, "bc_raw scale=standard l2=1", model, table, info, ref, X, y, l2,
                       ref[0].transform(X))


def check_multinomial(rep, cur, tables):
    l2 = 1
    for name in ("iris", "wine"):
        table = tables[name][0]
        X, y = table.matrix(), table.labels()
        model = f"{name}_l2_1"
        _, info = train(cur, model, "logistic", table, {"l2": l2})
        ref = quiet(logistic(l2, multinomial=True).fit, X, y)
        got, _ = compare_classifier(rep, cur, f"{name} multinomial l2=1", model, table, info, ref,
                                    X, y, l2, X)
        b = got[:, 0]
        rep.close(f"{name}: intercepts sum to 0 (|sum| / max |intercept|)",
                  abs(b.sum()) / np.max(np.abs(b)), TOL_INTERCEPT_SUM, "err")


def mixed_reference(levels_by_column, l2):
    """ColumnTransformer (one transformer per feature, in feature order) +
    LogisticRegression, mirroring MIXED_PARAMS."""
    def numeric(strategy, scaler, **kw):
        return Pipeline([("impute", SimpleImputer(strategy=strategy, **kw)), ("scale", scaler)])

    def categorical(column):
        return Pipeline([("impute", SimpleImputer(strategy="most_frequent")),
                         ("encode", OneHotEncoder(drop="first",
                                                  categories=[levels_by_column[column]]))])
    ct = ColumnTransformer([
        ("x_mean", numeric("mean", StandardScaler()), [0]),
        ("x_median", numeric("median", StandardScaler()), [1]),
        ("x_const", numeric("constant", MinMaxScaler(), fill_value=-1.0), [2]),
        ("color", categorical("color"), [3]),
        ("flag", categorical("flag"), [4]),
    ], sparse_threshold=0)
    return Pipeline([("prep", ct), ("lr", logistic(l2))])


def mixed_inputs(table):
    """The sklearn input: an object array, NaN for NULL; booleans as their
    SQL text form 'false' / 'true' (the levels mlsys stores)."""
    def cell(v):
        if v is None:
            return np.nan
        if isinstance(v, bool):
            return "true" if v else "false"
        return v
    cols = []
    for c in MIXED_FEATURES:
        vals = table.column(c)
        if c in ("color", "flag"):
            cols.append(np.array([cell(v) for v in vals], dtype=object))
        else:
            cols.append(np.array([np.nan if v is None else float(v) for v in vals], dtype=float))
    X = np.empty((len(table.rows), len(cols)), dtype=object)
    for j, col in enumerate(cols):
        X[:, j] = col
    return X


def check_preprocessing(rep, cur, tables):
    table = tables["mixed"][0]
    X = mixed_inputs(table)
    y = np.array(["true" if v else "false" for v in table.labels()])
    l2 = MIXED_PARAMS["l2"]
    levels = {c: sorted({v for v in X[:, j] if isinstance(v, str)})
              for j, c in enumerate(MIXED_FEATURES) if c in ("color", "flag")}
    model = "mixed"
    _, info = train(cur, model, "logistic", table, MIXED_PARAMS)
    ref = quiet(mixed_reference(levels, l2).fit, X, y)
    ct = ref[0]

    inputs = {i["name"]: i for i in info["inputs"]}
    for c in ("color", "flag"):
        imputer = ct.named_transformers_[c][0]
        rep.equal(f"mixed: {c} levels (byte order) and fill level vs OneHotEncoder / most_frequent",
                  (inputs[c]["levels"], inputs[c]["levels"][inputs[c]["fill_level"]]),
                  (levels[c], imputer.statistics_[0]))
    fills = [inputs[c]["fill"] for c in ("x_mean", "x_median", "x_const")]
    want_fills = [ct.named_transformers_[c][0].statistics_[0] for c in ("x_mean", "x_median", "x_const")]
    rep.close("mixed: numeric fill values vs SimpleImputer mean / median / constant",
              max_rel_err(fills, want_fills), TOL_PREP, "max rel err")

    design = np.array(model_rows(cur, model, table, "ml_transform"), dtype=float)
    want_design = ct.transform(X).astype(float)
    rep.close(f"mixed: ml_transform on all {len(design)} rows vs ColumnTransformer "
              f"({want_design.shape[1]} design columns)", max_abs_err(design, want_design),
              TOL_PREP, "max abs err")
    compare_classifier(rep, cur, "mixed l2=1", model, table, info, ref, X, y, l2, want_design)


def check_holdout_metrics(rep, cur, tables):
    l2 = 1
    for name in ("bc", "wine"):
        table = tables[name][0]
        X, y = table.matrix(), table.labels()
        model = f"{name}_holdout"
        (_, version, metrics), info = train(cur, model, "logistic", table,
                                            {"l2": l2, "seed": TRAIN_SEED}, TEST_FRACTION)
        hold = holdout_mask(cur, table, TRAIN_SEED, TEST_FRACTION)
        rep.equal(f"{name} holdout: registry n_train_rows, n_test_rows vs the SQL split",
                  registry_row_counts(cur, model, version), (int((~hold).sum()), int(hold.sum())))

        ref = quiet(logistic(l2, multinomial=len(set(y)) > 2).fit, X[~hold], y[~hold])
        rep.close(f"{name} holdout: model vs sklearn on the {int((~hold).sum())} training rows",
                  norm_rel_err(info_params(info), sklearn_params(ref)), TOL_FIT, "norm rel err")

        proba = np.array(model_rows(cur, model, table, "ml_predict_proba"), dtype=float)[hold]
        y_test = y[hold]  # native labels: sklearn orders them as the model does
        p_true = proba[np.arange(len(y_test)), class_index(y_test, list(ref.classes_))]
        eps = np.finfo(float).eps
        note(f"{name} holdout: {len(y_test)} rows; smallest true-class probability {p_true.min():.3g}, "
             f"largest probability {proba.max():.17g} (mlsys clips at DBL_EPSILON below, sklearn at "
             f"{eps:.2g} both ends): " + ("the clips do not apply" if p_true.min() > eps
                                         and proba.max() < 1 - eps else "a clip applies"))
        predicted = ref.classes_[np.argmax(proba, axis=1)]
        want = {"accuracy": accuracy_score(y_test, predicted),
                "log_loss": log_loss(y_test, proba, labels=ref.classes_)}
        for key, metric in (("precision_macro", precision_score), ("recall_macro", recall_score),
                            ("f1_macro", f1_score)):
            want[key] = metric(y_test, predicted, average="macro", zero_division=0)
        if len(ref.classes_) == 2:
            want["roc_auc"] = roc_auc_score(y_test == ref.classes_[1], proba[:, 1])
        rep.equal(f"{name} holdout: metrics keys", sorted(metrics), sorted(want))
        for key in sorted(want):
            rep.close(f"{name} holdout: {key} = {want[key]:.6g} vs sklearn.metrics on mlsys's "
                      f"probabilities of the {len(y_test)} holdout rows",
                      max_rel_err(metrics.get(key, math.nan), want[key]), TOL_METRIC, "max rel err")

        ref_want = {"accuracy": accuracy_score(y_test, ref.predict(X[hold])),
                    "log_loss": log_loss(y_test, ref.predict_proba(X[hold]), labels=ref.classes_)}
        for key, tol in (("accuracy", TOL_METRIC), ("log_loss", TOL_FIT)):
            rep.close(f"{name} holdout: {key} vs sklearn.metrics on the sklearn model's predictions",
                      max_rel_err(metrics.get(key, math.nan), ref_want[key]), tol, "max rel err")


def newton_reference(A, y01, iterations=50):
    """Unpenalised logistic regression by plain Newton steps in numpy, and
    the inverse observed information (A' W A)^-1 at the solution."""
    theta = np.zeros(A.shape[1])
    for _ in range(iterations):
        p = expit(A @ theta)
        H = A.T @ (A * (p * (1 - p))[:, None])
        theta = theta + np.linalg.solve(H, A.T @ (y01 - p))
    p = expit(A @ theta)
    return theta, np.linalg.inv(A.T @ (A * (p * (1 - p))[:, None]))


def check_standard_errors(rep, cur, tables):
    """Unpenalised binary model: standard errors, Wald z and two-sided
    normal p-values as statistics packages give them; none with a penalty
    or for a multinomial model."""
    table = tables["sim"][0]
    X, y = table.matrix(), np.asarray(table.labels())
    A = np.column_stack([np.ones(len(X)), X])
    theta, cov = newton_reference(A, (y == "yes").astype(float))
    se = np.sqrt(np.diag(cov))
    z = theta / se
    _, info = train(cur, "sim_se", "logistic", table, {"l2": 0})
    got = info_params(info)[0]
    rep.close("sim l2=0: parameters vs numpy Newton", max_rel_err(got, theta), TOL_FIT)
    rep.close("sim l2=0: std_errors vs sqrt(diag((A' W A)^-1))",
              max_rel_err(np.asarray(info["std_errors"], dtype=float), se), TOL_SE)
    rep.close("sim l2=0: z_values vs theta / se", max_rel_err(np.asarray(info["z_values"], dtype=float), z),
              TOL_SE)
    rep.close("sim l2=0: p_values vs 2 norm.sf(|z|)",
              max_rel_err(np.asarray(info["p_values"], dtype=float), 2 * norm.sf(np.abs(z))), TOL_SE)
    _, penalised = train(cur, "sim_l2", "logistic", table, {"l2": 1})
    rep.equal("sim l2=1: no standard errors with a penalty", "std_errors" in penalised, False)
    iris = tables["iris"][0]
    _, multi = train(cur, "iris_l2_0", "logistic", iris, {"l2": 0.1})
    rep.equal("iris: no standard errors for a multinomial model", "std_errors" in multi, False)


CHECKS = [check_round_trip, check_binary, check_scaled, check_multinomial, check_preprocessing,
          check_holdout_metrics, check_standard_errors]


# ---------------------------------------------------------------- main

def main():
    return run_checks(SCRATCH_DB, make_tables, CHECKS)


if __name__ == "__main__":
    sys.exit(main())
