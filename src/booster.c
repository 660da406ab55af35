/*
 * booster.c -- XGBoost boosters of tree models: loading, checking,
 * prediction, SHAP contributions, feature importance, and XGBoost's errors
 * as SQL errors.
 *
 * A booster is loaded from the bytes stored in the model (XGBoost's UBJSON
 * format) into a handle owned by a memory context: a reset callback frees
 * the handle with the context, so a cached model, a call site's model and
 * an aborted statement never leak one. Loading checks the booster against
 * the model around it (features, objective, classes), so a value that
 * passed its checksum but holds a foreign booster is an error, not a wrong
 * answer.
 *
 * Prediction walks the trees here: XGBoost's own predict call costs about
 * 12 us per row in set-up (JSON configuration, adapters, an OpenMP region)
 * against well under 1 us for the walk, and ml_predict is called per row.
 * The trees are read from XGBoost's JSON form of the booster at load and
 * the walk follows XGBoost's rules (a missing value takes the default
 * branch, x < threshold goes left, leaves add up in float32 from the base
 * margin, then the objective's link). The result is checked against
 * XGBoost's own prediction on probe rows at load; a booster with anything
 * else (categorical splits, another booster type) or a disagreement is
 * served by XGBoost's predict instead. Explanations always come from
 * XGBoost (its TreeSHAP).
 *
 * XGBoost runs with mlsys.xgboost_threads threads (default 1: a backend is
 * one process among many; see TOOLCHAIN notes on OpenMP and fork). Nothing
 * here runs in the postmaster.
 */
#include "postgres.h"

#include <math.h>

#include <xgboost/c_api.h>

#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"

#include "booster.h"
#include "jsonopt.h"
#include "ubjson.h"

int			booster_threads = 1;

/* One node of a tree, in XGBoost's numbering. */
typedef struct TreeNode
{
	int32		left;			/* -1: a leaf */
	int32		right;
	int32		feature;
	float		value;			/* the split threshold, or the leaf's value */
	bool		default_left;	/* where a missing value goes */
} TreeNode;

/* From the summed margin to the prediction, as the objective defines it. */
typedef enum Link
{
	LINK_IDENTITY,
	LINK_SIGMOID,
	LINK_EXP,
	LINK_SOFTMAX
} Link;

struct Booster
{
	BoosterHandle handle;
	int			threads;		/* nthread last set on the handle */
	int			n_features;
	int			n_outputs;		/* 1, or the classes of a multi-class model */
	float	   *row;			/* [n_features] one row, NaN for missing */
	char	   *row_interface;	/* __array_interface__ of row, for XGBoost */

	MemoryContext cxt;			/* the booster's context, where it was loaded */
	char	   *objective;

	/* the trees, for the walk here, read at the first prediction */
	bool		compiled;
	bool		native;			/* false: XGBoost predicts */
	int			n_trees;
	int		   *root;			/* [n_trees] first node of each tree */
	int		   *group;			/* [n_trees] output each tree adds to */
	TreeNode   *nodes;
	float		base_margin;
	Link		link;
	float	   *margin;			/* [n_outputs] scratch */
};

/* Inplace prediction of the values (probabilities for classifiers). */
static const char *const predict_config =
"{\"type\": 0, \"training\": false, \"iteration_begin\": 0, \"iteration_end\": 0,"
" \"strict_shape\": false, \"cache_id\": 0, \"missing\": NaN}";

/* SHAP values: one per feature plus the bias, per output group. */
static const char *const contrib_config =
"{\"type\": 2, \"training\": false, \"iteration_begin\": 0, \"iteration_end\": 0,"
" \"strict_shape\": true}";

void
BoosterInit(void)
{
	DefineCustomIntVariable("mlsys.xgboost_threads",
							"Number of XGBoost threads one backend may use for training and prediction.",
							"Parallelism normally comes from many backends; on few cores more threads are slower.",
							&booster_threads, 1, 1, 64, PGC_USERSET, 0, NULL, NULL, NULL);
}

/*
 * XGBoost's last error message. It starts with a time stamp and a source
 * location, and may end in a stack trace: only the message itself is kept,
 * so that an error reads the same every time.
 */
static char *
LastError(void)
{
	char	   *msg = pstrdup(XGBGetLastError());
	char	   *p;

	if ((p = strstr(msg, "Stack trace:")) != NULL)
		*p = '\0';
	if (msg[0] == '[' && (p = strchr(msg, ']')) != NULL)
		msg = p + 1;
	/* "file.cc:123: message" */
	if ((p = strstr(msg, ": ")) != NULL && p > msg && strchr("0123456789", p[-1]) != NULL)
		msg = p + 2;
	while (*msg == ' ')
		msg++;
	for (p = msg + strlen(msg); p > msg && isspace((unsigned char) p[-1]); p--)
		p[-1] = '\0';
	return msg;
}

/* Raise XGBoost's last error, as having failed to do action. */
void
BoosterError(const char *action)
{
	ereport(ERROR,
			(errcode(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION),
			 errmsg("XGBoost could not %s", action),
			 errdetail("%s", LastError()),
			 errhint("Check the XGBoost parameters; the detail is XGBoost's own message.")));
}

/* Keep a handle's thread count at mlsys.xgboost_threads. */
void
BoosterApplyThreads(void *handle, int *applied)
{
	char		value[16];

	if (*applied == booster_threads)
		return;
	snprintf(value, sizeof(value), "%d", booster_threads);
	XGB_CHECK(XGBoosterSetParam(handle, "nthread", value), "set its thread count");
	*applied = booster_threads;
}

static void
FreeBooster(void *arg)
{
	Booster    *booster = (Booster *) arg;

	if (booster->handle != NULL)
		(void) XGBoosterFree(booster->handle);
	booster->handle = NULL;
}

static pg_noreturn void
ForeignBooster(const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATA_EXCEPTION),
			 errmsg("invalid mlmodel value"),
			 errdetail("%s", detail),
			 errhint("Train the model again, or restore the value from a dump taken with the same mlsys.")));
}

/* A string member at a path of nested objects in a jsonb, or NULL. */
static char *
JsonPathString(Jsonb *jb, const char *const *path, int depth)
{
	JsonbContainer *c = &jb->root;
	JsonbValue	v;

	for (int i = 0; i < depth; i++)
	{
		if (getKeyJsonValueFromContainer(c, path[i], strlen(path[i]), &v) == NULL)
			return NULL;
		if (i == depth - 1)
			return v.type == jbvString ? pnstrdup(v.val.string.val, v.val.string.len) : NULL;
		if (v.type != jbvBinary)
			return NULL;
		c = v.val.binary.data;
	}
	return NULL;
}

/* Does the booster's objective and class count fit the model around it? */
static char *
CheckObjective(const Model *model, BoosterHandle handle, int *n_outputs)
{
	static const char *const objective_path[] = {"learner", "objective", "name"};
	static const char *const classes_path[] = {"learner", "learner_model_param", "num_class"};
	bst_ulong	len;
	const char *config;
	Jsonb	   *jb;
	char	   *objective;
	char	   *num_class;
	int			classes;

	XGB_CHECK(XGBoosterSaveJsonConfig(handle, &len, &config), "read the booster's configuration");
	jb = JsonParse(pnstrdup(config, len));
	objective = JsonPathString(jb, objective_path, lengthof(objective_path));
	num_class = JsonPathString(jb, classes_path, lengthof(classes_path));
	if (objective == NULL || num_class == NULL)
		ForeignBooster("The booster's configuration has no objective or class count.");
	classes = atoi(num_class);
	if (model->n_classes == 0)
	{
		if (strncmp(objective, "binary:", 7) == 0 || strncmp(objective, "multi:", 6) == 0)
			ForeignBooster("A regression model holds a classifier's booster.");
		*n_outputs = 1;
	}
	else if (model->n_classes == 2)
	{
		if (strcmp(objective, "binary:logistic") != 0)
			ForeignBooster("A two-class model needs a booster with objective binary:logistic.");
		*n_outputs = 1;
	}
	else
	{
		if (strcmp(objective, "multi:softprob") != 0 || classes != model->n_classes)
			ForeignBooster("A multi-class model needs a booster with objective multi:softprob and one output per class.");
		*n_outputs = classes;
	}
	return objective;
}

/* The object or array under key in an object, or NULL. */
static JsonbContainer *
Member(JsonbContainer *c, const char *key)
{
	JsonbValue	v;

	if (c == NULL || !JsonContainerIsObject(c) ||
		getKeyJsonValueFromContainer(c, key, strlen(key), &v) == NULL || v.type != jbvBinary)
		return NULL;
	return v.val.binary.data;
}

/* The text of each number of an array of n numbers, or NULL. */
static char **
NumberTexts(JsonbContainer *c, int n)
{
	char	  **texts;
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	int			i = 0;

	if (c == NULL || !JsonContainerIsArray(c) || JsonContainerSize(c) != (uint32) n)
		return NULL;
	texts = palloc(sizeof(char *) * Max(n, 1));
	it = JsonbIteratorInit(c);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok != WJB_ELEM)
			continue;
		if (v.type != jbvNumeric)
			return NULL;
		texts[i++] = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v.val.numeric)));
	}
	return texts;
}

/* Read one tree's nodes (with root at nodes[first]); false if unsupported. */
static bool
ReadTree(Booster *booster, JsonbContainer *tree, TreeNode *nodes, int first, int n_nodes)
{
	char	  **left = NumberTexts(Member(tree, "left_children"), n_nodes);
	char	  **right = NumberTexts(Member(tree, "right_children"), n_nodes);
	char	  **feature = NumberTexts(Member(tree, "split_indices"), n_nodes);
	char	  **value = NumberTexts(Member(tree, "split_conditions"), n_nodes);
	char	  **default_left = NumberTexts(Member(tree, "default_left"), n_nodes);
	char	  **split_type = NumberTexts(Member(tree, "split_type"), n_nodes);

	if (!left || !right || !feature || !value || !default_left || !split_type)
		return false;
	for (int i = 0; i < n_nodes; i++)
	{
		TreeNode   *node = &nodes[first + i];
		long		l = strtol(left[i], NULL, 10);
		long		r = strtol(right[i], NULL, 10);
		long		f = strtol(feature[i], NULL, 10);

		/* only numeric splits, children after their parent: every walk ends */
		if (strcmp(split_type[i], "0") != 0 || (l == -1) != (r == -1) ||
			(l != -1 && (l <= i || l >= n_nodes || r <= i || r >= n_nodes ||
						 f < 0 || f >= booster->n_features)))
			return false;
		node->left = l == -1 ? -1 : first + (int) l;
		node->right = r == -1 ? -1 : first + (int) r;
		node->feature = l == -1 ? 0 : (int) f;	/* a leaf's is read, never used */
		node->value = strtof(value[i], NULL);
		node->default_left = strcmp(default_left[i], "0") != 0;
	}
	return true;
}

/*
 * Read the trees, the base margin and the link from XGBoost's JSON form of
 * the booster; the trees go to memory context keep. False when the booster
 * has anything the walk does not do.
 */
static bool
ReadTrees(Booster *booster, const char *objective, MemoryContext keep)
{
	static const char *const base_path[] = {"learner", "learner_model_param", "base_score"};
	static const char *const booster_path[] = {"learner", "gradient_booster", "name"};
	bst_ulong	len;
	const char *json;
	Jsonb	   *jb;
	JsonbContainer *model;
	JsonbContainer *trees;
	char	  **groups;
	char	   *name;
	char	   *base;
	int			n_nodes = 0;
	float		base_score;

	XGB_CHECK(XGBoosterSaveModelToBuffer(booster->handle, "{\"format\": \"json\"}", &len, &json),
			  "write the booster as JSON");
	jb = JsonParse(pnstrdup(json, len));
	name = JsonPathString(jb, booster_path, lengthof(booster_path));
	base = JsonPathString(jb, base_path, lengthof(base_path));
	model = Member(Member(Member(&jb->root, "learner"), "gradient_booster"), "model");
	trees = Member(model, "trees");
	if (name == NULL || strcmp(name, "gbtree") != 0 || base == NULL || trees == NULL ||
		!JsonContainerIsArray(trees))
		return false;
	booster->n_trees = JsonContainerSize(trees);
	groups = NumberTexts(Member(model, "tree_info"), booster->n_trees);
	if (groups == NULL)
		return false;

	booster->root = MemoryContextAlloc(keep, sizeof(int) * Max(booster->n_trees, 1));
	booster->group = MemoryContextAlloc(keep, sizeof(int) * Max(booster->n_trees, 1));
	for (int t = 0; t < booster->n_trees; t++)
	{
		JsonbValue *tree = getIthJsonbValueFromContainer(trees, t);
		JsonbContainer *left = tree->type == jbvBinary ? Member(tree->val.binary.data, "left_children")
		: NULL;

		booster->group[t] = atoi(groups[t]);
		if (left == NULL || !JsonContainerIsArray(left) || JsonContainerSize(left) == 0 ||
			booster->group[t] < 0 || booster->group[t] >= booster->n_outputs)
			return false;
		booster->root[t] = n_nodes;
		n_nodes += JsonContainerSize(left);
	}
	booster->nodes = MemoryContextAllocHuge(keep, sizeof(TreeNode) * Max(n_nodes, 1));
	for (int t = 0; t < booster->n_trees; t++)
	{
		JsonbContainer *c = getIthJsonbValueFromContainer(trees, t)->val.binary.data;
		int			end = t + 1 < booster->n_trees ? booster->root[t + 1] : n_nodes;

		if (!ReadTree(booster, c, booster->nodes, booster->root[t], end - booster->root[t]))
			return false;
	}

	/* the base score is stored as a prediction: its margin, as XGBoost finds it */
	base_score = strtof(base, NULL);
	booster->base_margin = base_score;
	booster->link = LINK_IDENTITY;
	if (strcmp(objective, "binary:logistic") == 0 || strcmp(objective, "reg:logistic") == 0)
	{
		booster->link = LINK_SIGMOID;
		booster->base_margin = -logf(1.0f / base_score - 1.0f);
	}
	else if (strcmp(objective, "count:poisson") == 0 || strcmp(objective, "reg:gamma") == 0 ||
			 strcmp(objective, "reg:tweedie") == 0)
	{
		booster->link = LINK_EXP;
		booster->base_margin = logf(base_score);
	}
	else if (strcmp(objective, "multi:softprob") == 0)
		booster->link = LINK_SOFTMAX;
	else if (strncmp(objective, "reg:", 4) != 0)
		return false;
	return true;
}

/* Trees walked side by side (see WalkTrees). */
#define WALK_LANES 8

/*
 * One step down from node i: to the right child at or above the threshold,
 * or for a missing value not sent left; a leaf stays where it is.
 */
static inline int
StepDown(const TreeNode *nodes, const float *row, int i)
{
	const TreeNode *node = &nodes[i];
	float		x = row[node->feature];
	int			go_right = (x >= node->value) | (isnan(x) & !node->default_left);

	return node->left < 0 ? i : node->left + go_right * (node->right - node->left);
}

/*
 * The walk: summed leaves per output, then the link. Trees go down
 * WALK_LANES at a time, each step of each computed rather than branched
 * on: a walk is a chain of dependent loads, and the lanes' chains overlap
 * where one tree at a time would wait on each load (and mispredict half
 * the branches).
 */
static void
WalkTrees(Booster *booster, double *out)
{
	const TreeNode *nodes = booster->nodes;
	const float *row = booster->row;
	float	   *margin = booster->margin;
	int			t = 0;

	for (int k = 0; k < booster->n_outputs; k++)
		margin[k] = booster->base_margin;
	for (; t + WALK_LANES <= booster->n_trees; t += WALK_LANES)
	{
		int			at[WALK_LANES];
		bool		moved = true;

		for (int l = 0; l < WALK_LANES; l++)
			at[l] = booster->root[t + l];
		while (moved)
		{
			moved = false;
			for (int l = 0; l < WALK_LANES; l++)
			{
				int			next = StepDown(nodes, row, at[l]);

				moved |= next != at[l];
				at[l] = next;
			}
		}
		for (int l = 0; l < WALK_LANES; l++)
			margin[booster->group[t + l]] += nodes[at[l]].value;
	}
	for (; t < booster->n_trees; t++)
	{
		int			at = booster->root[t];
		int			next;

		while ((next = StepDown(nodes, row, at)) != at)
			at = next;
		margin[booster->group[t]] += nodes[at].value;
	}
	switch (booster->link)
	{
		case LINK_IDENTITY:
			break;
		case LINK_SIGMOID:
			margin[0] = 1.0f / (1.0f + expf(-margin[0]));
			break;
		case LINK_EXP:
			margin[0] = expf(margin[0]);
			break;
		case LINK_SOFTMAX:
			{
				float		top = margin[0];
				float		sum = 0;

				for (int k = 1; k < booster->n_outputs; k++)
					top = Max(top, margin[k]);
				for (int k = 0; k < booster->n_outputs; k++)
					sum += margin[k] = expf(margin[k] - top);
				for (int k = 0; k < booster->n_outputs; k++)
					margin[k] /= sum;
			}
			break;
	}
	for (int k = 0; k < booster->n_outputs; k++)
		out[k] = margin[k];
}

/* XGBoost's own prediction of the row in booster->row. */
static void
XGBoostPredict(Booster *booster, double *out)
{
	bst_ulong const *shape;
	bst_ulong	dim;
	const float *result;

	BoosterApplyThreads(booster->handle, &booster->threads);
	XGB_CHECK(XGBoosterPredictFromDense(booster->handle, booster->row_interface, predict_config,
										NULL, &shape, &dim, &result), "predict");
	for (int k = 0; k < booster->n_outputs; k++)
		out[k] = result[k];
}

/*
 * Serve by walking the trees if they read well and agree with XGBoost on
 * probe rows: all missing, all zeros, all ones, and half missing.
 */
static void
CompileTrees(Booster *booster, const char *objective)
{
	MemoryContext keep = booster->cxt;
	/* (under the caller's context: an error while reading frees it) */
	MemoryContext scratch = AllocSetContextCreate(CurrentMemoryContext, "mlsys tree reading",
												  ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(scratch);
	double		ours[MLSYS_MAX_CLASSES];
	double		theirs[MLSYS_MAX_CLASSES];

	booster->margin = MemoryContextAlloc(keep, sizeof(float) * booster->n_outputs);
	booster->native = ReadTrees(booster, objective, keep);
	MemoryContextSwitchTo(old);
	MemoryContextDelete(scratch);
	for (int probe = 0; booster->native && probe < 4; probe++)
	{
		for (int j = 0; j < booster->n_features; j++)
			booster->row[j] = probe == 0 ? NAN : probe == 1 ? 0.0f : probe == 2 ? 1.0f
				: j % 2 ? NAN : -1.0f;
		WalkTrees(booster, ours);
		XGBoostPredict(booster, theirs);
		for (int k = 0; k < booster->n_outputs; k++)
			if (!(fabs(ours[k] - theirs[k]) <= 1e-6 * Max(1.0, fabs(theirs[k]))))
			{
				elog(DEBUG1, "mlsys: the tree walk gives %g where XGBoost gives %g: XGBoost predicts",
					 ours[k], theirs[k]);
				booster->native = false;
			}
	}
}


/*
 * Load the model's booster in the current memory context, checked against
 * the model: as many features as design columns, a matching objective.
 */
Booster *
BoosterLoad(const Model *model)
{
	Booster    *booster = palloc0(sizeof(Booster));
	MemoryContextCallback *cb = palloc0(sizeof(MemoryContextCallback));
	bst_ulong	n_features;
	StringInfoData buf;
	const char *problem;

	Assert(model->kind == MODEL_KIND_XGBOOST);
	/* XGBoost's reader trusts the booster: check it first (ubjson.c) */
	problem = UbjBoosterProblem(model->booster, model->booster_len);
	if (problem != NULL)
		ForeignBooster(problem);
	booster->cxt = CurrentMemoryContext;
	XGB_CHECK(XGBoosterCreate(NULL, 0, &booster->handle), "create a booster");
	cb->func = FreeBooster;
	cb->arg = booster;
	MemoryContextRegisterResetCallback(CurrentMemoryContext, cb);

	if (XGBoosterLoadModelFromBuffer(booster->handle, model->booster, model->booster_len) != 0)
		ForeignBooster(psprintf("XGBoost cannot read the stored booster: %s", LastError()));
	XGB_CHECK(XGBoosterGetNumFeature(booster->handle, &n_features), "count the booster's features");
	if (n_features != (bst_ulong) model->n_design)
		ForeignBooster(psprintf("The booster reads %lu features, but the inputs give %d design columns.",
								(unsigned long) n_features, model->n_design));
	booster->objective = CheckObjective(model, booster->handle, &booster->n_outputs);
	BoosterApplyThreads(booster->handle, &booster->threads);

	booster->n_features = model->n_design;
	booster->row = palloc(sizeof(float) * model->n_design);
	initStringInfo(&buf);
	appendStringInfo(&buf, "{\"data\": [%lu, false], \"shape\": [1, %d], \"typestr\": \"<f4\", \"version\": 3}",
					 (unsigned long) (uintptr_t) booster->row, model->n_design);
	booster->row_interface = buf.data;
	return booster;
}

int
BoosterOutputs(const Booster *booster)
{
	return booster->n_outputs;
}

static void
SetRow(Booster *booster, const double *design)
{
	for (int j = 0; j < booster->n_features; j++)
		booster->row[j] = (float) design[j];
}

/*
 * Predict one row: the value of a regression, the probability of the
 * second class of a binary classifier, or one probability per class.
 */
void
BoosterPredict(Booster *booster, const double *design, double *out)
{
	if (!booster->compiled)
	{
		CompileTrees(booster, booster->objective);
		booster->compiled = true;
	}
	SetRow(booster, design);
	if (booster->native)
		WalkTrees(booster, out);
	else
		XGBoostPredict(booster, out);
}

/*
 * Exact SHAP contributions of one row (XGBoost's TreeSHAP): per output,
 * n_features values and the bias, which add up to the raw (margin)
 * prediction of that output.
 */
double *
BoosterContributions(Booster *booster, const double *design)
{
	int			n = booster->n_outputs * (booster->n_features + 1);
	double	   *out = palloc(sizeof(double) * n);
	DMatrixHandle dmat;
	bst_ulong const *shape;
	bst_ulong	dim;
	const float *result;
	int			rc;

	SetRow(booster, design);
	BoosterApplyThreads(booster->handle, &booster->threads);
	XGB_CHECK(XGDMatrixCreateFromMat(booster->row, 1, booster->n_features, NAN, &dmat),
			  "hold the row");
	rc = XGBoosterPredictFromDMatrix(booster->handle, dmat, contrib_config, &shape, &dim, &result);
	if (rc == 0)
		for (int i = 0; i < n; i++)
			out[i] = result[i];
	(void) XGDMatrixFree(dmat);
	if (rc != 0)
		BoosterError("compute contributions");
	return out;
}

/*
 * Importance of each feature of type "weight", "total_gain" or
 * "total_cover" (0 for features no tree splits on).
 */
double *
BoosterImportance(Booster *booster, const char *importance_type)
{
	double	   *scores = palloc0(sizeof(double) * booster->n_features);
	bst_ulong	n_used,
				dim;
	const char **names;
	bst_ulong const *shape;
	const float *values;

	XGB_CHECK(XGBoosterFeatureScore(booster->handle,
									psprintf("{\"importance_type\": \"%s\"}", importance_type),
									&n_used, &names, &dim, &shape, &values),
			  "compute feature importance");
	/* features are named f0, f1, ... when the booster has no names */
	for (bst_ulong i = 0; i < n_used; i++)
	{
		int			j = names[i][0] == 'f' ? atoi(names[i] + 1) : -1;

		if (j >= 0 && j < booster->n_features)
			scores[j] = values[i];
	}
	return scores;
}

/* Boosting rounds in the booster. */
int
BoosterRounds(Booster *booster)
{
	int			rounds;

	XGB_CHECK(XGBoosterBoostedRounds(booster->handle, &rounds), "count boosting rounds");
	return rounds;
}
