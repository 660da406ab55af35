/*
 * ubjson.c -- checks of a stored XGBoost booster before XGBoost reads it.
 *
 * XGBoost 1.7 reads its UBJSON model format trusting what is inside: the
 * lengths and counts of the encoding, and the meaning of the trees (node
 * counts, child and parent indexes, feature indexes, output groups). A
 * damaged or hand-made booster can make it read out of bounds or, when
 * predicting, walk a cycle for ever. So a booster is checked here first:
 *
 *   1. the encoding (UbjWellFormed): every length, count and element fits
 *      in the bytes given, containers nest at most UBJ_MAX_DEPTH deep;
 *   2. the trees (UbjBoosterProblem): a gbtree (or dart) booster whose
 *      tree count, tree_info and trees agree, each tree's node arrays as
 *      long as its node count, and the nodes reachable from the root a
 *      tree: children in range, reached once, with their parent recorded,
 *      split features below the booster's feature count, numeric splits
 *      only (mlsys never trains categorical ones).
 *
 * XGBoost's own output always passes; anything else is refused with what
 * is wrong, before XGBoost sees a byte of it.
 */
#include "postgres.h"

#include "miscadmin.h"
#include "utils/memutils.h"

#include "ubjson.h"

#define UBJ_MAX_DEPTH 64

typedef struct UbjCursor
{
	const uint8 *p;
	const uint8 *end;
} UbjCursor;

/* Bytes of a fixed-size value of this marker, 0 for markers without data, -1 otherwise. */
static int
UbjFixedSize(uint8 marker)
{
	switch (marker)
	{
		case 'i': case 'U': case 'C':
			return 1;
		case 'I':
			return 2;
		case 'l': case 'd':
			return 4;
		case 'L': case 'D':
			return 8;
		case 'Z': case 'N': case 'T': case 'F':
			return 0;
		default:
			return -1;
	}
}

/* A non-negative length or count: an integer marker and its big-endian bytes. */
static bool
UbjLength(UbjCursor *c, int64 *out)
{
	uint8		marker;
	int			size;
	uint64		v = 0;

	if (c->p >= c->end)
		return false;
	marker = *c->p++;
	size = UbjFixedSize(marker);
	if (!(marker == 'i' || marker == 'U' || marker == 'I' || marker == 'l' || marker == 'L') ||
		c->end - c->p < size)
		return false;
	for (int i = 0; i < size; i++)
		v = (v << 8) | *c->p++;
	/* a length is never negative: refuse a signed marker's set sign bit */
	if (marker != 'U' && size < 8 && (v >> (8 * size - 1)) & 1)
		return false;
	if ((int64) v < 0)
		return false;
	*out = (int64) v;
	return true;
}

static bool UbjValue(UbjCursor *c, uint8 marker, int depth);

/* A string's length and bytes (object keys have no marker). */
static bool
UbjString(UbjCursor *c)
{
	int64		len;

	if (!UbjLength(c, &len) || len > c->end - c->p)
		return false;
	c->p += len;
	return true;
}

static bool
UbjContainer(UbjCursor *c, bool object, int depth)
{
	uint8		type = 0;
	int64		count = -1;

	if (depth > UBJ_MAX_DEPTH)
		return false;
	if (c->p < c->end && *c->p == '$')
	{
		c->p++;
		if (c->p >= c->end)
			return false;
		type = *c->p++;
		if (UbjFixedSize(type) == 0 || c->p >= c->end || *c->p != '#')
			return false;
	}
	if (c->p < c->end && *c->p == '#')
	{
		c->p++;
		if (!UbjLength(c, &count))
			return false;
	}
	for (int64 i = 0; count < 0 || i < count; i++)
	{
		uint8		marker;

		if (c->p >= c->end)
			return false;
		if (count < 0 && *c->p == (object ? '}' : ']'))
		{
			c->p++;
			return true;
		}
		/* each element takes at least a byte: a count beyond the bytes left is a lie */
		if (count >= 0 && count - i > c->end - c->p)
			return false;
		if (object && !UbjString(c))
			return false;
		if (type != 0)
			marker = type;
		else if (c->p < c->end)
			marker = *c->p++;
		else
			return false;
		if (!UbjValue(c, marker, depth + 1))
			return false;
	}
	return true;
}

static bool
UbjValue(UbjCursor *c, uint8 marker, int depth)
{
	int			size = UbjFixedSize(marker);

	if (size >= 0)
	{
		if (c->end - c->p < size)
			return false;
		c->p += size;
		return true;
	}
	switch (marker)
	{
		case 'S': case 'H':
			return UbjString(c);
		case '[':
			return UbjContainer(c, false, depth);
		case '{':
			return UbjContainer(c, true, depth);
		default:
			return false;
	}
}

/* Is the buffer one UBJSON object, every part within its bytes? */
static bool
UbjWellFormed(const char *buf, uint32 len)
{
	UbjCursor	c = {(const uint8 *) buf, (const uint8 *) buf + len};

	if (len == 0 || *c.p++ != '{')
		return false;
	return UbjContainer(&c, true, 1) && c.p == c.end;
}

/* ---------------------------------------------------------------- reading */

/* A value in a well-formed buffer: its marker and where its payload starts. */
typedef struct UbjItem
{
	uint8		marker;
	const uint8 *p;
	const uint8 *end;
} UbjItem;

/* A container being read element by element. */
typedef struct UbjIter
{
	UbjCursor	c;
	bool		object;
	uint8		type;			/* element marker of a typed container, else 0 */
	int64		count;			/* -1: up to the closing marker */
	int64		i;
} UbjIter;

static bool
UbjOpen(const UbjItem *v, UbjIter *it)
{
	if (v->marker != '[' && v->marker != '{')
		return false;
	it->c.p = v->p;
	it->c.end = v->end;
	it->object = v->marker == '{';
	it->type = 0;
	it->count = -1;
	it->i = 0;
	if (it->c.p < it->c.end && *it->c.p == '$')
	{
		it->c.p++;
		it->type = *it->c.p++;
	}
	if (it->c.p < it->c.end && *it->c.p == '#')
	{
		it->c.p++;
		if (!UbjLength(&it->c, &it->count))
			return false;
	}
	return true;
}

/* The next element, and for an object its key; false at the end. */
static bool
UbjNext(UbjIter *it, const char **key, int64 *key_len, UbjItem *v)
{
	if (it->count >= 0 ? it->i >= it->count
		: it->c.p >= it->c.end || *it->c.p == (it->object ? '}' : ']'))
		return false;
	if (it->object)
	{
		int64		len;

		if (!UbjLength(&it->c, &len) || len > it->c.end - it->c.p)
			return false;
		*key = (const char *) it->c.p;
		*key_len = len;
		it->c.p += len;
	}
	if (it->type == 0 && it->c.p >= it->c.end)
		return false;
	v->marker = it->type != 0 ? it->type : *it->c.p++;
	v->p = it->c.p;
	v->end = it->c.end;
	if (!UbjValue(&it->c, v->marker, 1))
		return false;
	it->i++;
	return true;
}

/* The member of an object with this key. */
static bool
UbjMember(const UbjItem *obj, const char *key, UbjItem *out)
{
	UbjIter		it;
	const char *k;
	int64		len;

	if (!UbjOpen(obj, &it) || !it.object)
		return false;
	while (UbjNext(&it, &k, &len, out))
		if (len == (int64) strlen(key) && memcmp(k, key, len) == 0)
			return true;
	return false;
}

/* An integer: an integer marker, or a string of decimal digits (XGBoost's parameters). */
static bool
UbjInt(const UbjItem *v, int64 *out)
{
	UbjCursor	c = {v->p, v->end};
	int64		len;
	int			size = UbjFixedSize(v->marker);
	uint64		u = 0;

	if (v->marker == 'S')
	{
		char		digits[24];
		char	   *stop;

		if (!UbjLength(&c, &len) || len < 1 || len >= (int64) sizeof(digits) || len > c.end - c.p)
			return false;
		memcpy(digits, c.p, len);
		digits[len] = '\0';
		errno = 0;
		*out = strtoll(digits, &stop, 10);
		return errno == 0 && *stop == '\0';
	}
	if (!(v->marker == 'i' || v->marker == 'U' || v->marker == 'I' || v->marker == 'l' ||
		  v->marker == 'L') || c.end - c.p < size)
		return false;
	for (int i = 0; i < size; i++)
		u = (u << 8) | c.p[i];
	if (v->marker == 'U')
		*out = (int64) u;
	else						/* sign-extend */
		*out = size == 8 ? (int64) u : (int64) (u << (64 - 8 * size)) >> (64 - 8 * size);
	return true;
}

/* A string member equal to s. */
static bool
UbjMemberIs(const UbjItem *obj, const char *key, const char *s)
{
	UbjItem		v;
	UbjCursor	c;
	int64		len;

	if (!UbjMember(obj, key, &v) || v.marker != 'S')
		return false;
	c.p = v.p;
	c.end = v.end;
	return UbjLength(&c, &len) && len == (int64) strlen(s) && len <= c.end - c.p &&
		memcmp(c.p, s, len) == 0;
}

/* The elements of an array; with out, each an integer stored there. */
static bool
UbjArray(const UbjItem *arr, int64 *n, int64 *out, int64 max)
{
	UbjIter		it;
	UbjItem		v;
	const char *k;
	int64		len;

	if (!UbjOpen(arr, &it) || it.object)
		return false;
	*n = 0;
	while (UbjNext(&it, &k, &len, &v))
	{
		if (out != NULL && (*n >= max || !UbjInt(&v, &out[*n])))
			return false;
		(*n)++;
	}
	return true;
}

/* An integer member at a path of objects. */
static bool
UbjPathInt(const UbjItem *obj, const char *const *path, int depth, int64 *out)
{
	UbjItem		v = *obj;

	for (int i = 0; i < depth; i++)
		if (!UbjMember(&v, path[i], &v))
			return false;
	return UbjInt(&v, out);
}

/* ---------------------------------------------------------------- trees */

/* XGBoost's parent of the root. */
#define ROOT_PARENT 2147483647

/* The arrays with one entry per node of a tree (split_type since XGBoost 1.5). */
static const char *const node_arrays[] = {
	"left_children", "right_children", "parents", "split_indices", "split_conditions",
	"default_left", "base_weights", "loss_changes", "sum_hessian"
};

/* What is wrong with tree t, or NULL. */
static const char *
TreeProblem(const UbjItem *tree, int64 t, int64 n_features)
{
	static const char *const num_nodes_path[] = {"tree_param", "num_nodes"};
	static const char *const leaf_vector_path[] = {"tree_param", "size_leaf_vector"};
	static const char *const categories[] = {
		"categories", "categories_nodes", "categories_segments", "categories_sizes"
	};
	int64		id,
				n,
				count,
				leaf_vector;
	int64	   *left,
			   *right,
			   *parent,
			   *feature,
			   *split_type,
			   *stack;
	int64		top = 0;
	bool	   *reached;
	UbjItem		v;

	if (!UbjMember(tree, "id", &v) || !UbjInt(&v, &id) || id != t)
		return psprintf("Tree %lld of the booster has a wrong id.", (long long) t);
	if (!UbjPathInt(tree, num_nodes_path, 2, &n) || n < 1 || n > PG_INT32_MAX)
		return psprintf("Tree %lld of the booster has no valid node count.", (long long) t);
	if (UbjPathInt(tree, leaf_vector_path, 2, &leaf_vector) && leaf_vector != 0)
		return psprintf("Tree %lld of the booster has vector leaves, which mlsys does not serve.",
						(long long) t);
	for (int i = 0; i < lengthof(node_arrays); i++)
		if (!UbjMember(tree, node_arrays[i], &v) || !UbjArray(&v, &count, NULL, 0) || count != n)
			return psprintf("Tree %lld of the booster: \"%s\" does not have its %lld nodes.",
							(long long) t, node_arrays[i], (long long) n);
	if (UbjMember(tree, "split_type", &v) && (!UbjArray(&v, &count, NULL, 0) || count != n))
		return psprintf("Tree %lld of the booster: \"split_type\" does not have its %lld nodes.",
						(long long) t, (long long) n);
	for (int i = 0; i < lengthof(categories); i++)
		if (UbjMember(tree, categories[i], &v) && (!UbjArray(&v, &count, NULL, 0) || count != 0))
			return psprintf("Tree %lld of the booster has categorical splits, which mlsys does not serve.",
							(long long) t);

	left = palloc(sizeof(int64) * n);
	right = palloc(sizeof(int64) * n);
	parent = palloc(sizeof(int64) * n);
	feature = palloc(sizeof(int64) * n);
	split_type = palloc0(sizeof(int64) * n);
	if (!(UbjMember(tree, "left_children", &v) && UbjArray(&v, &count, left, n) &&
		  UbjMember(tree, "right_children", &v) && UbjArray(&v, &count, right, n) &&
		  UbjMember(tree, "parents", &v) && UbjArray(&v, &count, parent, n) &&
		  UbjMember(tree, "split_indices", &v) && UbjArray(&v, &count, feature, n) &&
		  (!UbjMember(tree, "split_type", &v) || UbjArray(&v, &count, split_type, n))))
		return psprintf("Tree %lld of the booster has node indexes that are not integers.", (long long) t);
	for (int64 i = 0; i < n; i++)
	{
		if (split_type[i] != 0)
			return psprintf("Tree %lld of the booster has categorical splits, which mlsys does not serve.",
							(long long) t);
		if (left[i] < -1 || left[i] >= n || right[i] < -1 || right[i] >= n ||
			(i == 0 ? parent[i] != ROOT_PARENT && parent[i] != -1 : parent[i] < 0 || parent[i] >= n))
			return psprintf("Tree %lld of the booster has a node index out of range.", (long long) t);
	}

	/* from the root: every split's two children reached once, naming it as parent */
	reached = palloc0(sizeof(bool) * n);
	stack = palloc(sizeof(int64) * n);
	stack[top++] = 0;
	reached[0] = true;
	while (top > 0)
	{
		int64		i = stack[--top];

		if (left[i] == -1 && right[i] == -1)
			continue;
		if (left[i] == -1 || right[i] == -1 || left[i] == right[i] || reached[left[i]] ||
			reached[right[i]] || parent[left[i]] != i || parent[right[i]] != i)
			return psprintf("Tree %lld of the booster is not a tree at node %lld.", (long long) t,
							(long long) i);
		if (feature[i] < 0 || feature[i] >= n_features)
			return psprintf("Tree %lld of the booster splits on feature %lld of %lld.", (long long) t,
							(long long) feature[i], (long long) n_features);
		reached[left[i]] = reached[right[i]] = true;
		stack[top++] = left[i];
		stack[top++] = right[i];
	}
	return NULL;
}

/*
 * What is wrong with a stored booster, for an error's detail, or NULL when
 * XGBoost may read it.
 */
const char *
UbjBoosterProblem(const char *buf, uint32 len)
{
	static const char *const num_feature_path[] = {"learner_model_param", "num_feature"};
	static const char *const num_class_path[] = {"learner_model_param", "num_class"};
	static const char *const num_target_path[] = {"learner_model_param", "num_target"};
	static const char *const num_trees_path[] = {"gbtree_model_param", "num_trees"};
	UbjItem		root = {'{', (const uint8 *) buf + 1, (const uint8 *) buf + len};
	UbjItem		learner,
				gb,
				model,
				v;
	UbjIter		it;
	const char *key;
	int64		key_len,
				n_features,
				n_classes = 0,
				n_targets = 1,
				n_trees,
				count,
				outputs;
	int64	   *tree_info;
	MemoryContext scratch,
				old;
	const char *problem = NULL;

	if (!UbjWellFormed(buf, len))
		return "The stored booster is not a well-formed UBJSON object.";
	if (!UbjMember(&root, "learner", &learner) ||
		!UbjPathInt(&learner, num_feature_path, 2, &n_features) || n_features < 0 ||
		(UbjPathInt(&learner, num_class_path, 2, &n_classes) && n_classes < 0) ||
		(UbjPathInt(&learner, num_target_path, 2, &n_targets) && n_targets < 1) ||
		!UbjMember(&learner, "gradient_booster", &gb))
		return "The stored booster has no valid learner parameters.";
	if (UbjMemberIs(&gb, "name", "gbtree"))
	{
		if (!UbjMember(&gb, "model", &model))
			return "The stored booster has no trees.";
	}
	else if (UbjMemberIs(&gb, "name", "dart"))
	{
		if (!UbjMember(&gb, "gbtree", &v) || !UbjMember(&v, "model", &model))
			return "The stored booster has no trees.";
	}
	else
		return "The stored booster is not a tree booster (gbtree or dart).";
	if (!UbjPathInt(&model, num_trees_path, 2, &n_trees) || n_trees < 0 || n_trees > PG_INT32_MAX)
		return "The stored booster has no valid tree count.";
	if (UbjMemberIs(&gb, "name", "dart") &&
		(!UbjMember(&gb, "weight_drop", &v) || !UbjArray(&v, &count, NULL, 0) || count != n_trees))
		return "The stored booster's tree weights do not match its trees.";

	scratch = AllocSetContextCreate(CurrentMemoryContext, "mlsys booster check", ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(scratch);
	outputs = Max(Max(n_classes, n_targets), 1);
	tree_info = palloc(sizeof(int64) * Max(n_trees, 1));
	if (!UbjMember(&model, "tree_info", &v) || !UbjArray(&v, &count, tree_info, n_trees) ||
		count != n_trees)
		problem = "The stored booster's tree_info does not match its trees.";
	for (int64 t = 0; problem == NULL && t < n_trees; t++)
		if (tree_info[t] < 0 || tree_info[t] >= outputs)
			problem = "The stored booster assigns a tree to an output it does not have.";
	if (problem == NULL && (!UbjMember(&model, "trees", &v) || !UbjOpen(&v, &it) || it.object))
		problem = "The stored booster has no trees.";
	for (int64 t = 0; problem == NULL; t++)
	{
		UbjItem		tree;

		CHECK_FOR_INTERRUPTS();
		if (!UbjNext(&it, &key, &key_len, &tree))
		{
			if (t != n_trees)
				problem = "The stored booster's trees do not match its tree count.";
			break;
		}
		if (t >= n_trees || tree.marker != '{')
			problem = "The stored booster's trees do not match its tree count.";
		else if ((problem = TreeProblem(&tree, t, n_features)) != NULL)
			problem = MemoryContextStrdup(old, problem);
		MemoryContextReset(scratch);
	}
	MemoryContextSwitchTo(old);
	MemoryContextDelete(scratch);
	return problem;
}
