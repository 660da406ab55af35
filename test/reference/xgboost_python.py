#!/usr/bin/python3
"""Reference check of mlsys tree models (xgboost, random_forest) against
XGBoost's own Python package.

Run as `/usr/bin/python3 test/reference/xgboost_python.py` with the libpq
environment (PGHOST, PGPORT, PGUSER, PGDATABASE) pointing at a running
cluster where `CREATE EXTENSION mlsys` is possible. The script creates the
scratch database mlsys_ref_xgboost (dropping any leftover first), loads
scikit-learn's bundled data sets (offline) and drops the database again at
the end. It needs the xgboost Python package of the XGBoost release mlsys
is linked with (Debian's python3-xgboost 1.7.4 with libxgboost 1.7.4): the
trees are then grown by the same algorithm from the same float32 data and
the same random draws, so every comparison below is expected to agree
exactly; the tolerances only leave room for float32 sums added up in
another order. It runs in a few seconds.

The reference is always xgboost.train(params, DMatrix(X.astype(float32),
label=y), num_boost_round) on the rows in id order (ml_train reads a fresh
table in insertion order = id order; ml_xgboost_fit gets ORDER BY id),
with "nthread": 1 like mlsys's default mlsys.xgboost_threads, NaN where SQL
has NULL, and the parameters mlsys passes written out:
  ml_train 'xgboost'        seed 0, max_depth 6, learning_rate 0.3,
                            min_child_weight 1, subsample 1,
                            colsample_bytree 1, reg_lambda 1, reg_alpha 0,
                            gamma 0, n_estimators 100 rounds; params given
                            replace these or are added;
  ml_train 'random_forest'  the same with learning_rate 1, subsample 0.8,
                            colsample_bynode 0.8, num_parallel_tree =
                            n_estimators (default 100) and ONE round;
  ml_xgboost_fit            exactly the params given, without mlsys's own
                            keys (n_estimators = the rounds, default 100;
                            early_stopping_rounds; classes; features);
  objective                 binary:logistic for two classes,
                            multi:softprob (num_class K) for more,
                            reg:squarederror for a regression, unless
                            params name one.
A classifier's class k is the k-th distinct target value in sorted order
(text byte order, numbers numerically, false < true); ml_xgboost_fit gets
the class number as y and the names in "classes".

Tables (every one has an `id` column, which is never a feature; raw units):
  bc        breast_cancer, 569 x 30, target `diagnosis` text 'malignant' /
            'benign' (class 0 'benign', class 1 'malignant');
  diabetes  load_diabetes() (centred and scaled columns), 442 x 10, target
            `progression` float8 (25..346, positive: reg:gamma works);
  iris      150 x 4, target `species` text (3 classes);
  wine      178 x 13, target `cultivar` int with the classes 0, 1, 2
            relabelled 100, 20, 3 (numeric class order 3, 20, 100);
  bc_na     bc with NA_SHARE of the cells of the first NA_COLUMNS columns
            NULL (a seeded draw), target `malignant` boolean;
  diab_na   diabetes with NA_SHARE of the cells of every column NULL;
  fits      (name, model mlmodel): the models of ml_xgboost_fit.

Models (the parameter sets are the *_PARAMS constants below):
  ml_train 'xgboost', defaults: bc, diabetes, iris, bc_na; with every
    tunable parameter set plus base_score, tree_method approx and max_bin:
    diabetes; with objective multi:softprob on the int target, subsample
    and a seed: wine;
  ml_train 'random_forest': bc and iris (defaults), diabetes
    (n_estimators 50, seed 3, max_depth 8);
  ml_xgboost_fit: bc (eta, subsample with a seed, colsample_bytree,
    lambda, alpha, min_child_weight), diabetes (hist, max_bin, gamma,
    colsample_bylevel / bynode, base_score), diabetes reg:gamma
    (max_delta_step; no "features", so the inputs are x1..x10), iris
    (hist, lossguide, max_leaves), bc_na (scale_pos_weight), diab_na
    (hist; once more with NaN in place of NULL); with early stopping: see
    check 4.
Registry models are served by name with the table's row, fits by mlmodel
value with ARRAY[columns] (NULL elements for the missing values).

Checks (one line each, `ok - ...` or `not ok - ...`):
  0. every table round-trips bit for bit (Python float -> float8 -> Python);
  1. (check_binary, check_regression, check_multiclass,
     check_random_forest) for every model:
       the model's classes, or none for a regression    exact;
       ml_predict_proba (classifiers) / ml_predict (regressions) on every
       row vs Booster.predict                           1e-6;
       ml_predict_class vs the class of the largest reference probability,
       and for int and boolean labels ml_predict (the label as a number)
                                                        exact;
       the model's input names (the columns, or x1..xk) exact;
       the booster in ml_model_info's "booster" (base64 UBJSON) loaded by
       xgboost.Booster().load_model: its rounds, its objective and
       learner_model_param (base_score, num_class, num_feature), and every
       tree (split features and conditions, default directions, children,
       leaf values, loss changes, hessian sums) equal to the reference's
                                                        exact;
       its predictions on every row vs the reference's  1e-6;
  2. (check_explain) ml_explain on every row of bc, diabetes, diabetes
     reg:gamma (margin != prediction), iris, wine, bc_na (NULL columns of
     the row) and diab_na (NULL array elements) trained above, and of the
     iris random forest:
       "kind" "xgboost"; the "class" of each logit (binary: the second
       class only; multiclass: every class in order)  exact;
       the contribution keys are the input names (as a set: jsonb keeps
       keys in its own order)                           exact;
       contributions and bias vs Booster.predict(pred_contribs=True), whose
       last column is the bias                          1e-5;
       "prediction" / "logit" (bias + contributions) vs
       Booster.predict(output_margin=True)              1e-5;
  3. (check_missing) bc_na by ml_train and by ml_xgboost_fit, diab_na by
     ml_xgboost_fit, once with NULL array elements and once with NaN
     elements in their place (coalesce(x, 'NaN')): check 1's comparisons,
     the predictions including the rows with NULLs (the reference sees
     NaN); for the model trained on NaN also ml_predict with NaN elements
     (a NaN feature is a missing value in training, so it should be in
     prediction too);
  4. (check_early_stopping) ml_xgboost_fit(y, x, params, holdout) with
     holdout = mod(id, 4) = 0 and "early_stopping_rounds" on diabetes
     (the default rmse, smaller is better; eval_metric mape, smaller is
     better although its name begins like map's, which is larger-is-better:
     XGBoost's early stopping makes that exception) and bc (eval_metric
     auc, larger is better), and ml_train(..., {"early_stopping_rounds":
     10}, test_fraction 0.25) on bc, whose holdout is recomputed in SQL with ml_train's predicate,
     vs xgboost.train(..., evals=[(holdout, "holdout")],
     early_stopping_rounds=k) cut to bst[: best_iteration + 1]: that the
     reference did stop before n_estimators (else the check would not
     test early stopping), then check 1's comparisons (the rounds kept
     are best_iteration + 1).

Error measures:
  "max abs err"      max |got - want| -- probabilities (in [0, 1]) and
                     class numbers;
  "max abs/rel err"  max |got - want| / max(|want|, 1) -- regression
                     values, margins and SHAP values (absolute below 1,
                     relative above).
A NaN or a shape mismatch fails. Both sides predict in float32 and mlsys
returns float8 of the float32 value (a binary model's first probability is
1 - p in float8, and so is the reference's): the predictions are expected
to agree to a float32 rounding (mlsys walks the trees itself, its softmax
may differ from XGBoost's in the last bit: 1.2e-7), the trees and
ml_explain's contributions and bias (XGBoost's float32 pred_contribs) to
be bit-identical. ml_explain's prediction / logit is the float8 sum of the
float32 contributions, XGBoost's margin a float32 sum of tree outputs: they
differ by float32 rounding (~1e-7 relative per term). The largest error per
measure is printed at the end.

Exit status 1 if any check failed, 0 otherwise.
"""
import base64
import json
import os
import sys

import numpy as np
import psycopg2.extras
import xgboost as xgb
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris, load_wine

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from refcheck import (Table, check_round_trip, holdout_mask, load_numeric,  # noqa: E402
                      load_table, max_abs_err, max_rel_err, note, run_checks, sql_name, train)

SCRATCH_DB = "mlsys_ref_xgboost"

TOL_PRED = 1e-6     # probabilities (abs), regression values (abs below 1, rel above)
TOL_SHAP = 1e-5     # SHAP values and margins (abs below 1, rel above)

NA_SHARE = 0.15     # share of NULL cells in the NA columns
NA_COLUMNS = 10     # bc_na: the first NA_COLUMNS features get NULLs; diab_na: all
NA_SEED = 20261122

EARLY_ROUNDS = 10   # early_stopping_rounds
EARLY_MAX = 300     # n_estimators with early stopping
EARLY_SEED = 7      # ml_train's split seed for the early-stopping check
EARLY_FRACTION = 0.25

# What ml_train passes to XGBoost for 'xgboost', and for 'random_forest'
# (one round of num_parallel_tree trees).
TRAIN_DEFAULTS = {"seed": 0, "max_depth": 6, "learning_rate": 0.3, "min_child_weight": 1,
                  "subsample": 1, "colsample_bytree": 1, "reg_lambda": 1, "reg_alpha": 0,
                  "gamma": 0}
TRAIN_ROUNDS = 100
FOREST_DEFAULTS = dict(TRAIN_DEFAULTS, learning_rate=1, subsample=0.8, colsample_bynode=0.8,
                       num_parallel_tree=100)

# ml_train's tunable parameters, all set, and some passed through.
DIAB_TRAIN_PARAMS = {"max_depth": 3, "learning_rate": 0.1, "n_estimators": 50, "min_child_weight": 3,
                     "subsample": 0.8, "colsample_bytree": 0.7, "reg_lambda": 2, "reg_alpha": 1,
                     "gamma": 0.5, "seed": 42, "base_score": 150, "tree_method": "approx",
                     "max_bin": 32}
WINE_TRAIN_PARAMS = {"objective": "multi:softprob", "max_depth": 3, "n_estimators": 30, "seed": 9,
                     "subsample": 0.6}
FOREST_PARAMS = {"n_estimators": 50, "seed": 3, "max_depth": 8}

# ml_xgboost_fit parameter sets (besides "classes"), passed to both sides as
# they are; n_estimators is the number of rounds.
BC_PARAMS = {"n_estimators": 60, "max_depth": 4, "eta": 0.1, "subsample": 0.7,
             "colsample_bytree": 0.8, "lambda": 2, "alpha": 0.5, "min_child_weight": 2,
             "seed": 3}
DIAB_PARAMS = {"n_estimators": 150, "max_depth": 3, "eta": 0.05, "gamma": 1,
               "colsample_bylevel": 0.7, "colsample_bynode": 0.9, "seed": 5,
               "tree_method": "hist", "max_bin": 64, "base_score": 150}
DIAB_GAMMA_PARAMS = {"objective": "reg:gamma", "n_estimators": 80, "max_depth": 4, "eta": 0.2,
                     "max_delta_step": 0.7}
IRIS_PARAMS = {"n_estimators": 40, "max_depth": 3, "learning_rate": 0.2, "subsample": 0.9,
               "colsample_bynode": 0.75, "seed": 11, "grow_policy": "lossguide",
               "max_leaves": 6, "tree_method": "hist"}
NA_BC_PARAMS = {"n_estimators": 50, "max_depth": 5, "eta": 0.2, "subsample": 0.8, "seed": 2,
                "scale_pos_weight": 1.5}
NA_DIAB_PARAMS = {"n_estimators": 80, "max_depth": 4, "eta": 0.1, "tree_method": "hist",
                  "seed": 4}
EARLY_DIAB_PARAMS = {"n_estimators": EARLY_MAX, "early_stopping_rounds": EARLY_ROUNDS,
                     "max_depth": 4, "eta": 0.3}
EARLY_MAPE_PARAMS = dict(EARLY_DIAB_PARAMS, eval_metric="mape")
EARLY_BC_PARAMS = {"n_estimators": EARLY_MAX, "early_stopping_rounds": EARLY_ROUNDS,
                   "max_depth": 3, "eta": 0.3, "eval_metric": "auc"}
EARLY_TRAIN_PARAMS = {"seed": EARLY_SEED, "early_stopping_rounds": EARLY_ROUNDS,
                      "n_estimators": EARLY_MAX}

# ml_xgboost_fit's own keys, which are not XGBoost parameters.
MLSYS_KEYS = ("n_estimators", "early_stopping_rounds", "classes", "features", "target")


# ---------------------------------------------------------------- database

def make_tables(cur):
    tables = {}

    bc = load_breast_cancer()
    bc_names = [sql_name(n) for n in bc.feature_names]
    tables["bc"] = load_numeric(cur, "bc", bc_names, bc.data, "diagnosis", "text",
                                [str(bc.target_names[t]) for t in bc.target])

    diab = load_diabetes()
    diab_names = [sql_name(n) for n in diab.feature_names]
    tables["diabetes"] = load_numeric(cur, "diabetes", diab_names, diab.data, "progression",
                                      "float8", [float(t) for t in diab.target])

    iris = load_iris()
    tables["iris"] = load_numeric(cur, "iris", [sql_name(n) for n in iris.feature_names], iris.data,
                                  "species", "text", [str(iris.target_names[t]) for t in iris.target])

    wine = load_wine()
    relabel = {0: 100, 1: 20, 2: 3}
    tables["wine"] = load_numeric(cur, "wine", [sql_name(n) for n in wine.feature_names], wine.data,
                                  "cultivar", "int", [relabel[int(t)] for t in wine.target])

    rng = np.random.default_rng(NA_SEED)
    tables["bc_na"] = load_with_nulls(cur, "bc_na", bc_names, bc.data, "malignant", "boolean",
                                      [bool(bc.target_names[t] == "malignant") for t in bc.target],
                                      rng.random(bc.data.shape) < NA_SHARE, NA_COLUMNS)
    tables["diab_na"] = load_with_nulls(cur, "diab_na", diab_names, diab.data, "progression",
                                        "float8", [float(t) for t in diab.target],
                                        rng.random(diab.data.shape) < NA_SHARE, len(diab_names))

    cur.execute("CREATE TABLE fits (name text PRIMARY KEY, model mlmodel)")
    return tables


def load_with_nulls(cur, name, features, X, target, target_type, labels, null, n_columns):
    """Table.numeric with the cells of the first n_columns features where
    null is true sent as NULL."""
    table = Table.numeric(name, features, target, target_type)
    rows = [(i, *[None if null[i, j] and j < n_columns else float(X[i, j])
                  for j in range(X.shape[1])], labels[i]) for i in range(len(X))]
    return load_table(cur, table, rows), rows


def features_nan(table):
    """The feature matrix in id order, NULL as NaN (row-major float64)."""
    return np.array([[np.nan if v is None else v for v in table.column(c)] for c in table.features],
                    dtype=float).T.copy()


# ---------------------------------------------------------------- references

def reference_fit(params, X, y, rounds, holdout=None, early=None):
    """xgboost.train on float32 X (NaN missing) with nthread 1; with
    holdout = (X_h, y_h) and early = k, early stopping on it, cut to the
    best round. Returns (booster, rounds the reference ran)."""
    params = dict(params, nthread=1)
    dtrain = xgb.DMatrix(X.astype(np.float32), label=y)
    if early is None:
        return xgb.train(params, dtrain, num_boost_round=rounds), rounds
    dhold = xgb.DMatrix(holdout[0].astype(np.float32), label=holdout[1])
    bst = xgb.train(params, dtrain, num_boost_round=rounds, evals=[(dhold, "holdout")],
                    early_stopping_rounds=early, verbose_eval=False)
    return bst[: bst.best_iteration + 1], bst.num_boosted_rounds()


def objective_params(n_classes):
    """The objective mlsys chooses for n_classes (0: a regression), and its
    default tree method."""
    if n_classes == 0:
        return {"objective": "reg:squarederror", "tree_method": "hist"}
    if n_classes == 2:
        return {"objective": "binary:logistic", "tree_method": "hist"}
    return {"objective": "multi:softprob", "num_class": n_classes, "tree_method": "hist"}


def xgb_params(params, n_classes):
    """An ml_xgboost_fit parameter set as XGBoost parameters."""
    out = objective_params(n_classes)
    out.update({k: v for k, v in params.items() if k not in MLSYS_KEYS})
    return out


def label_texts(table):
    """The target column as the model's class names: text as is, numbers
    as their text, booleans as 'false' / 'true'."""
    return [str(v).lower() if isinstance(v, bool) else str(v) for v in table.column(table.target)]


def class_numbers(labels, classes):
    """The class number (position in classes) of every label."""
    pos = {c: k for k, c in enumerate(classes)}
    return np.array([pos[c] for c in labels], dtype=float)


def model_json(bst):
    """The booster's model (learner) as Python objects, via its JSON form,
    without "attributes" (the reference's early stopping records
    best_iteration there)."""
    learner = json.loads(bytes(bst.save_raw("json")))["learner"]
    learner.pop("attributes", None)
    return learner


# ---------------------------------------------------------------- fitted models

class Fitted:
    """One model trained by mlsys and its reference: label (for the lines),
    table, how SQL reaches the model (a registry name, with the row, or an
    mlmodel in table fits, with an array of the features), the classes
    (None: regression), whether the labels are numbers (ml_predict gives a
    class number), the reference booster, info (ml_model_info) and the
    model's input names (default: the table's feature columns)."""

    def __init__(self, label, table, classes, ref, info, registry=None, fit=None, numeric=False,
                 names=None):
        self.label = label
        self.names = names or table.features    # the model's input names
        self.table = table
        self.classes = classes
        self.ref = ref
        self.info = info
        self.registry = registry
        self.fit = fit
        self.numeric = numeric

    def rows(self, cur, func, nan=False):
        """func(model, features) on every row of the table, ordered by id;
        nan: (mlmodel values only) a NULL feature as a NaN element."""
        if self.registry is not None:
            cur.execute(f"SELECT {func}(%s, t) FROM {self.table.name} t ORDER BY t.id",
                        (self.registry,))
        else:
            array = array_sql(self.table, nan, "t.")
            cur.execute(f"SELECT {func}(f.model, ARRAY[{array}]::float8[]) "
                        f"FROM {self.table.name} t, fits f WHERE f.name = %s ORDER BY t.id",
                        (self.fit,))
        return [r[0] for r in cur.fetchall()]


def array_sql(table, nan=False, prefix=""):
    """The features of a row as array elements; with nan, a NULL as NaN."""
    return ", ".join(f"coalesce({prefix}{c}, 'NaN')" if nan else f"{prefix}{c}" for c in table.features)


def fit_aggregate(cur, name, table, params, y_sql, classes=None, holdout_sql=None, named=True,
                  nan=False):
    """INSERT INTO fits the model of ml_xgboost_fit(y_sql, ARRAY[features],
    params [, holdout_sql] ORDER BY id) over table, with "classes" and
    (named) "features" added to params (nan: NULL features as NaN);
    returns ml_model_info."""
    params = dict(params, **({"classes": classes} if classes else {}),
                  **({"features": table.features} if named else {}))
    array = array_sql(table, nan)
    holdout = f", {holdout_sql}" if holdout_sql else ""
    cur.execute(f"INSERT INTO fits SELECT %s, ml_xgboost_fit({y_sql}, ARRAY[{array}]::float8[], %s"
                f"{holdout} ORDER BY id) FROM {table.name}", (name, psycopg2.extras.Json(params)))
    cur.execute("SELECT ml_model_info(model) FROM fits WHERE name = %s", (name,))
    return cur.fetchone()[0]


def label_sql(column, classes):
    """The class number of column (as float8) for the aggregate."""
    values = ", ".join(f"'{c}'" for c in classes)
    return f"(array_position(ARRAY[{values}], {column}::text) - 1)::float8"


# ---------------------------------------------------------------- comparisons

def compare_model(rep, cur, m):
    """Check 1's comparisons of one Fitted model."""
    X = features_nan(m.table)
    dm = xgb.DMatrix(X.astype(np.float32))
    want = m.ref.predict(dm).astype(float)
    if m.classes is not None:
        rep.equal(f"{m.label}: classes", m.info.get("classes"), m.classes)
        K = len(m.classes)
        want_proba = np.column_stack([1 - want, want]) if K == 2 else want
        got = np.array(m.rows(cur, "ml_predict_proba"), dtype=float)
        rep.close(f"{m.label}: ml_predict_proba on all {len(X)} rows vs Booster.predict",
                  max_abs_err(got, want_proba), TOL_PRED, "max abs err")
        want_class = [m.classes[k] for k in np.argmax(want_proba, axis=1)]
        got_class = m.rows(cur, "ml_predict_class")
        differ = sum(a != b for a, b in zip(got_class, want_class)) + abs(len(got_class) - len(want_class))
        rep.line(differ == 0, f"{m.label}: ml_predict_class on all rows vs the reference's largest "
                 "probability", f"{differ} of {len(want_class)} differ")
        if m.numeric:
            number = np.array([1.0 if c == "true" else 0.0 if c == "false" else float(c)
                               for c in want_class])
            rep.close(f"{m.label}: ml_predict (class number) on all rows vs the reference",
                      max_abs_err(m.rows(cur, "ml_predict"), number), 0.0, "max abs err")
    else:
        rep.equal(f"{m.label}: no classes (a regression)", m.info.get("classes"), None)
        got = np.array(m.rows(cur, "ml_predict"), dtype=float)
        rep.close(f"{m.label}: ml_predict on all {len(X)} rows vs Booster.predict",
                  max_rel_err(got, want, 1.0), TOL_PRED, "max abs/rel err")
    names = [i.get("name") for i in m.info.get("inputs", [])]
    rep.line(names == m.names, f"{m.label}: input names",
             f"{len(names)} inputs " + ("" if names == m.names else "NOT ")
             + ("named x1..xk" if m.names[0] == "x1" else "named after the columns"))
    compare_booster(rep, m, dm, want)


def compare_booster(rep, m, dm, want):
    """The booster stored in the model vs the reference booster."""
    stored = xgb.Booster()
    stored.load_model(bytearray(base64.b64decode(m.info["booster"])))
    rep.equal(f"{m.label}: stored booster's rounds", stored.num_boosted_rounds(),
              m.ref.num_boosted_rounds())
    got_model, want_model = model_json(stored), model_json(m.ref)
    params = ("objective", "learner_model_param")
    same = all(got_model.get(k) == want_model[k] for k in params)
    mp = got_model.get("learner_model_param", {})
    rep.line(same, f"{m.label}: stored booster's objective and model params vs the reference's",
             f"{got_model.get('objective', {}).get('name')}, base_score {mp.get('base_score')}, "
             f"num_class {mp.get('num_class')}, num_feature {mp.get('num_feature')}"
             + ("" if same else "; DIFFERENT"))
    got_trees = got_model["gradient_booster"]["model"]["trees"]
    want_trees = want_model["gradient_booster"]["model"]["trees"]
    differ = sum(a != b for a, b in zip(got_trees, want_trees)) + abs(len(got_trees) - len(want_trees))
    nodes = sum(int(t["tree_param"]["num_nodes"]) for t in want_trees)
    rep.line(differ == 0 and got_model["gradient_booster"] == want_model["gradient_booster"],
             f"{m.label}: stored booster's trees identical to the reference's",
             f"{len(want_trees)} trees, {nodes} nodes; {differ} trees differ")
    rep.close(f"{m.label}: stored booster loaded in Python predicts all rows as the reference",
              max_rel_err(stored.predict(dm).astype(float), want, 1.0), TOL_PRED, "max abs/rel err")


def compare_explain(rep, cur, m):
    """Check 2 on one Fitted model: ml_explain on every row vs XGBoost's
    pred_contribs and output_margin."""
    X = features_nan(m.table)
    dm = xgb.DMatrix(X.astype(np.float32))
    p = len(m.table.features)
    contribs = m.ref.predict(dm, pred_contribs=True).astype(float)
    margin = m.ref.predict(dm, output_margin=True).astype(float)
    if contribs.ndim == 2:          # one output: (n, p + 1) and (n,)
        contribs, margin = contribs[:, None, :], margin[:, None]
    explained = m.rows(cur, "ml_explain")
    n_out = contribs.shape[1]
    got_c = np.full(contribs.shape, np.nan)
    got_m = np.full(margin.shape, np.nan)
    want_classes = None if m.classes is None else ([m.classes[1]] if len(m.classes) == 2 else m.classes)
    bad_keys = bad_classes = 0
    for i, e in enumerate(explained):
        outputs = [e] if m.classes is None else e.get("logits", [])
        if m.classes is not None:
            bad_classes += [o.get("class") for o in outputs] != want_classes
        for k, o in enumerate(outputs[:n_out]):
            c = o.get("contributions", {})
            bad_keys += sorted(c) != sorted(m.names)
            got_c[i, k, :p] = [c.get(f, np.nan) for f in m.names]
            got_c[i, k, p] = o.get("bias", np.nan)
            got_m[i, k] = o.get("prediction" if m.classes is None else "logit", np.nan)
    kinds = {e.get("kind") for e in explained}
    rep.equal(f"{m.label}: ml_explain kind", kinds, {"xgboost"})
    if m.classes is not None:
        rep.line(bad_classes == 0, f"{m.label}: ml_explain logits are of the classes {want_classes}",
                 f"{bad_classes} of {len(explained)} rows differ")
    rep.line(bad_keys == 0, f"{m.label}: ml_explain contribution keys are the input names",
             f"{bad_keys} of {len(explained) * n_out} outputs differ")
    rep.close(f"{m.label}: ml_explain contributions on all {len(X)} rows vs "
              "Booster.predict(pred_contribs=True)", max_rel_err(got_c[:, :, :p], contribs[:, :, :p], 1.0),
              TOL_SHAP, "max abs/rel err")
    rep.close(f"{m.label}: ml_explain bias vs pred_contribs' last column",
              max_rel_err(got_c[:, :, p], contribs[:, :, p], 1.0), TOL_SHAP, "max abs/rel err")
    what = "prediction" if m.classes is None else "logit"
    rep.close(f"{m.label}: ml_explain {what} (bias + contributions) vs "
              "Booster.predict(output_margin=True)", max_rel_err(got_m, margin, 1.0), TOL_SHAP,
              "max abs/rel err")


# ---------------------------------------------------------------- checks

def train_model(rep, cur, data, key, label, table_key, algorithm, params, classes, numeric=False):
    """ml_train(test_fraction 0) and its reference; compared, remembered."""
    if params:
        note(f"{label}: params {json.dumps(params)}")
    table = data[table_key][0]
    _, info = train(cur, key, algorithm, table, params)
    X = features_nan(table)
    K = 0 if classes is None else len(classes)
    y = class_numbers(label_texts(table), classes) if classes else table.labels().astype(float)
    defaults = FOREST_DEFAULTS if algorithm == "random_forest" else TRAIN_DEFAULTS
    ref_params = dict(objective_params(K), **defaults)
    ref_params.update({k: v for k, v in params.items() if k not in ("seed", "n_estimators")})
    ref_params["seed"] = params.get("seed", 0)
    rounds = 1 if algorithm == "random_forest" else params.get("n_estimators", TRAIN_ROUNDS)
    if algorithm == "random_forest":
        ref_params["num_parallel_tree"] = params.get("n_estimators", 100)
    ref, _ = reference_fit(ref_params, X, y, rounds)
    m = Fitted(label, table, classes, ref, info, registry=key, numeric=numeric)
    data["models"][key] = m
    compare_model(rep, cur, m)


def aggregate_model(rep, cur, data, key, label, table_key, params, classes, y_sql, named=True,
                    nan=False):
    """ml_xgboost_fit over the table (ORDER BY id) and its reference; the
    inputs are named after the columns (named) or x1..xk by default; nan:
    NULL features go to the aggregate as NaN (predictions still get NULL)."""
    note(f"{label}: params {json.dumps(params)}" + ("" if named else " (no \"features\": inputs x1..xk)"))
    table = data[table_key][0]
    info = fit_aggregate(cur, key, table, params, y_sql, classes, named=named, nan=nan)
    X = features_nan(table)
    y = class_numbers(label_texts(table), classes) if classes else table.labels().astype(float)
    ref, _ = reference_fit(xgb_params(params, 0 if classes is None else len(classes)), X, y,
                           params.get("n_estimators", 100))
    names = None if named else [f"x{j + 1}" for j in range(len(table.features))]
    m = Fitted(label, table, classes, ref, info, fit=key, names=names)
    data["models"][key] = m
    compare_model(rep, cur, m)
    return m


def check_setup(rep, cur, data):
    """(Prints the version of the reference; no check.)"""
    cur.execute("SHOW mlsys.xgboost_threads")
    note(f"reference: xgboost {xgb.__version__} (Python); mlsys.xgboost_threads = {cur.fetchone()[0]}")


def check_round_trip_all(rep, cur, data):
    check_round_trip(rep, cur, {k: v for k, v in data.items() if k != "models"})


def check_binary(rep, cur, data):
    train_model(rep, cur, data, "bc_xgb", "bc ml_train xgboost", "bc", "xgboost", {},
                ["benign", "malignant"])
    aggregate_model(rep, cur, data, "bc_fit", "bc ml_xgboost_fit", "bc", BC_PARAMS,
                    ["benign", "malignant"], label_sql("diagnosis", ["benign", "malignant"]))


def check_regression(rep, cur, data):
    train_model(rep, cur, data, "diab_xgb", "diabetes ml_train xgboost", "diabetes", "xgboost", {},
                None)
    train_model(rep, cur, data, "diab_tuned", "diabetes ml_train xgboost tuned", "diabetes", "xgboost",
                DIAB_TRAIN_PARAMS, None)
    aggregate_model(rep, cur, data, "diab_fit", "diabetes ml_xgboost_fit", "diabetes", DIAB_PARAMS,
                    None, "progression")
    aggregate_model(rep, cur, data, "diab_gamma", "diabetes ml_xgboost_fit reg:gamma", "diabetes",
                    DIAB_GAMMA_PARAMS, None, "progression", named=False)


def check_multiclass(rep, cur, data):
    species = ["setosa", "versicolor", "virginica"]
    train_model(rep, cur, data, "iris_xgb", "iris ml_train xgboost", "iris", "xgboost", {}, species)
    aggregate_model(rep, cur, data, "iris_fit", "iris ml_xgboost_fit", "iris", IRIS_PARAMS, species,
                    label_sql("species", species))
    train_model(rep, cur, data, "wine_xgb", "wine (int target) ml_train xgboost", "wine", "xgboost",
                WINE_TRAIN_PARAMS, ["3", "20", "100"], numeric=True)


def check_random_forest(rep, cur, data):
    train_model(rep, cur, data, "bc_rf", "bc ml_train random_forest", "bc", "random_forest", {},
                ["benign", "malignant"])
    train_model(rep, cur, data, "diab_rf", "diabetes ml_train random_forest", "diabetes",
                "random_forest", FOREST_PARAMS, None)
    train_model(rep, cur, data, "iris_rf", "iris ml_train random_forest", "iris", "random_forest", {},
                ["setosa", "versicolor", "virginica"])


def check_missing(rep, cur, data):
    for key in ("bc_na", "diab_na"):
        table = data[key][0]
        nulls = sum(v is None for r in table.rows for v in r)
        note(f"{key}: {nulls} NULL cells in {sum(any(v is None for v in r) for r in table.rows)} "
             f"of {len(table.rows)} rows")
    train_model(rep, cur, data, "bc_na_xgb", "bc_na ml_train xgboost", "bc_na", "xgboost", {},
                ["false", "true"], numeric=True)
    aggregate_model(rep, cur, data, "bc_na_fit", "bc_na ml_xgboost_fit", "bc_na", NA_BC_PARAMS,
                    ["false", "true"], "malignant::int::float8")
    aggregate_model(rep, cur, data, "diab_na_fit", "diab_na ml_xgboost_fit", "diab_na", NA_DIAB_PARAMS,
                    None, "progression")
    m = aggregate_model(rep, cur, data, "diab_nan_fit", "diab_na ml_xgboost_fit, NULL sent as NaN",
                        "diab_na", NA_DIAB_PARAMS, None, "progression", nan=True)
    want = m.ref.predict(xgb.DMatrix(features_nan(m.table).astype(np.float32))).astype(float)
    try:
        got = np.array(m.rows(cur, "ml_predict", nan=True), dtype=float)
        rep.close(f"{m.label}: ml_predict with NaN elements (NULL as NaN) on all rows vs Booster.predict",
                  max_rel_err(got, want, 1.0), TOL_PRED, "max abs/rel err")
    except psycopg2.Error as exc:
        rep.line(False, f"{m.label}: ml_predict with NaN elements (NULL as NaN) on all rows vs "
                 "Booster.predict", f"raised {type(exc).__name__}: {str(exc).splitlines()[0]}")


def check_explain(rep, cur, data):
    """On models of the checks before (a model whose check failed before it
    was trained is one failure here)."""
    for key in ("bc_xgb", "diab_xgb", "diab_gamma", "iris_xgb", "wine_xgb", "bc_na_xgb", "diab_na_fit",
                "iris_rf"):
        if key in data["models"]:
            compare_explain(rep, cur, data["models"][key])
        else:
            rep.line(False, f"ml_explain of model {key}", "not trained: its check failed")


def check_early_stopping(rep, cur, data):
    cases = (("diabetes", "diab_early", EARLY_DIAB_PARAMS, None, "progression"),
             ("diabetes", "diab_early_mape", EARLY_MAPE_PARAMS, None, "progression"),
             ("bc", "bc_early", EARLY_BC_PARAMS, ["benign", "malignant"],
              label_sql("diagnosis", ["benign", "malignant"])))
    for table_key, key, params, classes, y_sql in cases:
        table = data[table_key][0]
        hold = table.ids() % 4 == 0
        info = fit_aggregate(cur, key, table, params, y_sql, classes, "mod(id, 4) = 0")
        X = features_nan(table)
        y = class_numbers(label_texts(table), classes) if classes else table.labels().astype(float)
        ref, ran = reference_fit(xgb_params(params, 0 if classes is None else len(classes)),
                                 X[~hold], y[~hold], params["n_estimators"], (X[hold], y[hold]),
                                 params["early_stopping_rounds"])
        label = f"{table_key} ml_xgboost_fit early stopping on {params.get('eval_metric', 'the default')}"
        note(f"{label}: params {json.dumps(params)}, holdout mod(id, 4) = 0; the reference ran "
             f"{ran} of {params['n_estimators']} rounds, best {ref.num_boosted_rounds()}")
        rep.line(ran < params["n_estimators"], f"{label}: the reference stopped early",
                 f"{ran} rounds")
        m = Fitted(label, table, classes, ref, info, fit=key)
        data["models"][key] = m
        compare_model(rep, cur, m)

    table = data["bc"][0]
    classes = ["benign", "malignant"]
    cur.execute("SELECT * FROM ml_train(%s, 'xgboost', %s, %s, %s, %s, %s)",
                ("bc_early_train", table.name, table.target, table.features,
                 psycopg2.extras.Json(EARLY_TRAIN_PARAMS), EARLY_FRACTION))
    version = cur.fetchone()[1]
    cur.execute("SELECT ml_model_info(ml_model(%s, %s))", ("bc_early_train", version))
    info = cur.fetchone()[0]
    hold = holdout_mask(cur, table, EARLY_SEED, EARLY_FRACTION)
    X = features_nan(table)
    y = class_numbers(label_texts(table), classes)
    ref_params = dict(objective_params(2), **TRAIN_DEFAULTS)
    ref_params["seed"] = EARLY_SEED
    ref, ran = reference_fit(ref_params, X[~hold], y[~hold], EARLY_MAX, (X[hold], y[hold]),
                             EARLY_ROUNDS)
    label = "bc ml_train xgboost early stopping"
    note(f"{label}: params {json.dumps(EARLY_TRAIN_PARAMS)}, test_fraction {EARLY_FRACTION}: "
         f"{int((~hold).sum())} training and {int(hold.sum())} holdout rows; the reference ran "
         f"{ran} of {EARLY_MAX} rounds, best {ref.num_boosted_rounds()}")
    rep.line(ran < EARLY_MAX, f"{label}: the reference stopped early", f"{ran} rounds")
    m = Fitted(label, table, classes, ref, info, registry="bc_early_train")
    compare_model(rep, cur, m)


CHECKS = [check_setup, check_round_trip_all, check_binary, check_regression, check_multiclass,
          check_random_forest, check_missing, check_explain, check_early_stopping]


# ---------------------------------------------------------------- main

def setup(cur):
    data = make_tables(cur)
    data["models"] = {}
    return data


def main():
    return run_checks(SCRATCH_DB, setup, CHECKS, show_worst=True)


if __name__ == "__main__":
    sys.exit(main())
