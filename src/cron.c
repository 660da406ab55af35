/*
 * cron.c -- cron schedules for jobs: ml_cron_next(expression, after).
 *
 * The five fields of crontab(5): minute (0-59), hour (0-23), day of month
 * (1-31), month (1-12 or jan-dec), day of week (0-7 or sun-sat, 0 and 7
 * both Sunday). Each field is "*" or a comma-separated list of values and
 * ranges a-b, any of them with a step /n. As in cron, when both day fields
 * are restricted a day matches either of them. Times are in a named time
 * zone, or the session's (a job keeps the one it was scheduled in): "0 3 *
 * * *" is 3 a.m. local time, also across daylight-saving changes. A local
 * time that a change skips does not occur that day, and one it repeats
 * matches both times.
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "pgtime.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/timestamp.h"

#include "mlsys.h"

PG_FUNCTION_INFO_V1(ml_cron_next);

typedef struct CronField
{
	const char *name;
	int			lo;
	int			hi;
	const char *const *names;	/* names of lo, lo + 1, ... or NULL */
} CronField;

static const char *const month_names[] = {"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug",
"sep", "oct", "nov", "dec", NULL};
static const char *const day_names[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat", NULL};

static const CronField fields[5] = {
	{"minute", 0, 59, NULL},
	{"hour", 0, 23, NULL},
	{"day of month", 1, 31, NULL},
	{"month", 1, 12, month_names},
	{"day of week", 0, 7, day_names},
};

/* The parsed expression: which values each field allows. */
typedef struct CronSchedule
{
	bool		allowed[5][60];
	bool		any_day_of_month;	/* "*": restricts nothing */
	bool		any_day_of_week;
} CronSchedule;

static pg_noreturn void
BadCron(const char *expr, const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid cron expression \"%s\"", expr),
			 errdetail("%s", detail),
			 errhint("Use five fields: minute hour day-of-month month day-of-week, such as '0 3 * * *' (3 a.m. daily) or '*/15 * * * 1-5'.")));
}

/* A number or (for months and days) a name at *p; advances *p. */
static int
ParseValue(const char *expr, const CronField *f, const char **p)
{
	if (f->names != NULL && isalpha((unsigned char) **p))
	{
		for (int i = 0; f->names[i] != NULL; i++)
			if (pg_strncasecmp(*p, f->names[i], 3) == 0 && !isalpha((unsigned char) (*p)[3]))
			{
				*p += 3;
				return f->lo + i;
			}
		BadCron(expr, psprintf("The %s field has an unknown name.", f->name));
	}
	if (!isdigit((unsigned char) **p))
		BadCron(expr, psprintf("The %s field needs a number, \"*\" or a list.", f->name));
	{
		int			v = 0;

		while (isdigit((unsigned char) **p) && v <= 1000)
			v = v * 10 + (*(*p)++ - '0');
		if (v < f->lo || v > f->hi)
			BadCron(expr, psprintf("A value of the %s field is outside %d-%d.", f->name, f->lo, f->hi));
		return v;
	}
}

/* One field's text (between spaces) into allowed[]. */
static void
ParseField(const char *expr, const CronField *f, const char *text, bool *allowed, bool *any)
{
	const char *p = text;

	*any = strcmp(text, "*") == 0;
	for (;;)
	{
		int			lo,
					hi,
					step = 1;
		bool		single = false; /* one value, no range: "5/15" runs to the end */

		if (*p == '*')
		{
			p++;
			lo = f->lo;
			hi = f->hi;
		}
		else
		{
			lo = hi = ParseValue(expr, f, &p);
			single = *p != '-';
			if (*p == '-')
			{
				p++;
				hi = ParseValue(expr, f, &p);
				if (hi < lo)
					BadCron(expr, psprintf("A range of the %s field ends before it starts.", f->name));
			}
		}
		if (*p == '/')
		{
			p++;
			if (!isdigit((unsigned char) *p))
				BadCron(expr, psprintf("A step of the %s field must be a number.", f->name));
			step = 0;
			while (isdigit((unsigned char) *p) && step <= 1000)
				step = step * 10 + (*p++ - '0');
			if (step < 1)
				BadCron(expr, psprintf("A step of the %s field must be at least 1.", f->name));
			if (single)
				hi = f->hi;		/* "5/15": from 5 to the end */
		}
		for (int v = lo; v <= hi; v += step)
			allowed[v] = true;
		if (*p == '\0')
			break;
		if (*p++ != ',')
			BadCron(expr, psprintf("The %s field has an unexpected character.", f->name));
	}
}

static void
ParseCron(const char *expr, CronSchedule *s)
{
	char	   *copy = pstrdup(expr);
	char	   *save = NULL;
	char	   *tok;
	int			n = 0;

	memset(s, 0, sizeof(*s));
	for (tok = strtok_r(copy, " \t", &save); tok != NULL; tok = strtok_r(NULL, " \t", &save))
	{
		bool		any;

		if (n == 5)
			BadCron(expr, "It has more than five fields.");
		ParseField(expr, &fields[n], tok, s->allowed[n], &any);
		if (n == 2)
			s->any_day_of_month = any;
		if (n == 4)
			s->any_day_of_week = any;
		n++;
	}
	if (n != 5)
		BadCron(expr, "It has fewer than five fields.");
	s->allowed[4][0] |= s->allowed[4][7];	/* Sunday is 0 and 7 */
}

static bool
DayMatches(const CronSchedule *s, const struct pg_tm *tm)
{
	bool		dom = s->allowed[2][tm->tm_mday];
	bool		dow = s->allowed[4][j2day(date2j(tm->tm_year, tm->tm_mon, tm->tm_mday))];

	if (s->any_day_of_month)
		return dow;
	if (s->any_day_of_week)
		return dom;
	return dom || dow;
}

/* Local time fields -> timestamptz in the given time zone (normalising). */
static TimestampTz
LocalToTimestamp(struct pg_tm *tm, pg_tz *zone)
{
	TimestampTz result;
	int			tz;

	/* day and hour overflow: let the calendar carry them */
	tm->tm_sec = 0;
	tz = DetermineTimeZoneOffset(tm, zone);
	if (tm2timestamp(tm, 0, &tz, &result) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("timestamp out of range"),
				 errhint("The next run of the cron schedule is beyond the timestamp range.")));
	return result;
}

static void
TimestampToLocal(TimestampTz t, struct pg_tm *tm, pg_tz *zone)
{
	int			tz;
	fsec_t		fsec;

	if (timestamp2tm(t, &tz, tm, &fsec, NULL, zone) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("timestamp out of range"),
				 errhint("Pass a finite time.")));
}

/*
 * The first minute strictly after "after" that the schedule matches:
 * skip whole months, days and hours that cannot match. Five years without
 * a match (such as "0 0 30 2 *") is an error.
 */
static TimestampTz
NextRun(const char *expr, const CronSchedule *s, TimestampTz after, pg_tz *zone)
{
	struct pg_tm tm;
	TimestampTz t;
	TimestampTz prev;
	TimestampTz five_years = (TimestampTz) 5 * 366 * USECS_PER_DAY;
	TimestampTz limit = after < END_TIMESTAMP - five_years ? after + five_years : END_TIMESTAMP;

	/* (the local fields drop the seconds: whole minutes from here on) */
	TimestampToLocal(after, &tm, zone);
	tm.tm_min++;
	t = LocalToTimestamp(&tm, zone);
	while (t < limit)
	{
		CHECK_FOR_INTERRUPTS();
		prev = t;
		TimestampToLocal(t, &tm, zone);
		if (!s->allowed[3][tm.tm_mon])
		{
			tm.tm_mon++;
			tm.tm_mday = 1;
			tm.tm_hour = tm.tm_min = 0;
			if (tm.tm_mon > 12)
			{
				tm.tm_mon = 1;
				tm.tm_year++;
			}
		}
		else if (!DayMatches(s, &tm))
		{
			tm.tm_mday++;
			tm.tm_hour = tm.tm_min = 0;
			if (tm.tm_mday > day_tab[isleap(tm.tm_year)][tm.tm_mon - 1])
			{
				tm.tm_mday = 1;
				if (++tm.tm_mon > 12)
				{
					tm.tm_mon = 1;
					tm.tm_year++;
				}
			}
		}
		else if (!s->allowed[1][tm.tm_hour])
		{
			tm.tm_hour++;
			tm.tm_min = 0;
		}
		else if (!s->allowed[0][tm.tm_min])
			tm.tm_min++;
		else
			return t;
		/*
		 * Forward by at least a minute: around a daylight-saving change the
		 * next local hour or day can map to the same or an earlier instant
		 * (in zones that move by half an hour, say).
		 */
		t = Max(LocalToTimestamp(&tm, zone), prev + USECS_PER_MINUTE);
	}
	BadCron(expr, "It matches no time in the next five years.");
}

/*
 * ml_cron_next(expression text, after timestamptz, time_zone text DEFAULT
 * NULL) -> timestamptz, in the named time zone (NULL: the session's).
 */
Datum
ml_cron_next(PG_FUNCTION_ARGS)
{
	char	   *expr;
	TimestampTz after;
	pg_tz	   *zone = session_timezone;
	CronSchedule s;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		PG_RETURN_NULL();
	expr = text_to_cstring(PG_GETARG_TEXT_PP(0));
	after = PG_GETARG_TIMESTAMPTZ(1);
	if (!PG_ARGISNULL(2))
	{
		char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(2));

		zone = pg_tzset(name);
		if (zone == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("time zone \"%s\" not recognized", name),
					 errhint("Use a name from pg_timezone_names, such as 'Europe/Berlin' or 'UTC'.")));
	}

	ParseCron(expr, &s);
	if (TIMESTAMP_NOT_FINITE(after))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("the time to start from must be finite"),
				 errhint("Pass a time such as now().")));
	PG_RETURN_TIMESTAMPTZ(NextRun(expr, &s, after, zone));
}
