/*
 * label_matchers.c: the `label_ids ? matcher` operators of SQL users (docs/sql-api.md), written so
 * that they keep the GIN index on series labels behind the views' security barrier.
 *
 * The prom_series/prom_metric/rollup views are security barriers (sql/idempotent/030-metric-views.sql):
 * PostgreSQL pushes a caller's condition into them only when every function it applies to a column
 * is LEAKPROOF, so that nothing of another tenant's rows reaches a function of the caller's before
 * the views' visibility filter. The operators used to be SQL functions that PostgreSQL inlined into
 * `labels && <ids>`; arrayoverlap is not leakproof, so behind a barrier they would run above the
 * view, on every series of the metric, and never reach the index. Here instead:
 *
 *   - prom_api.label_ids_match(int[], matcher) is a LEAKPROOF C function (its answer depends on
 *     its arguments only; an invalid regex fails the same way for every row). It resolves the
 *     matcher to label ids once per call site (cached with the matcher it was computed for) and
 *     tests the overlap itself.
 *   - label_ids_match_support, its planner support function, turns `labels ? positive_matcher`
 *     into the index condition `labels && _prom_catalog.matcher_ids(matcher)` for an index whose
 *     operator family has &&: the GIN index, evaluated once per scan.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_operator_d.h"
#include "catalog/pg_type_d.h"
#include "executor/executor.h"
#include "fmgr.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "nodes/pathnodes.h"
#include "nodes/supportnodes.h"
#include "optimizer/optimizer.h"
#include "parser/parse_func.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

/* The matcher a call site last resolved, and its label ids, sorted (in the call site's fn_mcxt). */
typedef struct ResolvedMatcher
{
	text	   *key;
	text	   *pattern;
	bool		is_regex;
	int			nids;
	int32	   *ids;
} ResolvedMatcher;

static int
compare_int32(const void *a, const void *b)
{
	int32		x = *(const int32 *) a;
	int32		y = *(const int32 *) b;

	return (x > y) - (x < y);
}

static bool
same_text(const text *a, const text *b)
{
	return VARSIZE_ANY_EXHDR(a) == VARSIZE_ANY_EXHDR(b) &&
		memcmp(VARDATA_ANY(a), VARDATA_ANY(b), VARSIZE_ANY_EXHDR(a)) == 0;
}

/* _prom_catalog.matcher_label_ids(key, pattern, is_regex): the ids of the labels a matcher names. */
static Oid
label_ids_resolver(void)
{
	Oid			argtypes[3] = {TEXTOID, TEXTOID, BOOLOID};

	return LookupFuncName(list_make2(makeString("_prom_catalog"), makeString("matcher_label_ids")),
						  3, argtypes, false);
}

/* The label ids of the matcher (a prom_api.matcher_positive/negative value), resolved once per call
 * site for as long as the matcher stays the same (a constant, in every query written by hand). */
static ResolvedMatcher *
resolve_matcher(FunctionCallInfo fcinfo, HeapTupleHeader matcher)
{
	ResolvedMatcher *cached = (ResolvedMatcher *) fcinfo->flinfo->fn_extra;
	bool		isnull;
	Datum		key_datum = GetAttributeByNum(matcher, 1, &isnull);
	text	   *key = isnull ? NULL : DatumGetTextPP(key_datum);
	Datum		pattern_datum = GetAttributeByNum(matcher, 2, &isnull);
	text	   *pattern = isnull ? NULL : DatumGetTextPP(pattern_datum);
	Datum		regex_datum = GetAttributeByNum(matcher, 3, &isnull);
	bool		is_regex = !isnull && DatumGetBool(regex_datum);
	MemoryContext old;
	ArrayType  *ids;
	Datum	   *elems;
	bool	   *nulls;
	int			nelems;

	if (key == NULL || pattern == NULL)
		ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
						errmsg("a label matcher needs a label name and a value or pattern")));
	if (cached != NULL && cached->is_regex == is_regex && same_text(cached->key, key) &&
		same_text(cached->pattern, pattern))
		return cached;

	ids = DatumGetArrayTypeP(OidFunctionCall3(label_ids_resolver(), PointerGetDatum(key),
											  PointerGetDatum(pattern), BoolGetDatum(is_regex)));
	deconstruct_array(ids, INT4OID, sizeof(int32), true, TYPALIGN_INT, &elems, &nulls, &nelems);

	old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);
	if (cached == NULL)
		cached = palloc0(sizeof(ResolvedMatcher));
	else
	{
		pfree(cached->key);
		pfree(cached->pattern);
		if (cached->ids)
			pfree(cached->ids);
	}
	cached->key = (text *) PG_DETOAST_DATUM_COPY(PointerGetDatum(key));
	cached->pattern = (text *) PG_DETOAST_DATUM_COPY(PointerGetDatum(pattern));
	cached->is_regex = is_regex;
	cached->ids = palloc(sizeof(int32) * Max(nelems, 1));
	cached->nids = 0;
	for (int i = 0; i < nelems; i++)
		if (!nulls[i])
			cached->ids[cached->nids++] = DatumGetInt32(elems[i]);
	MemoryContextSwitchTo(old);
	qsort(cached->ids, cached->nids, sizeof(int32), compare_int32);
	fcinfo->flinfo->fn_extra = cached;
	return cached;
}

/* Does the label set hold one of the matcher's labels (arrayoverlap's answer for int[])? */
static bool
holds_a_matching_label(FunctionCallInfo fcinfo)
{
	ArrayType  *labels = PG_GETARG_ARRAYTYPE_P(0);
	ResolvedMatcher *resolved = resolve_matcher(fcinfo, PG_GETARG_HEAPTUPLEHEADER(1));
	Datum	   *elems;
	bool	   *nulls;
	int			nelems;

	if (ARR_ELEMTYPE(labels) != INT4OID)
		ereport(ERROR, (errcode(ERRCODE_DATATYPE_MISMATCH), errmsg("label ids must be an int[]")));
	deconstruct_array(labels, INT4OID, sizeof(int32), true, TYPALIGN_INT, &elems, &nulls, &nelems);
	for (int i = 0; i < nelems; i++)
	{
		int32		id;

		if (nulls[i])
			continue;
		id = DatumGetInt32(elems[i]);
		if (bsearch(&id, resolved->ids, resolved->nids, sizeof(int32), compare_int32) != NULL)
			return true;
	}
	return false;
}

PG_FUNCTION_INFO_V1(label_ids_match_positive);
Datum
label_ids_match_positive(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(holds_a_matching_label(fcinfo));
}

PG_FUNCTION_INFO_V1(label_ids_match_negative);
Datum
label_ids_match_negative(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(!holds_a_matching_label(fcinfo));
}

/*
 * `labels ? positive_matcher` as an index condition: `labels && _prom_catalog.matcher_ids(matcher)`,
 * exactly equivalent (not lossy), for an index column whose operator family has && (GIN array_ops),
 * when the matcher can be computed before the scan (nothing volatile, no column of the scanned table).
 */
PG_FUNCTION_INFO_V1(label_ids_match_support);
Datum
label_ids_match_support(PG_FUNCTION_ARGS)
{
	Node	   *rawreq = (Node *) PG_GETARG_POINTER(0);
	SupportRequestIndexCondition *req;
	List	   *args;
	Node	   *matcher;
	Oid			matcher_type;
	Oid			ids_function;
	Expr	   *ids;

	if (!IsA(rawreq, SupportRequestIndexCondition))
		PG_RETURN_POINTER(NULL);
	req = (SupportRequestIndexCondition *) rawreq;
	if (is_funcclause(req->node))
		args = ((FuncExpr *) req->node)->args;
	else if (is_opclause(req->node))
		args = ((OpExpr *) req->node)->args;
	else
		PG_RETURN_POINTER(NULL);
	if (req->indexarg != 0 || list_length(args) != 2 || !op_in_opfamily(OID_ARRAY_OVERLAP_OP, req->opfamily))
		PG_RETURN_POINTER(NULL);

	matcher = lsecond(args);
	if (contain_volatile_functions(matcher) ||
		bms_is_member(req->index->rel->relid, pull_varnos(req->root, matcher)))
		PG_RETURN_POINTER(NULL);
	matcher_type = exprType(matcher);
	ids_function = LookupFuncName(list_make2(makeString("_prom_catalog"), makeString("matcher_ids")),
								  1, &matcher_type, true);
	if (!OidIsValid(ids_function))
		PG_RETURN_POINTER(NULL);

	ids = (Expr *) makeFuncExpr(ids_function, INT4ARRAYOID, list_make1(copyObject(matcher)),
								InvalidOid, InvalidOid, COERCE_EXPLICIT_CALL);
	req->lossy = false;
	PG_RETURN_POINTER(list_make1(make_opclause(OID_ARRAY_OVERLAP_OP, BOOLOID, false,
											   (Expr *) copyObject(linitial(args)), ids,
											   InvalidOid, InvalidOid)));
}
