import type { CommonQueryMethods } from 'slonik';

/** A connection, pool or transaction: repository functions take it first. */
export type Db = CommonQueryMethods;
