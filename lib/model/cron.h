/* Cron expressions: the five classic fields (minute hour day-of-month month
 * day-of-week), always read in UTC, and the next time one fires.
 *
 * Each field takes `*`, a number, a range `a-b`, a step (`*` or a range,
 * then `/n`; `a/n` runs from a to the field's end), and comma lists of those. Months take
 * jan..dec and days of the week sun..sat (any case); day-of-week 0 and 7 are
 * both Sunday. When day-of-month and day-of-week are both restricted (neither
 * starts with `*`), a day matches if either does (the rule of Vixie cron and
 * POSIX crontab); otherwise both must.
 *
 * Pure: no clock, no allocation, no locale. Times are seconds since the Unix
 * epoch (UTC), with the proleptic Gregorian calendar for any year.
 */
#ifndef RK_MODEL_CRON_H
#define RK_MODEL_CRON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest expression accepted (a crontab line's schedule part is short). */
#define RK_CRON_TEXT_MAX 256
/* Room for an error message of rk_cron_parse. */
#define RK_CRON_ERR_SIZE 160

typedef struct rk_cron {
    uint64_t minute; /* bit m: minute m (0..59) */
    uint32_t hour;   /* bit h: hour h (0..23) */
    uint32_t dom;    /* bit d: day of month d (1..31) */
    uint16_t month;  /* bit m: month m (1..12) */
    uint8_t dow;     /* bit d: day of week d (0..6, Sunday 0) */
    bool dom_any;    /* the day-of-month field starts with '*' */
    bool dow_any;    /* the day-of-week field starts with '*' */
} rk_cron_t;

/* Parses text into *out. On failure returns RK_EINVAL, leaves *out zeroed
 * and writes into err (err_size bytes, may be 0) a message naming the field:
 * "cron: minute: 60 out of range 0-59", "cron: expected 5 fields, got 4". */
int rk_cron_parse(const char *text, rk_cron_t *out, char *err, size_t err_size);

/* The first firing time (a whole minute) strictly after `after`, or -1 when
 * the expression never fires (e.g. "0 0 30 2 *": the calendar repeats every
 * 400 years, so a search that long is the proof). */
int64_t rk_cron_next(const rk_cron_t *c, int64_t after);

#endif
