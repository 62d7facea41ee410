import { createSqlTag } from 'slonik';
import { z } from 'zod';

/** The project's sql tag: `sql.typeAlias('void')` for statements whose rows are not read. */
export const sql = createSqlTag({
  typeAliases: {
    void: z.object({}).loose(),
  },
});
