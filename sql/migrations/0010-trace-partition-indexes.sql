-- Indexes of the trace tables belong to each partition, not to the partitioned parents: a
-- parent's index is copied onto every partition, pg_dump dumps that copy with the partition,
-- and pg_restore (whose CREATE EXTENSION already made the parent's index) would create it a
-- second time and fail. Partitions made from now on get their own (400-trace-chunks.sql);
-- this gives the existing ones theirs.
ALTER TABLE _ps_trace.span DROP CONSTRAINT span_pkey;
DROP INDEX _ps_trace.span_operation_start_idx;
DROP INDEX _ps_trace.event_span_idx;
DROP INDEX _ps_trace.link_span_idx;
DECLARE
    chunk_id bigint;
BEGIN
    FOR chunk_id IN SELECT c.id FROM _ps_trace.chunk c LOOP
        EXECUTE format('ALTER TABLE _ps_trace.%I ADD PRIMARY KEY (trace_id, span_id, start_time)', 'span_' || chunk_id);
        EXECUTE format('CREATE INDEX ON _ps_trace.%I (operation_id, start_time)', 'span_' || chunk_id);
        EXECUTE format('CREATE INDEX ON _ps_trace.%I (trace_id, span_id)', 'event_' || chunk_id);
        EXECUTE format('CREATE INDEX ON _ps_trace.%I (trace_id, span_id)', 'link_' || chunk_id);
    END LOOP;
END;
