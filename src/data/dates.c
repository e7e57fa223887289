/* dates.c — day numbers (days since 1970-01-01, proleptic Gregorian) and YYYY-MM-DD.
 * Civil <-> day conversions count in 400-year eras (146097 days) with March as the first
 * month, so the leap day falls at the end of the shifted year and no tables are needed. */
#include <stdio.h>
#include <string.h>

#include "terragrad.h"

static int is_leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

static int days_in_month(int y, int m)
{
    static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : dim[m - 1];
}

int tg_date_is_valid(int year, int month, int day)
{
    return year >= 1 && year <= 9999 && month >= 1 && month <= 12 && day >= 1 &&
           day <= days_in_month(year, month);
}

int tg_date_from_ymd(int year, int month, int day)
{
    int y = year - (month <= 2);
    int era = (y >= 0 ? y : y - 399) / 400;
    int yoe = y - era * 400;                                        /* [0, 399] */
    int mp = month > 2 ? month - 3 : month + 9;                     /* March = 0 */
    int doy = (153 * mp + 2) / 5 + day - 1;                         /* [0, 365] */
    int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;                /* [0, 146096] */
    return era * 146097 + doe - 719468;                             /* 719468: 0000-03-01 -> 1970-01-01 */
}

void tg_date_to_ymd(int daynum, int *year, int *month, int *day)
{
    int z = daynum + 719468;
    int era = (z >= 0 ? z : z - 146096) / 146097;
    int doe = z - era * 146097;
    int yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int mp = (5 * doy + 2) / 153;
    int d = doy - (153 * mp + 2) / 5 + 1;
    int m = mp < 10 ? mp + 3 : mp - 9;
    *year = yoe + era * 400 + (m <= 2);
    *month = m;
    *day = d;
}

int tg_date_doy(int daynum)
{
    int y, m, d;
    tg_date_to_ymd(daynum, &y, &m, &d);
    return daynum - tg_date_from_ymd(y, 1, 1) + 1;
}

static int digits(const char *s, int n, int *v)
{
    int x = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return 1;
        x = 10 * x + (s[i] - '0');
    }
    *v = x;
    return 0;
}

int tg_date_parse(const char *s, int *daynum)
{
    int y, m, d;
    if (!s || strlen(s) != 10 || s[4] != '-' || s[7] != '-' || digits(s, 4, &y) ||
        digits(s + 5, 2, &m) || digits(s + 8, 2, &d))
        return tg_error_set(TG_EINVAL, "'%s' is not a date of the form YYYY-MM-DD", s ? s : "");
    if (!tg_date_is_valid(y, m, d))
        return tg_error_set(TG_EINVAL, "'%s' is not a valid calendar date", s);
    *daynum = tg_date_from_ymd(y, m, d);
    return 0;
}

char *tg_date_format(int daynum, char *buf)
{
    int y, m, d;
    tg_date_to_ymd(daynum, &y, &m, &d);
    /* by hand: snprintf cannot prove to the compiler that 11 bytes suffice */
    int v[3] = {y, m, d}, w[3] = {4, 2, 2}, p = 0;
    for (int k = 0; k < 3; k++) {
        int x = v[k] < 0 ? 0 : v[k];
        for (int i = w[k] - 1; i >= 0; i--, x /= 10) buf[p + i] = (char)('0' + x % 10);
        p += w[k];
        buf[p++] = k < 2 ? '-' : '\0';
    }
    return buf;
}
