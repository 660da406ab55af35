/*
 * prediction_log.c -- sampled logging of served predictions, the input of
 * monitoring, and its background worker.
 *
 * ml_predict is STABLE and runs in read-only transactions, on standbys and
 * in parallel workers: it cannot write a table. A sampled prediction
 * (mlsys.prediction_log_rate) is instead put in a bounded queue in shared
 * memory, and the "mlsys prediction log" worker moves the queue into
 * ml.prediction_log of mlsys.database every second, or sooner when the
 * queue is half full. Only predictions made in that database are logged.
 * When the queue is full a prediction is not logged but counted
 * (ml_prediction_log_status): serving never waits for logging.
 *
 * The queue is a ring of slots, each with a sequence number (the bounded
 * multi-producer queue of D. Vyukov): a producer claims position p when
 * slot p % N carries sequence p, fills it and publishes sequence p + 1;
 * the worker, the one consumer, reads the slot when it carries p + 1 and
 * frees it for position p + N. No lock is held while a slot is written.
 */
#include "postgres.h"

#include <math.h>

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "common/hashfn.h"
#include "common/pg_prng.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "port/atomics.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "tcop/tcopprot.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "mlsys.h"
#include "prediction_log.h"

/* Longest logged key and class label, in bytes; longer ones are cut. */
#define LOG_TEXT_LEN 64

/* Most entries moved per transaction of the worker. */
#define LOG_BATCH 10000

typedef struct LogSlot
{
	pg_atomic_uint64 sequence;
	Oid			database;
	bool		shadow;
	bool		has_key;
	bool		has_class;
	int32		version;
	int64		model_id;
	TimestampTz logged_at;
	uint64		inputs_hash;
	double		prediction;
	char		key[LOG_TEXT_LEN];
	char		class_label[LOG_TEXT_LEN];
} LogSlot;

typedef struct LogQueue
{
	pg_atomic_uint64 head;		/* next position to claim */
	pg_atomic_uint64 tail;		/* next position to drain (the worker's) */
	pg_atomic_uint64 logged;	/* totals since start */
	pg_atomic_uint64 dropped;
	pg_atomic_uint32 database;	/* the worker's database, InvalidOid until it runs */
	Latch	   *worker_latch;
	uint64		capacity;
	LogSlot		slots[FLEXIBLE_ARRAY_MEMBER];
} LogQueue;

static double log_rate = 0;
static int	log_capacity = 65536;
static LogQueue *queue = NULL;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

PGDLLEXPORT void PredictionLogMain(Datum arg);

PG_FUNCTION_INFO_V1(ml_prediction_log_status);

static Size
QueueSize(void)
{
	return add_size(offsetof(LogQueue, slots), mul_size(log_capacity, sizeof(LogSlot)));
}

static void
RequestShmem(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(QueueSize());
}

static void
StartupShmem(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	queue = ShmemInitStruct("mlsys prediction log", QueueSize(), &found);
	if (!found)
	{
		pg_atomic_init_u64(&queue->head, 0);
		pg_atomic_init_u64(&queue->tail, 0);
		pg_atomic_init_u64(&queue->logged, 0);
		pg_atomic_init_u64(&queue->dropped, 0);
		pg_atomic_init_u32(&queue->database, InvalidOid);
		queue->worker_latch = NULL;
		queue->capacity = log_capacity;
		for (int i = 0; i < log_capacity; i++)
			pg_atomic_init_u64(&queue->slots[i].sequence, i);
	}
	LWLockRelease(AddinShmemInitLock);
}

void
PredictionLogInit(void)
{
	BackgroundWorker worker = {0};

	DefineCustomRealVariable("mlsys.prediction_log_rate",
							 "Fraction of predictions by model name logged to ml.prediction_log.",
							 "0 logs none. Needs shared_preload_libraries = 'mlsys'; only predictions "
							 "made in mlsys.database are logged.",
							 &log_rate, 0, 0, 1, PGC_USERSET, 0, NULL, NULL, NULL);
	if (!process_shared_preload_libraries_in_progress)
		return;
	DefineCustomIntVariable("mlsys.prediction_log_queue",
							"Predictions the shared-memory queue of the prediction log holds.",
							"When it is full, predictions are not logged but counted as dropped.",
							&log_capacity, 65536, 1024, 16 * 1024 * 1024, PGC_POSTMASTER, 0,
							NULL, NULL, NULL);
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = RequestShmem;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = StartupShmem;

	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = 5;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "mlsys");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "PredictionLogMain");
	snprintf(worker.bgw_name, BGW_MAXLEN, "mlsys prediction log");
	snprintf(worker.bgw_type, BGW_MAXLEN, "mlsys prediction log");
	RegisterBackgroundWorker(&worker);
}

/* Should this prediction be logged? Draws the sample. */
bool
PredictionLogSampled(void)
{
	return log_rate > 0 && queue != NULL &&
		pg_atomic_read_u32(&queue->database) == MyDatabaseId &&
		(log_rate >= 1 || pg_prng_double(&pg_global_prng_state) < log_rate);
}

static void
CopyText(char *dst, const char *src)
{
	size_t		len = strlen(src);

	if (len >= LOG_TEXT_LEN)
		len = pg_mbcliplen(src, len, LOG_TEXT_LEN - 1);
	memcpy(dst, src, len);
	dst[len] = '\0';
}

/*
 * Queue one prediction: the model version, a hash of its design vector,
 * the value (a regression's, or the probability of the predicted class),
 * the class label and the caller's key (each may be NULL).
 */
void
PredictionLogAdd(int64 model_id, int32 version, bool shadow, const double *design, int n_design,
				 double prediction, const char *class_label, const char *key)
{
	uint64		pos = pg_atomic_read_u64(&queue->head);
	LogSlot    *slot;

	for (;;)
	{
		uint64		seq;

		slot = &queue->slots[pos % queue->capacity];
		seq = pg_atomic_read_u64(&slot->sequence);
		if (seq == pos)
		{
			if (pg_atomic_compare_exchange_u64(&queue->head, &pos, pos + 1))
				break;			/* claimed; pos unchanged */
			/* another producer won: pos now holds the current head */
		}
		else if (seq < pos)
		{
			/* the slot still holds an entry a lap behind: full */
			pg_atomic_fetch_add_u64(&queue->dropped, 1);
			return;
		}
		else
			pos = pg_atomic_read_u64(&queue->head);
	}
	slot->database = MyDatabaseId;
	slot->model_id = model_id;
	slot->version = version;
	slot->shadow = shadow;
	slot->logged_at = GetCurrentTimestamp();
	slot->inputs_hash = hash_bytes_extended((const unsigned char *) design,
											sizeof(double) * n_design, 0);
	slot->prediction = prediction;
	slot->has_class = class_label != NULL;
	if (class_label)
		CopyText(slot->class_label, class_label);
	slot->has_key = key != NULL;
	if (key)
		CopyText(slot->key, key);
	pg_write_barrier();
	pg_atomic_write_u64(&slot->sequence, pos + 1);

	/* half full or more: wake the worker early (a set latch stays set) */
	if (pos - pg_atomic_read_u64(&queue->tail) >= queue->capacity / 2 && queue->worker_latch)
		SetLatch(queue->worker_latch);
}

/* ---------------------------------------------------------------- worker */

/* Is mlsys, with its prediction log, installed in this database? */
static bool
LogTableReady(void)
{
	Oid			ml = get_namespace_oid("ml", true);

	return OidIsValid(get_extension_oid("mlsys", true)) && OidIsValid(ml) &&
		OidIsValid(get_relname_relid("prediction_log", ml));
}

static Datum
ArrayOf(Datum *values, bool *nulls, int n, Oid type)
{
	int16		typlen;
	bool		typbyval;
	char		typalign;
	int			dims[1] = {n};
	int			lbs[1] = {1};

	get_typlenbyvalalign(type, &typlen, &typbyval, &typalign);
	return PointerGetDatum(construct_md_array(values, nulls, 1, dims, lbs, type, typlen, typbyval,
											  typalign));
}

/*
 * Move up to LOG_BATCH queued predictions into ml.prediction_log in one
 * transaction; returns how many were taken. The slots are freed only after
 * the insert, so an error leaves them for the next try (the error is
 * raised; the worker restarts).
 */
static int
Drain(void)
{
	uint64		tail = pg_atomic_read_u64(&queue->tail);
	int			n = 0;
	Datum	   *cols[9];
	bool	   *nulls[9];
	static const Oid types[9] = {TIMESTAMPTZOID, INT8OID, INT4OID, BOOLOID, TEXTOID, INT8OID,
	FLOAT8OID, TEXTOID, OIDOID};
	Datum		args[10];

	for (int c = 0; c < 9; c++)
	{
		cols[c] = palloc(sizeof(Datum) * LOG_BATCH);
		nulls[c] = palloc0(sizeof(bool) * LOG_BATCH);
	}
	while (n < LOG_BATCH)
	{
		LogSlot    *slot = &queue->slots[(tail + n) % queue->capacity];

		if (pg_atomic_read_u64(&slot->sequence) != tail + n + 1)
			break;
		pg_read_barrier();
		cols[0][n] = TimestampTzGetDatum(slot->logged_at);
		cols[1][n] = Int64GetDatum(slot->model_id);
		cols[2][n] = Int32GetDatum(slot->version);
		cols[3][n] = BoolGetDatum(slot->shadow);
		cols[4][n] = slot->has_key ? CStringGetTextDatum(slot->key) : (Datum) 0;
		nulls[4][n] = !slot->has_key;
		cols[5][n] = Int64GetDatum((int64) slot->inputs_hash);
		cols[6][n] = Float8GetDatum(slot->prediction);
		nulls[6][n] = isnan(slot->prediction);
		cols[7][n] = slot->has_class ? CStringGetTextDatum(slot->class_label) : (Datum) 0;
		nulls[7][n] = !slot->has_class;
		cols[8][n] = ObjectIdGetDatum(slot->database);
		n++;
	}
	if (n == 0)
		return 0;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, "mlsys prediction log: writing");
	if (LogTableReady())
	{
		Oid			array_types[10];

		for (int c = 0; c < 9; c++)
		{
			args[c] = ArrayOf(cols[c], nulls[c], n, types[c]);
			array_types[c] = get_array_type(types[c]);
		}
		/* entries of other databases (a former mlsys.database) are dropped */
		args[9] = ObjectIdGetDatum(MyDatabaseId);
		array_types[9] = OIDOID;
		if (SPI_execute_with_args("INSERT INTO ml.prediction_log (logged_at, model_id, version, shadow,"
								  " key, inputs_hash, prediction, class)"
								  " SELECT t, m, v, s, k, h, p, c FROM ROWS FROM (pg_catalog.unnest($1),"
								  " pg_catalog.unnest($2), pg_catalog.unnest($3), pg_catalog.unnest($4),"
								  " pg_catalog.unnest($5), pg_catalog.unnest($6), pg_catalog.unnest($7),"
								  " pg_catalog.unnest($8), pg_catalog.unnest($9)) AS u(t, m, v, s, k, h, p, c, d)"
								  " WHERE d = $10",
								  10, array_types, args, NULL, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "could not write ml.prediction_log");
	}
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_activity(STATE_IDLE, NULL);

	/* free the slots for the next lap, after reading them */
	pg_memory_barrier();
	for (int i = 0; i < n; i++)
		pg_atomic_write_u64(&queue->slots[(tail + i) % queue->capacity].sequence,
							tail + i + queue->capacity);
	pg_atomic_write_u64(&queue->tail, tail + n);
	pg_atomic_fetch_add_u64(&queue->logged, n);
	return n;
}

void
PredictionLogMain(Datum arg)
{
	MemoryContext cxt;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(MlsysDatabase(), NULL, 0);
	pgstat_report_appname("mlsys prediction log");
	cxt = AllocSetContextCreate(TopMemoryContext, "mlsys prediction log", ALLOCSET_DEFAULT_SIZES);
	queue->worker_latch = MyLatch;
	pg_atomic_write_u32(&queue->database, MyDatabaseId);

	for (;;)
	{
		int			taken;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		MemoryContextSwitchTo(cxt);
		taken = Drain();
		MemoryContextSwitchTo(TopMemoryContext);
		MemoryContextReset(cxt);
		if (taken == LOG_BATCH)
			continue;			/* more waiting */
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 1000L, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

/*
 * ml_prediction_log_status() -> (active, rate, queued, logged, dropped):
 * whether predictions of this database can be logged, the sampling rate,
 * and the queue's counts since the server started.
 */
Datum
ml_prediction_log_status(PG_FUNCTION_ARGS)
{
	TupleDesc	desc;
	Datum		values[5];
	bool		nulls[5] = {false};

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	values[0] = BoolGetDatum(queue != NULL && pg_atomic_read_u32(&queue->database) == MyDatabaseId);
	values[1] = Float8GetDatum(log_rate);
	values[2] = Int64GetDatum(queue ? (int64) (pg_atomic_read_u64(&queue->head) -
											   pg_atomic_read_u64(&queue->tail)) : 0);
	values[3] = Int64GetDatum(queue ? (int64) pg_atomic_read_u64(&queue->logged) : 0);
	values[4] = Int64GetDatum(queue ? (int64) pg_atomic_read_u64(&queue->dropped) : 0);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(desc, values, nulls)));
}
