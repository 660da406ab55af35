/*
 * importance.c -- global feature importance of a model, per input.
 *
 * Tree models: XGBoost's total gain of the splits on each input, as a share
 * of all gain ("importance", summing to 1), with the share of total cover
 * and the number of splits. Linear and logistic regression: the absolute
 * standardised coefficient, |coefficient| x the training standard deviation
 * of the design column (for a level of a category, of its indicator), summed
 * over the input's design columns and averaged over the parameter sets: the
 * change of the output for a typical change of the input. Other kinds have
 * none. ml_train stores it with each version (training_info) and
 * ml_model_card shows it.
 */
#include "postgres.h"

#include <math.h>

#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"

#include "booster.h"
#include "jsonopt.h"
#include "model.h"

PG_FUNCTION_INFO_V1(ml_importance);

/* Sum per input of per-design-column values; normalised to 1 if asked. */
static double *
PerInput(const Model *model, const double *per_column, bool normalise)
{
	double	   *sums = palloc0(sizeof(double) * model->n_inputs);
	double		total = 0;
	int			j = 0;

	for (int i = 0; i < model->n_inputs; i++)
	{
		const ModelInput *in = &model->inputs[i];
		int			width = in->type == INPUT_CATEGORICAL ? in->n_levels - 1 : 1;

		for (int c = 0; c < width; c++)
			sums[i] += per_column[j++];
		total += sums[i];
	}
	if (normalise && total > 0)
		for (int i = 0; i < model->n_inputs; i++)
			sums[i] /= total;
	return sums;
}

static void
AppendObject(StringInfo buf, const char *key, const Model *model, const double *values)
{
	appendStringInfo(buf, ", \"%s\": {", key);
	for (int i = 0; i < model->n_inputs; i++)
	{
		if (i > 0)
			appendStringInfoString(buf, ", ");
		escape_json(buf, model->inputs[i].name);
		appendStringInfoString(buf, ": ");
		JsonAppendNumber(buf, values[i]);
	}
	appendStringInfoChar(buf, '}');
}

/* Training standard deviation of each design column, before scaling. */
static double *
DesignStddev(const Model *model)
{
	double	   *sd = palloc(sizeof(double) * model->n_design);
	int			j = 0;

	for (int i = 0; i < model->n_inputs; i++)
	{
		const ModelInput *in = &model->inputs[i];

		if (in->type == INPUT_NUMERIC)
		{
			sd[j++] = in->stats.stddev / in->scale_by;
			continue;
		}
		for (int l = 1; l < in->n_levels; l++)
		{
			double		p = (double) in->stats.category_counts[l] / model->n_rows;

			sd[j++] = sqrt(p * (1 - p));
		}
	}
	return sd;
}

/*
 * The model's importance as a JSON object, or NULL for kinds without one.
 * Allocated in the current memory context (a tree model's booster is
 * loaded in a child context and freed).
 */
char *
ModelImportanceJson(const Model *model)
{
	StringInfoData buf;

	initStringInfo(&buf);
	if (model->kind == MODEL_KIND_XGBOOST)
	{
		MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext, "mlsys importance",
												  ALLOCSET_SMALL_SIZES);
		MemoryContext old = MemoryContextSwitchTo(cxt);
		Booster    *booster = BoosterLoad(model);
		double	   *gain = PerInput(model, BoosterImportance(booster, "total_gain"), true);
		double	   *cover = PerInput(model, BoosterImportance(booster, "total_cover"), true);
		double	   *splits = PerInput(model, BoosterImportance(booster, "weight"), false);

		MemoryContextSwitchTo(old);
		appendStringInfoString(&buf, "{\"method\": \"total_gain\"");
		AppendObject(&buf, "importance", model, gain);
		AppendObject(&buf, "cover", model, cover);
		AppendObject(&buf, "splits", model, splits);
		MemoryContextDelete(cxt);
	}
	else if (model->kind == MODEL_KIND_LINEAR_REGRESSION ||
			 model->kind == MODEL_KIND_LOGISTIC_REGRESSION)
	{
		double	   *sd = DesignStddev(model);
		double	   *effect = palloc0(sizeof(double) * model->n_design);
		int			width = 1 + model->n_design;

		for (int s = 0; s < model->n_sets; s++)
			for (int j = 0; j < model->n_design; j++)
				effect[j] += fabs(model->coef[s * width + 1 + j]) * sd[j] / model->n_sets;
		appendStringInfoString(&buf, "{\"method\": \"abs_standardized_coefficient\"");
		AppendObject(&buf, "importance", model, PerInput(model, effect, false));
	}
	else
		return NULL;
	appendStringInfoChar(&buf, '}');
	return buf.data;
}

/* ml_importance(mlmodel) -> jsonb: see the file comment; NULL when none. */
Datum
ml_importance(PG_FUNCTION_ARGS)
{
	Model	   *model = ModelDeserialize((struct varlena *) PG_DETOAST_DATUM_PACKED(PG_GETARG_DATUM(0)));
	char	   *json = ModelImportanceJson(model);

	if (json == NULL)
		PG_RETURN_NULL();
	PG_RETURN_JSONB_P(JsonParse(json));
}
