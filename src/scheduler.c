/*
 * scheduler.c -- the background worker that runs scheduled jobs (ml.jobs).
 *
 * With shared_preload_libraries = 'mlsys', a launcher worker connects to
 * mlsys.database and, every mlsys.naptime seconds (and whenever a job
 * ends), starts the jobs whose next_run_at has come, each in a worker of its
 * own ("mlsys job"), at most mlsys.max_concurrent_jobs at a time; a job
 * still running is not started again. Each run takes three transactions,
 * so that a failure or a crash never loses the record (and a job with a
 * run in progress, whose worker lives, is not started again, even by a
 * restarted launcher):
 *   1. as the worker (superuser): ml.job_started() records a 'running' run;
 *   2. as the job's owner, never with more privileges: the job itself;
 *   3. as the worker: ml.job_finished() records the outcome and the next run.
 * An error in 2 is caught, the transaction rolled back, and the error
 * recorded in 3; the worker goes on. Runs left 'running' whose worker is
 * gone (a crash, a restart, a killed worker) are marked 'interrupted' at
 * every look. Without the workers, ml_run_job() runs a job on demand.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "catalog/pg_type.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

#include "mlsys.h"

/* At most this many due jobs are taken per wake-up; the rest wait a nap. */
#define SCHEDULER_BATCH 100

static bool scheduler_enabled = true;
static char *scheduler_database = NULL;
static int	scheduler_naptime = 10;
static int	max_concurrent_jobs = 2;

/* Most jobs running at once, whatever the setting. */
#define MAX_JOB_WORKERS 64

PGDLLEXPORT void SchedulerMain(Datum arg);
PGDLLEXPORT void JobWorkerMain(Datum arg);

/* mlsys.database: where the background workers connect. */
const char *
MlsysDatabase(void)
{
	return scheduler_database;
}

void
SchedulerInit(void)
{
	BackgroundWorker worker = {0};

	DefineCustomBoolVariable("mlsys.enabled",
							 "Runs scheduled jobs (ml.jobs) in a background worker.",
							 "Takes effect with shared_preload_libraries = 'mlsys'.",
							 &scheduler_enabled, true, PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("mlsys.naptime",
							"Seconds between the scheduler's looks for due jobs.",
							NULL, &scheduler_naptime, 10, 1, 3600, PGC_SIGHUP, GUC_UNIT_S,
							NULL, NULL, NULL);
	DefineCustomIntVariable("mlsys.max_concurrent_jobs",
							"Most scheduled jobs running at the same time, each in its own worker.",
							"Each takes one of max_worker_processes while it runs.",
							&max_concurrent_jobs, 2, 1, MAX_JOB_WORKERS, PGC_SIGHUP, 0,
							NULL, NULL, NULL);
	/* the worker, and its database setting, exist only when preloaded */
	if (!process_shared_preload_libraries_in_progress)
		return;
	DefineCustomStringVariable("mlsys.database",
							   "The database of the background workers: its scheduled jobs run, its predictions are logged.",
							   NULL, &scheduler_database, "postgres", PGC_POSTMASTER, 0,
							   NULL, NULL, NULL);

	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = 5;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "mlsys");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "SchedulerMain");
	snprintf(worker.bgw_name, BGW_MAXLEN, "mlsys scheduler");
	snprintf(worker.bgw_type, BGW_MAXLEN, "mlsys scheduler");
	RegisterBackgroundWorker(&worker);
}

/* Run a statement without arguments in its own transaction. */
static void
RunInTransaction(const char *sql)
{
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	if (SPI_execute(sql, false, 0) < 0)
		elog(ERROR, "scheduler statement failed: %s", sql);
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
}

/*
 * Is mlsys, with its jobs table, installed in this database? The worker
 * waits until it is (and for a version that has jobs).
 */
static bool
ExtensionReady(void)
{
	bool		ready;
	Oid			ml;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	ml = get_namespace_oid("ml", true);
	ready = OidIsValid(get_extension_oid("mlsys", true)) && OidIsValid(ml) &&
		OidIsValid(get_relname_relid("jobs", ml));
	CommitTransactionCommand();
	return ready;
}

/* What a started run needs: who runs it and what. */
typedef struct JobRun
{
	int64		run_id;			/* 0: the job is gone or disabled */
	char	   *owner;
	char	   *kind;
	char	   *target;
	char	   *statement;		/* ml.job_statement(kind), the target as $1 */
} JobRun;

/* Record a 'running' run of the job (ml.job_started), in its own transaction. */
static JobRun
StartRun(int64 job_id)
{
	JobRun		run = {0};
	MemoryContext worker_cxt = CurrentMemoryContext;
	Datum		arg = Int64GetDatum(job_id);
	Oid			type = INT8OID;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	if (SPI_execute_with_args("SELECT r.run_id, j.owner, j.kind, j.target, ml.job_statement(j.kind)"
							  " FROM ml.job_started($1) AS r(run_id) JOIN ml.jobs j ON j.job_id = $1",
							  1, &type, &arg, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not start a run of job %lld", (long long) job_id);
	if (SPI_processed > 0)
	{
		HeapTuple	row = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		Datum		id = SPI_getbinval(row, desc, 1, &isnull);

		if (!isnull)
		{
			MemoryContext spi_cxt = MemoryContextSwitchTo(worker_cxt);

			run.run_id = DatumGetInt64(id);
			run.owner = SPI_getvalue(row, desc, 2);
			run.kind = SPI_getvalue(row, desc, 3);
			run.target = SPI_getvalue(row, desc, 4);
			run.statement = SPI_getvalue(row, desc, 5);
			MemoryContextSwitchTo(spi_cxt);
		}
	}
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	MemoryContextSwitchTo(worker_cxt);
	return run;
}

/*
 * The job itself, in its own transaction, as its owner. Returns the failure
 * the job's statement reports (a monitor's failed run, which it keeps), in
 * the caller's memory context, or NULL.
 */
static char *
ExecuteRun(const JobRun *run)
{
	MemoryContext caller_cxt = CurrentMemoryContext;
	char	   *failure = NULL;
	bool		isnull;
	Datum		reported;
	Oid			owner;
	Oid			save_user;
	int			save_context;
	Datum		arg = CStringGetTextDatum(run->target);
	Oid			type = TEXTOID;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	owner = get_role_oid(run->owner, true);
	if (!OidIsValid(owner))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("role \"%s\", the owner of the job, does not exist", run->owner),
				 errhint("Delete the job, or create the role again.")));
	if (run->statement == NULL)
		elog(ERROR, "job kind \"%s\" has no statement", run->kind);
	/*
	 * The owner as the session's user too (what the SECURITY DEFINER
	 * recorders check, as session_user), and as the current user locked in
	 * like a SECURITY DEFINER function's: no SET ROLE or SET SESSION
	 * AUTHORIZATION back to the worker's superuser. RunJob restores it.
	 */
	SetSessionAuthorization(owner, superuser_arg(owner));
	GetUserIdAndSecContext(&save_user, &save_context);
	SetUserIdAndSecContext(owner, save_context | SECURITY_LOCAL_USERID_CHANGE);
	if (SPI_execute_with_args(run->statement, 1, &type, &arg, NULL, false, 0) != SPI_OK_SELECT ||
		SPI_processed != 1)
		elog(ERROR, "job statement failed");
	reported = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (!isnull)
		failure = MemoryContextStrdup(caller_cxt, TextDatumGetCString(reported));
	SetUserIdAndSecContext(save_user, save_context);
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	MemoryContextSwitchTo(caller_cxt);
	return failure;
}

/*
 * Run job job_id between the two records. Any error of the job is caught,
 * rolled back (which also restores the worker's user) and recorded.
 */
static void
RunJob(int64 job_id)
{
	MemoryContext worker_cxt = CurrentMemoryContext;
	JobRun		run;
	char	   *volatile error = NULL;
	Oid			types[2] = {INT8OID, TEXTOID};
	Datum		args[2];

	pgstat_report_activity(STATE_RUNNING, psprintf("mlsys scheduler: job %lld", (long long) job_id));
	run = StartRun(job_id);
	if (run.run_id == 0)
		return;					/* deleted or disabled meanwhile */
	pgstat_report_activity(STATE_RUNNING,
						   psprintf("mlsys scheduler: job %lld, %s \"%s\" as %s",
									(long long) job_id, run.kind, run.target, run.owner));
	PG_TRY();
	{
		error = ExecuteRun(&run);
		if (error != NULL)
			ereport(LOG,
					(errmsg("mlsys scheduler: job %lld failed: %s", (long long) job_id, error)));
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(worker_cxt);
		edata = CopyErrorData();
		FlushErrorState();
		AbortCurrentTransaction();
		error = edata->message;
		ereport(LOG,
				(errmsg("mlsys scheduler: job %lld failed: %s", (long long) job_id, error)));
	}
	PG_END_TRY();
	MemoryContextSwitchTo(worker_cxt);
	/* the worker's own user again, to record the outcome */
	SetSessionAuthorization(GetAuthenticatedUserId(), true);

	args[0] = Int64GetDatum(run.run_id);
	args[1] = error ? CStringGetTextDatum(error) : (Datum) 0;
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	if (SPI_execute_with_args("SELECT ml.job_finished($1, $2)", 2, types, args,
							  error ? NULL : " n", false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not record the end of run %lld", (long long) run.run_id);
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	MemoryContextSwitchTo(worker_cxt);
	pgstat_report_activity(STATE_IDLE, NULL);
}

/* A job running in a worker of its own. */
typedef struct RunningJob
{
	int64		job_id;
	BackgroundWorkerHandle *handle;
} RunningJob;

/*
 * The ids of the jobs that are due, oldest first; and in *others, the job
 * workers alive that are not among running, this launcher's own: those a
 * launcher before it started (it was terminated or crashed), which still
 * take their share of mlsys.max_concurrent_jobs.
 */
static int
DueJobs(int64 *ids, const RunningJob *running, int n_running, int *others)
{
	int			n;
	StringInfoData mine;
	bool		isnull;

	initStringInfo(&mine);
	for (int r = 0; r < n_running; r++)
		appendStringInfo(&mine, ", 'mlsys job %lld'", (long long) running[r].job_id);
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	/* (a worker just started has no name yet: this launcher's, counted in running) */
	if (SPI_execute(psprintf("SELECT count(*)::int FROM pg_catalog.pg_stat_activity"
							 " WHERE backend_type = 'mlsys job' AND application_name NOT IN (''%s)",
							 mine.data),
					true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read pg_stat_activity");
	*others = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	if (SPI_execute(psprintf("SELECT job_id FROM ml.jobs j WHERE enabled AND next_run_at <= now()"
							 " AND NOT EXISTS (SELECT FROM ml.job_runs r"
							 " WHERE r.job_id = j.job_id AND r.status = 'running')"
							 " ORDER BY next_run_at, job_id LIMIT %d", SCHEDULER_BATCH),
					true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read ml.jobs");
	n = (int) SPI_processed;
	for (int i = 0; i < n; i++)
	{
		ids[i] = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));
	}
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	return n;
}

/* Start a worker for the job; false when no worker slot is free. */
static bool
StartJobWorker(int64 job_id, RunningJob *running)
{
	BackgroundWorker worker = {0};

	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "mlsys");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "JobWorkerMain");
	snprintf(worker.bgw_name, BGW_MAXLEN, "mlsys job %lld", (long long) job_id);
	snprintf(worker.bgw_type, BGW_MAXLEN, "mlsys job");
	worker.bgw_main_arg = Int64GetDatum(job_id);
	worker.bgw_notify_pid = MyProcPid;	/* its end sets our latch */
	running->job_id = job_id;
	return RegisterDynamicBackgroundWorker(&worker, &running->handle);
}

/* Forget the workers that have ended; returns how many still run. */
static int
ReapJobWorkers(RunningJob *running, int n)
{
	int			kept = 0;

	for (int i = 0; i < n; i++)
	{
		pid_t		pid;

		if (GetBackgroundWorkerPid(running[i].handle, &pid) == BGWH_STOPPED)
			pfree(running[i].handle);
		else
			running[kept++] = running[i];
	}
	return kept;
}

void
SchedulerMain(Datum arg)
{
	int64		ids[SCHEDULER_BATCH];
	RunningJob	running[MAX_JOB_WORKERS];
	int			n_running = 0;
	int			others;
	MemoryContext loop_cxt;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(MlsysDatabase(), NULL, 0);
	pgstat_report_appname("mlsys scheduler");
	loop_cxt = AllocSetContextCreate(TopMemoryContext, "mlsys scheduler", ALLOCSET_DEFAULT_SIZES);

	for (;;)
	{
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		MemoryContextSwitchTo(TopMemoryContext);
		n_running = ReapJobWorkers(running, n_running);
		MemoryContextSwitchTo(loop_cxt);
		if (scheduler_enabled && ExtensionReady())
		{
			RunInTransaction("SELECT ml.jobs_interrupted()");
			MemoryContextSwitchTo(loop_cxt);
			for (int i = 0, n = DueJobs(ids, running, n_running, &others);
				 i < n && n_running + others < max_concurrent_jobs; i++)
			{
				bool		busy = false;

				for (int r = 0; r < n_running; r++)
					busy |= running[r].job_id == ids[i];
				if (busy)
					continue;
				MemoryContextSwitchTo(TopMemoryContext);
				if (!StartJobWorker(ids[i], &running[n_running]))
				{
					ereport(LOG,
							(errmsg("mlsys scheduler: no free worker slot for job %lld, retrying later",
									(long long) ids[i]),
							 errhint("Raise max_worker_processes.")));
					break;
				}
				n_running++;
			}
		}
		MemoryContextSwitchTo(TopMemoryContext);
		MemoryContextReset(loop_cxt);
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 scheduler_naptime * 1000L, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

/* A worker that runs one job (bgw_main_arg) as the launcher started it. */
void
JobWorkerMain(Datum arg)
{
	int64		job_id = DatumGetInt64(arg);

	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(MlsysDatabase(), NULL, 0);
	/* the name ml.jobs_interrupted() looks for: set before the run is recorded */
	pgstat_report_appname(psprintf("mlsys job %lld", (long long) job_id));
	RunJob(job_id);
}
