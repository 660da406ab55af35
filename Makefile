# mlsys: PGXS build. `make && make install`, then `make installcheck` against a running server.
EXTENSION  = mlsys
MODULE_big = mlsys
OBJS       = src/mlsys.o src/model.o src/jsonopt.o src/linalg.o src/preprocess.o \
             src/pass_args.o src/train_linear.o src/train_logistic.o src/train_naive_bayes.o src/train_kmeans.o \
             src/train_xgboost.o src/booster.o src/ubjson.o src/importance.o src/prediction_log.o src/cron.o \
             src/train.o src/tune.o src/predict.o \
             src/registry.o src/metrics.o src/stats.o src/column_stats.o src/drift.o src/drift_scan.o src/scheduler.o
EXTVERSION = 0.1.0
# The extension script is built from one part per concern, in name order.
DATA_built = sql/mlsys--$(EXTVERSION).sql

# Every other file in sql/ is a pg_regress test of the same name.
REGRESS      = $(filter-out mlsys--%,$(patsubst sql/%.sql,%,$(wildcard sql/*.sql)))
REGRESS_OPTS = --inputdir=. --outputdir=. --load-extension=mlsys

PG_CFLAGS  = -Wall -Wextra -Werror -Wno-unused-parameter -Wno-missing-field-initializers \
             -Wno-sign-compare
# Debian's OpenBLAS carries no LAPACKE symbols: link liblapacke explicitly.
SHLIB_LINK = -llapacke -lopenblas -lxgboost

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

sql/mlsys--$(EXTVERSION).sql: $(sort $(wildcard sql/parts/*.sql))
	cat $^ > $@

# PGXS tracks no header dependencies: rebuild everything when a header changes.
$(OBJS): $(wildcard src/*.h)
