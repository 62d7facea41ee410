import type { ScenarioName } from '../lib/options.ts';
import { checkPermission } from './checkPermission.ts';
import { exchangeApiKey } from './exchangeApiKey.ts';
import { extAuthzCheck } from './extAuthzCheck.ts';
import { listUsers } from './listUsers.ts';
import { login, register } from './passwords.ts';
import { refresh } from './refresh.ts';
import type { Scenario } from './Scenario.ts';
import { scale } from './scale.ts';
import { tracing } from './tracing.ts';
import { twoInstances } from './twoInstances.ts';
import { validateApiKey, validateDistinct, validateRepeated } from './validateToken.ts';
import { verify } from './verify.ts';

/** Every scenario, in the order they run. */
export const SCENARIOS: Record<ScenarioName, Scenario> = {
  'validate-distinct': validateDistinct,
  'validate-repeated': validateRepeated,
  'validate-api-key': validateApiKey,
  'exchange-api-key': exchangeApiKey,
  login,
  register,
  refresh,
  'list-users': listUsers,
  'check-permission': checkPermission,
  'ext-authz-check': extAuthzCheck,
  verify,
  scale,
  'two-instances': twoInstances,
  tracing,
};
