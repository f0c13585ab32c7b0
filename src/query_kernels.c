/*
 * query_kernels.c: the per-window and per-point loops of a PromQL range query, in C.
 *
 * The engine (extension/promscale/promql/) computes with NumPy, an array operation at a time over
 * every series and step. A month of hourly steps over 1,000 series is 720,000 windows: each NumPy
 * operation then costs a pass over memory, and rate's extrapolation is some thirty of them, the
 * window bounds two binary searches per window, and the JSON body (24 MB) a Python string per
 * point. These kernels do each in one pass: the time of a dashboard query over long ranges follows
 * the points it answers, not the interpreter's overhead per operation.
 *
 * They are plain C functions over arrays (no fmgr, no palloc, no PostgreSQL symbol), called from
 * PL/Python with ctypes (extension/promscale/promql/kernels.py), which finds this library's file
 * through _prom_catalog.query_kernels_library(). Python owns every buffer; the kernels only read
 * and write within the lengths they are given. Each kernel repeats, operation by operation and in
 * the same order, the NumPy code it stands for, so that the results are the same bits (the build
 * turns off floating-point contraction: a fused multiply-add would round differently):
 * tests/promql/test_query_kernels.py compares the two on adversarial data.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "postgres.h"

#include <dlfcn.h>
#include <math.h>

#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"

/* the kernels' calling conventions; kernels.py refuses a library of another version */
#define QUERY_KERNELS_ABI 1

/*
 * Window bounds: for each series k (its times t[starts[k] .. starts[k] + lengths[k]), sorted) and
 * step j, lo = the first index with t >= lo_time[j] and hi = the first with t > hi_time[j], both
 * relative to the series' start, and lo clipped to hi: numpy.searchsorted(t_k, lo_time, "left")
 * and (t_k, hi_time, "right"), as Matrix.windows. lo_time and hi_time are nondecreasing (the
 * caller checks), so each series is walked once, forwards, with a binary search for long jumps.
 */
static int64
first_index_from(const int64 *t, int64 from, int64 n, int64 x, bool inclusive)
{
	/* the first index i >= from with t[i] >= x (inclusive) or t[i] > x */
	int64		probe = from;
	int64		lo,
				hi;

	for (int k = 0; k < 8 && probe < n; k++, probe++)
		if (inclusive ? t[probe] >= x : t[probe] > x)
			return probe;
	lo = probe;
	hi = n;
	while (lo < hi)
	{
		int64		mid = lo + (hi - lo) / 2;

		if (inclusive ? t[mid] >= x : t[mid] > x)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

void		promscale_window_bounds(const int64 *t, const int64 *starts, const int64 *lengths, int64 n_series,
									const int64 *lo_time, const int64 *hi_time, int64 n_steps,
									int64 *lo_out, int64 *hi_out);

void
promscale_window_bounds(const int64 *t, const int64 *starts, const int64 *lengths, int64 n_series,
						const int64 *lo_time, const int64 *hi_time, int64 n_steps,
						int64 *lo_out, int64 *hi_out)
{
	for (int64 k = 0; k < n_series; k++)
	{
		const int64 *ts = t + starts[k];
		int64		n = lengths[k];
		int64		lo = 0,
					hi = 0;
		int64	   *los = lo_out + k * n_steps;
		int64	   *his = hi_out + k * n_steps;

		for (int64 j = 0; j < n_steps; j++)
		{
			lo = first_index_from(ts, lo, n, lo_time[j], true);
			hi = first_index_from(ts, hi, n, hi_time[j], false);
			los[j] = lo < hi ? lo : hi;
			his[j] = hi;
		}
	}
}

/*
 * Prometheus's extrapolatedRate (rate, increase, delta) of every series and step: the operations
 * of functions/windows.py's _extrapolated_rate in its order. Series k's points are at
 * [starts[k], starts[k] + lengths[k]) of t/v; its windows [lo, hi) are relative to that start
 * (row k of lo/hi: n_steps each). From rollups, n counts the raw samples up to each point and raw
 * is the point's raw value (both NULL on raw samples). Writes out/ok (n_series x n_steps); a
 * window with fewer than two points has ok 0 and NaN, as the NumPy code gives there.
 *
 * Counter resets: a drop between two consecutive points of a series adds the value before it. As
 * in the NumPy code, the drops inside a window come from a running sum over the series (the
 * difference of two prefix sums, not a sum of the window's own drops: rounding differs), and only
 * series with a drop get them added at all (adding a zero would turn -0 into 0).
 */
void		promscale_extrapolated_rate(const int64 *t, const double *v, const double *raw, const int64 *n,
										const int64 *starts, const int64 *lengths, int64 n_series,
										const int64 *lo, const int64 *hi, const int64 *ref, int64 n_steps,
										int64 range_ms, int32 is_counter, int32 is_rate,
										double *drop_sums, double *out, uint8 *ok);

void
promscale_extrapolated_rate(const int64 *t, const double *v, const double *raw, const int64 *n,
							const int64 *starts, const int64 *lengths, int64 n_series,
							const int64 *lo, const int64 *hi, const int64 *ref, int64 n_steps,
							int64 range_ms, int32 is_counter, int32 is_rate,
							double *drop_sums, double *out, uint8 *ok)
{
	double		range_s = (double) range_ms / 1000;

	for (int64 k = 0; k < n_series; k++)
	{
		int64		a = starts[k];
		int64		len = lengths[k];
		bool		has_drops = false;

		/* drop_sums[a + i + 1]: the drops of points 1..i of the series (drop_sums[a]: 0) */
		if (is_counter && len > 0)
		{
			drop_sums[a] = 0.0;
			drop_sums[a + 1] = 0.0;
			for (int64 i = 1; i < len; i++)
			{
				double		drop = v[a + i] < v[a + i - 1] ? v[a + i - 1] : 0.0;

				has_drops |= drop != 0.0;
				drop_sums[a + i + 1] = drop_sums[a + i] + drop;
			}
		}
		for (int64 j = 0; j < n_steps; j++)
		{
			int64		w = k * n_steps + j;
			int64		cnt = hi[w] - lo[w];
			int64		li,
						hi1;
			double		first,
						last,
						result,
						tf,
						tl,
						dur_start,
						dur_end,
						sampled,
						avg_dur,
						thresh,
						ext,
						factor;

			if (cnt < 2)
			{
				out[w] = NAN;
				ok[w] = 0;
				continue;
			}
			ok[w] = 1;
			li = a + lo[w];
			hi1 = a + hi[w] - 1;
			first = v[li];
			last = v[hi1];
			if (n != NULL)
				cnt = n[hi1] - n[li] + 1;
			tf = (double) t[li];
			tl = (double) t[hi1];
			result = last - first;
			if (has_drops)
				result = result + (drop_sums[hi1 + 1] - drop_sums[li + 1]);
			dur_start = (tf - (double) (ref[j] - range_ms)) / 1000;
			dur_end = ((double) ref[j] - tl) / 1000;
			sampled = (tl - tf) / 1000;
			avg_dur = sampled / (double) (cnt - 1);
			if (is_counter)
			{
				double		dz = sampled * ((raw == NULL ? first : raw[li]) / result);

				if (result > 0 && first >= 0 && dz < dur_start)
					dur_start = dz;
			}
			thresh = avg_dur * 1.1;
			ext = sampled + (dur_start < thresh ? dur_start : avg_dur / 2);
			ext = ext + (dur_end < thresh ? dur_end : avg_dur / 2);
			factor = ext / sampled;
			if (is_rate)
				factor = factor / range_s;
			out[w] = result * factor;
		}
	}
}

/*
 * The pseudo-samples of a counter (or of a gauge's edges) read from rollups: rollup/read.py's
 * _pseudo, for windows laid end to end series after series (sids: each window's series). Per
 * window, a point at its first and one at its last sample time (one when they are the same time)
 * with the value, the raw value and the raw samples up to it (n). With adjust, the values are
 * the counter with resets corrected, as the NumPy code forms it: before each window's first
 * sample the increase from the previous window's last (a drop counts the new value) plus the
 * previous window's own increase, accumulated per series from its first window's value. Only
 * points with mint_ms <= time <= maxt_ms are written; returns how many.
 */
int64		promscale_rollup_points(int32 adjust, int64 m, const int64 *sids, const int64 *first_times_us,
									const int64 *last_times_us, const double *firsts, const double *lasts,
									const double *increases, const double *counts, int64 mint_ms, int64 maxt_ms,
									int64 *t_out, double *v_out, double *raw_out, double *n_out, int64 *sid_out);

/* Unix milliseconds of PostgreSQL's microseconds since 2000 (Python's floor division) */
static inline int64
unix_ms(int64 pg_us)
{
	int64		q = pg_us / 1000;

	if (pg_us % 1000 < 0)
		q--;
	return q + INT64CONST(946684800000);
}

int64
promscale_rollup_points(int32 adjust, int64 m, const int64 *sids, const int64 *first_times_us,
						const int64 *last_times_us, const double *firsts, const double *lasts,
						const double *increases, const double *counts, int64 mint_ms, int64 maxt_ms,
						int64 *t_out, double *v_out, double *raw_out, double *n_out, int64 *sid_out)
{
	int64		o = 0;
	double		base = 0.0,
				acc = 0.0,
				seen = 0.0;

	for (int64 i = 0; i < m; i++)
	{
		bool		series_start = i == 0 || sids[i] != sids[i - 1];
		double		vf = firsts[i],
					vl = lasts[i];
		int64		tf = unix_ms(first_times_us[i]),
					tl = unix_ms(last_times_us[i]);

		if (adjust)
		{
			if (series_start)
			{
				base = firsts[i];
				acc = 0.0;
			}
			else
			{
				double		prev = lasts[i - 1],
							cur = firsts[i];
				double		step = (cur < prev ? cur : cur - prev) + increases[i - 1];

				acc = acc + step;
				vf = base + acc;
			}
			vl = vf + increases[i];
		}
		seen = series_start ? counts[i] : seen + counts[i];
		if (tf >= mint_ms && tf <= maxt_ms)
		{
			t_out[o] = tf;
			v_out[o] = vf;
			raw_out[o] = firsts[i];
			n_out[o] = seen - counts[i] + 1;
			sid_out[o] = sids[i];
			o++;
		}
		if (tl != tf && tl >= mint_ms && tl <= maxt_ms)
		{
			t_out[o] = tl;
			v_out[o] = vl;
			raw_out[o] = lasts[i];
			n_out[o] = seen;
			sid_out[o] = sids[i];
			o++;
		}
	}
	return o;
}

/*
 * A range query's "result" array of a matrix (api.matrix_pieces, in C): series after series,
 *
 *     [{"metric":{...},"values":[[<time>,"<value>"],...]},...]
 *
 * from the series' openings (heads: `{"metric":{...},"values":[`, a comma before all but the
 * first), the present points' mask (rows x steps, in output order), each step's text before its
 * value as it follows a previous point (`"],[<time>,"`: a series' first point skips its first
 * three bytes) and the present values' texts as orjson wrote them in one array ("[1.5,2.0,...]").
 * A whole number's trailing ".0" is dropped, as Go writes it. A token orjson writes with an
 * exponent or as null (NaN, infinities) is Go's text only after api.fast_value: the caller
 * checks for none first, and the kernel answers -1 if one is there anyway. Returns the bytes
 * written, or -1 (a token it does not write), -2 (out_cap too small: nothing useful written).
 */
int64		promscale_matrix_json(const char *values, int64 values_len, const uint8 *mask, int64 n_rows,
								  int64 n_steps, const char *steps, const int64 *step_offsets,
								  const char *heads, const int64 *head_offsets, char *out, int64 out_cap);

#define APPEND(src, len) \
	do { \
		int64 len_ = (len); \
		if (o + len_ > out_cap) \
			return -2; \
		memcpy(out + o, (src), len_); \
		o += len_; \
	} while (0)

int64
promscale_matrix_json(const char *values, int64 values_len, const uint8 *mask, int64 n_rows,
					  int64 n_steps, const char *steps, const int64 *step_offsets,
					  const char *heads, const int64 *head_offsets, char *out, int64 out_cap)
{
	/* the bytes that end a value's token, and those it is refused for */
	static const char ends[] = ",]";
	static const char refused[] = "eEnNI";
	uint8		stop[256] = {0};
	int64		o = 0;
	int64		at = 1;			/* past the opening '[' of the values */

	for (const char *c = ends; *c; c++)
		stop[(uint8) *c] = 1;
	for (const char *c = refused; *c; c++)
		stop[(uint8) *c] = 2;
	APPEND("[", 1);
	for (int64 r = 0; r < n_rows; r++)
	{
		int64		skip = 3;	/* the series' first point: no `"],` before it */

		APPEND(heads + head_offsets[r], head_offsets[r + 1] - head_offsets[r]);
		for (int64 j = 0; j < n_steps; j++)
		{
			int64		end = at;
			int64		len;

			if (!mask[r * n_steps + j])
				continue;
			while (end < values_len && !stop[(uint8) values[end]])
				end++;
			if (end < values_len && stop[(uint8) values[end]] == 2)
				return -1;
			len = end - at;
			if (len >= 2 && values[end - 2] == '.' && values[end - 1] == '0')
				len -= 2;
			APPEND(steps + step_offsets[j] + skip, step_offsets[j + 1] - step_offsets[j] - skip);
			skip = 0;
			APPEND(values + at, len);
			at = end + 1;
		}
		APPEND("\"]]}", 4);
	}
	APPEND("]", 1);
	return o;
}

/*
 * _prom_catalog.query_kernels_library(): this library's file and its kernels' ABI version, for
 * kernels.py to open with ctypes (calling it also loads the library into the session).
 */
PG_FUNCTION_INFO_V1(query_kernels_library);

Datum
query_kernels_library(PG_FUNCTION_ARGS)
{
	Dl_info		info;

	if (dladdr((void *) promscale_matrix_json, &info) == 0 || info.dli_fname == NULL)
		ereport(ERROR, (errmsg("could not find the file of the promscale library")));
	PG_RETURN_TEXT_P(cstring_to_text(psprintf("%d %s", QUERY_KERNELS_ABI, info.dli_fname)));
}

/*
 * _prom_catalog.utf8_text(bytea): a response body written in Python (UTF-8) as text, without the
 * copies PL/Python makes of a returned str (four passes over a 24 MB body: ~40 ms). The bytes are
 * checked as UTF-8 (an invalid sequence or a NUL fails, as for any text input) and converted
 * when the database's encoding is another; in a UTF-8 database the bytea is the text.
 */
PG_FUNCTION_INFO_V1(utf8_text);

Datum
utf8_text(PG_FUNCTION_ARGS)
{
	bytea	   *body = PG_GETARG_BYTEA_P(0);	/* a 4-byte header: the same layout as a text's */
	char	   *data = VARDATA(body);
	int			len = VARSIZE(body) - VARHDRSZ;
	char	   *converted = pg_any_to_server(data, len, PG_UTF8);

	if (converted == data)
		PG_RETURN_TEXT_P((text *) body);
	PG_RETURN_TEXT_P(cstring_to_text(converted));
}
