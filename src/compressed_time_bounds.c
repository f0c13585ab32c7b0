/*
 * compressed_time_bounds.c: time filters on decoded compressed samples bound the compressed rows.
 *
 * The prom_metric views (sql/idempotent/030-metric-views.sql) read compressed samples as
 *
 *     FROM prom_data.compressed_sample cs
 *     CROSS JOIN LATERAL unnest(_prom_catalog.decode_times(cs.times), ...) AS x(t, b)
 *
 * and expose _prom_catalog.timestamptz_from_us(x.t) as their `time` column. PostgreSQL pushes a
 * filter such as `time > now() - interval '10 minutes'` down through the view into that branch,
 * where it becomes `timestamptz_from_us(x.t) > now() - ...`: a filter on decoded samples, applied
 * after every compressed row of the metric was read and decoded (PostgreSQL derives equalities
 * between expressions, never inequalities). Yet every compressed row satisfies
 *
 *     chunk_start <= min_time <= (each decoded time) <= max_time < chunk_start + span_max
 *
 * (span_max: _prom_catalog.get_compressed_row_span_max()), so a bound on the decoded times is a
 * bound on the row's columns. This planner hook adds those bounds while the query is planned:
 *
 *     time > X, time >= X, time = X   ->  max_time >= X (> for >), chunk_start > X - span_max
 *     time < X, time <= X, time = X   ->  min_time <= X (< for <), chunk_start <= X (< for <)
 *
 * chunk_start is the partition key: the planner prunes partitions at plan time (constant X) or at
 * executor startup (stable X such as now(), parameters), and the remaining rows are filtered on
 * min_time/max_time before anything is decoded.
 *
 * It runs from get_relation_info_hook, which the planner calls for prom_data.compressed_sample
 * while it plans the query level that reads it: after PostgreSQL pushed the filter down (through
 * views, subqueries, CTEs it inlined, UNION ALL) and before it distributes that level's WHERE
 * clause to relations. So only filters PostgreSQL itself could push reach it, and it only adds
 * clauses implied by others: without the library the answers are the same, just slower.
 *
 * The library is loaded through session_preload_libraries (set on the database by the install
 * script) or shared_preload_libraries; `SET promscale.compressed_time_bounds = off` disables it.
 */
#include "postgres.h"

#include "access/stratnum.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "nodes/pathnodes.h"
#include "optimizer/clauses.h"
#include "optimizer/optimizer.h"
#include "optimizer/plancat.h"
#include "optimizer/planmain.h"
#include "parser/parsetree.h"
#include "parser/parse_func.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

static bool bounds_enabled = true;
static get_relation_info_hook_type prev_get_relation_info_hook = NULL;

/* The objects of the promscale extension the hook recognises, looked up by name. */
typedef struct PromscaleObjects
{
	Oid			compressed_sample;	/* prom_data.compressed_sample */
	AttrNumber	chunk_start;
	AttrNumber	min_time;
	AttrNumber	max_time;
	AttrNumber	times;
	Oid			decode_times;	/* _prom_catalog.decode_times(bytea) */
	Oid			timestamptz_from_us;	/* _prom_catalog.timestamptz_from_us(bigint) */
	Oid			span_max;		/* _prom_catalog.get_compressed_row_span_max() */
} PromscaleObjects;

/* A column of a function RTE that holds decoded times of the compressed row being planned. */
typedef struct DecodedTimeColumn
{
	Index		rtindex;
	AttrNumber	attno;
} DecodedTimeColumn;

static Oid
lookup_function(const char *schema, const char *name, int nargs, const Oid *argtypes)
{
	return LookupFuncName(list_make2(makeString(pstrdup(schema)), makeString(pstrdup(name))),
						  nargs, argtypes, true);
}

static bool
lookup_promscale_objects(Oid relid, PromscaleObjects *objects)
{
	Oid			namespace = get_namespace_oid("prom_data", true);
	Oid			bytea_arg[1] = {BYTEAOID};
	Oid			int8_arg[1] = {INT8OID};

	if (!OidIsValid(namespace) || relid != get_relname_relid("compressed_sample", namespace))
		return false;
	objects->compressed_sample = relid;
	objects->chunk_start = get_attnum(relid, "chunk_start");
	objects->min_time = get_attnum(relid, "min_time");
	objects->max_time = get_attnum(relid, "max_time");
	objects->times = get_attnum(relid, "times");
	objects->decode_times = lookup_function("_prom_catalog", "decode_times", 1, bytea_arg);
	objects->timestamptz_from_us = lookup_function("_prom_catalog", "timestamptz_from_us", 1, int8_arg);
	objects->span_max = lookup_function("_prom_catalog", "get_compressed_row_span_max", 0, NULL);
	return objects->chunk_start != InvalidAttrNumber && objects->min_time != InvalidAttrNumber &&
		objects->max_time != InvalidAttrNumber && objects->times != InvalidAttrNumber &&
		OidIsValid(objects->decode_times) && OidIsValid(objects->timestamptz_from_us) &&
		OidIsValid(objects->span_max);
}

/*
 * The range table entries that every row of this query level comes from (not null-extended by
 * an outer join), and the WHERE/ON clauses that filter those rows: a row of `cs` whose decoded
 * times fail such a clause contributes nothing to the result.
 */
static void
collect_filtering_clauses(Node *jtnode, Relids *rels, List **clauses)
{
	if (jtnode == NULL)
		return;
	if (IsA(jtnode, RangeTblRef))
		*rels = bms_add_member(*rels, ((RangeTblRef *) jtnode)->rtindex);
	else if (IsA(jtnode, FromExpr))
	{
		FromExpr   *from = (FromExpr *) jtnode;
		ListCell   *lc;

		foreach(lc, from->fromlist)
			collect_filtering_clauses(lfirst(lc), rels, clauses);
		*clauses = list_concat(*clauses, (List *) from->quals);
	}
	else if (IsA(jtnode, JoinExpr))
	{
		JoinExpr   *join = (JoinExpr *) jtnode;

		switch (join->jointype)
		{
			case JOIN_INNER:
			case JOIN_SEMI:
				collect_filtering_clauses(join->larg, rels, clauses);
				if (join->jointype == JOIN_INNER)
					collect_filtering_clauses(join->rarg, rels, clauses);
				*clauses = list_concat(*clauses, (List *) join->quals);
				break;
			case JOIN_LEFT:
			case JOIN_ANTI:
				collect_filtering_clauses(join->larg, rels, clauses);
				break;
			case JOIN_RIGHT:
				collect_filtering_clauses(join->rarg, rels, clauses);
				break;
			default:
				break;			/* full joins null-extend both sides */
		}
	}
}

/* Columns `unnest(_prom_catalog.decode_times(cs.times))` of function RTEs of this query level. */
static List *
decoded_time_columns(PlannerInfo *root, Index cs_rtindex, Relids rels, const PromscaleObjects *objects)
{
	List	   *columns = NIL;
	int			rtindex = -1;

	while ((rtindex = bms_next_member(rels, rtindex)) >= 0)
	{
		RangeTblEntry *rte = planner_rt_fetch(rtindex, root);
		AttrNumber	first_column = 1;
		ListCell   *lc;

		if (rte == NULL || rte->rtekind != RTE_FUNCTION)
			continue;
		foreach(lc, rte->functions)
		{
			RangeTblFunction *rtfunc = lfirst_node(RangeTblFunction, lc);
			FuncExpr   *unnest = (FuncExpr *) rtfunc->funcexpr;
			FuncExpr   *decode;
			Var		   *times;

			if (IsA(unnest, FuncExpr) && unnest->funcid == F_UNNEST_ANYARRAY &&
				list_length(unnest->args) == 1 && IsA(linitial(unnest->args), FuncExpr))
			{
				decode = linitial_node(FuncExpr, unnest->args);
				times = list_length(decode->args) == 1 ? (Var *) linitial(decode->args) : NULL;
				if (decode->funcid == objects->decode_times && times != NULL && IsA(times, Var) &&
					times->varno == cs_rtindex && times->varattno == objects->times &&
					times->varlevelsup == 0)
				{
					DecodedTimeColumn *column = palloc(sizeof(DecodedTimeColumn));

					column->rtindex = rtindex;
					column->attno = first_column;
					columns = lappend(columns, column);
				}
			}
			first_column += rtfunc->funccolcount;
		}
	}
	return columns;
}

/* Is `node` _prom_catalog.timestamptz_from_us(<a decoded time column>)? */
static bool
is_decoded_time(Node *node, List *columns, const PromscaleObjects *objects)
{
	FuncExpr   *func = (FuncExpr *) node;
	Var		   *var;
	ListCell   *lc;

	if (!IsA(node, FuncExpr) || func->funcid != objects->timestamptz_from_us || list_length(func->args) != 1)
		return false;
	var = (Var *) linitial(func->args);
	if (!IsA(var, Var) || var->varlevelsup != 0)
		return false;
	foreach(lc, columns)
	{
		DecodedTimeColumn *column = lfirst(lc);

		if (var->varno == column->rtindex && var->varattno == column->attno)
			return true;
	}
	return false;
}

/* A bound the planner can evaluate before reading rows: no column of this level, nothing volatile. */
static bool
is_row_independent(Node *node)
{
	return !contain_var_clause(node) && !contain_volatile_functions(node) &&
		!contain_subplans(node) && !expression_returns_set(node);
}

static Expr *
compare(Oid opfamily, int strategy, Oid righttype, Index rtindex, AttrNumber column, Expr *bound)
{
	Oid			opno = get_opfamily_member(opfamily, TIMESTAMPTZOID, righttype, strategy);
	Expr	   *clause;

	if (!OidIsValid(opno))
		return NULL;
	clause = make_opclause(opno, BOOLOID, false,
						   (Expr *) makeVar(rtindex, column, TIMESTAMPTZOID, -1, InvalidOid, 0),
						   (Expr *) copyObject(bound), InvalidOid, InvalidOid);
	set_opfuncid((OpExpr *) clause);
	return clause;
}

/* `bound - span_max`, span_max evaluated now: see the comment of add_compressed_row_bounds. */
static Expr *
minus_span_max(PlannerInfo *root, Expr *bound, const PromscaleObjects *objects, Datum *span_max, bool *have_span)
{
	Expr	   *difference;

	if (!*have_span)
	{
		*span_max = OidFunctionCall0(objects->span_max);
		*have_span = true;
		record_plan_function_dependency(root, objects->span_max);
	}
	difference = make_opclause(OpernameGetOprid(list_make2(makeString("pg_catalog"), makeString("-")),
												TIMESTAMPTZOID, INTERVALOID),
							   TIMESTAMPTZOID, false, (Expr *) copyObject(bound),
							   (Expr *) makeConst(INTERVALOID, -1, InvalidOid, sizeof(Interval), *span_max, false, false),
							   InvalidOid, InvalidOid);
	set_opfuncid((OpExpr *) difference);
	return difference;
}

/*
 * Adds to this query level's WHERE clause the bounds on the row columns of `cs` implied by the
 * filters on its decoded times. The planner distributes them like any clause: partition pruning
 * on chunk_start, min_time/max_time as filters (or index conditions).
 *
 * span_max is evaluated while planning (a constant, so the chunk_start bound costs nothing per
 * row and plan-time pruning works for constant bounds); the plan depends on the getter function,
 * and prom_api.set_compressed_chunk_interval alters that function when the span grows, which
 * invalidates every cached plan that used the old value.
 */
static void
add_compressed_row_bounds(PlannerInfo *root, Index cs_rtindex, const PromscaleObjects *objects)
{
	Query	   *parse = root->parse;
	Relids		rels = NULL;
	List	   *clauses = NIL;
	List	   *columns;
	List	   *bounds = NIL;
	ListCell   *lc;
	Datum		span_max = (Datum) 0;
	bool		have_span = false;

	if (parse->jointree == NULL)
		return;
	collect_filtering_clauses((Node *) parse->jointree, &rels, &clauses);
	if (!bms_is_member(cs_rtindex, rels))
		return;
	columns = decoded_time_columns(root, cs_rtindex, rels, objects);
	if (columns == NIL)
		return;

	foreach(lc, clauses)
	{
		OpExpr	   *op = (OpExpr *) lfirst(lc);
		Oid			opno;
		Expr	   *bound;
		ListCell   *lc2;

		if (!IsA(op, OpExpr) || list_length(op->args) != 2)
			continue;
		if (is_decoded_time(linitial(op->args), columns, objects))
		{
			opno = op->opno;
			bound = lsecond(op->args);
		}
		else if (is_decoded_time(lsecond(op->args), columns, objects))
		{
			opno = get_commutator(op->opno);	/* X < time  is  time > X */
			bound = linitial(op->args);
		}
		else
			continue;
		if (!OidIsValid(opno) || !is_row_independent((Node *) bound))
			continue;

		foreach(lc2, get_op_btree_interpretation(opno))
		{
			OpBtreeInterpretation *how = lfirst(lc2);
			Oid			family = how->opfamily_id;
			Oid			righttype = how->oprighttype;
			int			strategy = how->strategy;
			bool		lower = strategy == BTGreaterStrategyNumber || strategy == BTGreaterEqualStrategyNumber ||
				strategy == BTEqualStrategyNumber;
			bool		upper = strategy == BTLessStrategyNumber || strategy == BTLessEqualStrategyNumber ||
				strategy == BTEqualStrategyNumber;
			Expr	   *clause;

			if (how->oplefttype != TIMESTAMPTZOID || !(lower || upper))
				continue;
			if (lower)
			{
				clause = compare(family, strategy == BTGreaterStrategyNumber ? BTGreaterStrategyNumber
								 : BTGreaterEqualStrategyNumber, righttype, cs_rtindex, objects->max_time, bound);
				if (clause)
					bounds = lappend(bounds, clause);
				/* chunk_start > bound - span_max needs timestamptz arithmetic on the bound */
				if (righttype == TIMESTAMPTZOID)
				{
					clause = compare(family, BTGreaterStrategyNumber, TIMESTAMPTZOID, cs_rtindex, objects->chunk_start,
									 minus_span_max(root, bound, objects, &span_max, &have_span));
					if (clause)
						bounds = lappend(bounds, clause);
				}
			}
			if (upper)
			{
				int			le = strategy == BTLessStrategyNumber ? BTLessStrategyNumber : BTLessEqualStrategyNumber;

				clause = compare(family, le, righttype, cs_rtindex, objects->min_time, bound);
				if (clause)
					bounds = lappend(bounds, clause);
				clause = compare(family, le, righttype, cs_rtindex, objects->chunk_start, bound);
				if (clause)
					bounds = lappend(bounds, clause);
			}
			break;
		}
	}
	if (bounds != NIL)
		parse->jointree->quals = (Node *) list_concat((List *) parse->jointree->quals, bounds);
}

static void
promscale_get_relation_info(PlannerInfo *root, Oid relationObjectId, bool inhparent, RelOptInfo *rel)
{
	PromscaleObjects objects;

	if (prev_get_relation_info_hook)
		prev_get_relation_info_hook(root, relationObjectId, inhparent, rel);
	/* partitions of compressed_sample are planned as its children: the parent's clauses cover them */
	if (bounds_enabled && rel->reloptkind == RELOPT_BASEREL &&
		lookup_promscale_objects(relationObjectId, &objects))
		add_compressed_row_bounds(root, rel->relid, &objects);
}

void
_PG_init(void)
{
	DefineCustomBoolVariable("promscale.compressed_time_bounds",
							 "Time filters on the prom_metric views skip compressed rows and partitions out of range.",
							 "Off: every compressed row of the metric is decoded, then filtered (same answers).",
							 &bounds_enabled, true, PGC_USERSET, 0, NULL, NULL, NULL);
	MarkGUCPrefixReserved("promscale");
	prev_get_relation_info_hook = get_relation_info_hook;
	get_relation_info_hook = promscale_get_relation_info;
}
