import { z } from 'zod';

/**
 * A boolean environment variable: true/false, 1/0, yes/no, on/off, y/n, enabled/disabled
 * (any case), through zod's own parser. The one definition config, mail and cleanup share.
 */
export const envBool = z.stringbool({
  error: 'expected true or false (also 1/0, yes/no, on/off)',
});
