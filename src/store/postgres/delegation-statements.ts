/**
 * The statements of the PostgreSQL delegation log (`postgres-delegation-log.ts`): children's
 * records, their caps counted in the database, and each tree's spend against its budget. `{s}`
 * stands for the store's quoted schema, as in `statements.ts`, which joins them to the rest.
 *
 * @packageDocumentation
 */
export const DELEGATION_SQL = {
  /** Params: id, parent_session_id, record. */
  insertDelegation: `INSERT INTO {s}.delegations (id, parent_session_id, record) VALUES ($1, $2, $3)
    ON CONFLICT DO NOTHING`,
  /** Serialises fan-outs across processes. Param: the lock's name. */
  lockDelegations: "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
  /**
   * A fan-out, if the caps hold it (run after `lockDelegations`, in its transaction). Params: ids,
   * parent, records, running max, per-parent running max.
   */
  reserveDelegations: `INSERT INTO {s}.delegations (id, parent_session_id, record)
    SELECT id, $2, record FROM unnest($1::text[], $3::text[]) AS r(id, record)
    WHERE (SELECT count(*) FROM {s}.delegations WHERE completion IS NULL) + cardinality($1::text[]) <= $4
      AND (SELECT count(*) FROM {s}.delegations WHERE completion IS NULL AND parent_session_id = $2)
        + cardinality($1::text[]) <= $5
    ON CONFLICT DO NOTHING RETURNING id`,
  /** Running children, in total and under a parent. Param: parent. */
  runningDelegations: `SELECT count(*)::int AS total,
      (count(*) FILTER (WHERE parent_session_id = $1))::int AS mine
    FROM {s}.delegations WHERE completion IS NULL`,
  /** Written once. Params: id, completion, delivery, reason, input. */
  completeDelegation: `UPDATE {s}.delegations
    SET completion = $2, delivery = $3, delivery_reason = $4, delivery_input_id = $5
    WHERE id = $1 AND completion IS NULL RETURNING id`,
  /** Params: id, delivery, reason, input. */
  setDelivery: `UPDATE {s}.delegations SET delivery = $2, delivery_reason = $3, delivery_input_id = $4
    WHERE id = $1 AND completion IS NOT NULL`,
  delegationById: "SELECT * FROM {s}.delegations WHERE id = $1",
  allDelegations: "SELECT * FROM {s}.delegations ORDER BY ord",
  delegationsOfParent: "SELECT * FROM {s}.delegations WHERE parent_session_id = $1 ORDER BY ord",
  deleteDelegations: "DELETE FROM {s}.delegations WHERE id = ANY($1::text[])",
  spendOf: "SELECT model_calls, tokens FROM {s}.delegation_spend WHERE root_session_id = $1",
  /** Adds to a tree's tokens. Params: root_session_id, tokens. */
  chargeTokens: `INSERT INTO {s}.delegation_spend AS t (root_session_id, model_calls, tokens) VALUES ($1, 0, $2)
    ON CONFLICT (root_session_id) DO UPDATE SET tokens = t.tokens + excluded.tokens
    RETURNING model_calls, tokens`,
  /**
   * Counts one model call of a tree while its account is under the budget (the kernel's
   * `budgetVerdict`), in one statement: no row when refused. Params: root_session_id, calls max,
   * tokens max (null: unbounded).
   */
  admitCall: `INSERT INTO {s}.delegation_spend AS t (root_session_id, model_calls, tokens)
    SELECT $1, 1, 0 WHERE ($2::int IS NULL OR $2::int > 0) AND ($3::bigint IS NULL OR $3::bigint > 0)
    ON CONFLICT (root_session_id) DO UPDATE SET model_calls = t.model_calls + 1
      WHERE ($2::int IS NULL OR t.model_calls < $2::int) AND ($3::bigint IS NULL OR t.tokens < $3::bigint)
    RETURNING model_calls, tokens`,
} as const;
