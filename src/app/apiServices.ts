import type { ServiceDefinition } from '@grpc/grpc-js';
import type { Config } from '../config.ts';
import { OrganizationAdminServiceService } from '../gen/gatehouse/admin/v1/organization_admin_service.ts';
import { ServiceAccountAdminServiceService } from '../gen/gatehouse/admin/v1/service_account_admin_service.ts';
import { UserAdminServiceService } from '../gen/gatehouse/admin/v1/user_admin_service.ts';
import { WebhookAdminServiceService } from '../gen/gatehouse/admin/v1/webhook_admin_service.ts';
import { ApiKeyServiceService } from '../gen/gatehouse/auth/v1/api_key_service.ts';
import { AuthServiceService } from '../gen/gatehouse/auth/v1/auth_service.ts';
import { AuthorizationServiceService } from '../gen/gatehouse/authz/v1/authorization_service.ts';
import { createAdminHandlers } from '../grpc/adminHandlers.ts';
import { createApiKeyHandlers } from '../grpc/apiKeyHandlers.ts';
import { createAuthHandlers } from '../grpc/authHandlers.ts';
import { createAuthorizationHandlers } from '../grpc/authorizationHandlers.ts';
import { createClientAddressResolver } from '../grpc/clientAddress.ts';
import { createOrganizationAdminHandlers } from '../grpc/organizationAdminHandlers.ts';
import { createServiceAccountAdminHandlers } from '../grpc/serviceAccountAdminHandlers.ts';
import { createWebhookAdminHandlers } from '../grpc/webhookAdminHandlers.ts';
import type { Logger } from '../log.ts';
import type { API_SERVICES } from '../policy/loadMethodPolicies.ts';
import type { BindDeps } from '../transport/beginCall.ts';
import type { Services } from './createServices.ts';
import type { GrpcServerDeps } from './startGrpcServer.ts';

/** An API service: its ts-proto definition and the handlers every transport binds. */
export interface ApiService {
  typeName: (typeof API_SERVICES)[number];
  definition: ServiceDefinition;
  handlers: object;
}

/** The API services, each with its handlers: what the gRPC and the Connect listener serve. */
export function apiServices(services: Services): ApiService[] {
  return [
    {
      typeName: 'gatehouse.auth.v1.AuthService',
      definition: AuthServiceService,
      handlers: createAuthHandlers(services.auth, services.revocations),
    },
    {
      typeName: 'gatehouse.auth.v1.ApiKeyService',
      definition: ApiKeyServiceService,
      handlers: createApiKeyHandlers(services.apiKeys),
    },
    {
      typeName: 'gatehouse.admin.v1.UserAdminService',
      definition: UserAdminServiceService,
      handlers: createAdminHandlers(services.admin),
    },
    {
      typeName: 'gatehouse.admin.v1.ServiceAccountAdminService',
      definition: ServiceAccountAdminServiceService,
      handlers: createServiceAccountAdminHandlers(services.serviceAccounts),
    },
    {
      typeName: 'gatehouse.admin.v1.OrganizationAdminService',
      definition: OrganizationAdminServiceService,
      handlers: createOrganizationAdminHandlers(services.organizations),
    },
    {
      typeName: 'gatehouse.authz.v1.AuthorizationService',
      definition: AuthorizationServiceService,
      handlers: createAuthorizationHandlers(services.authorization),
    },
    {
      typeName: 'gatehouse.admin.v1.WebhookAdminService',
      definition: WebhookAdminServiceService,
      handlers: createWebhookAdminHandlers(services.webhooks),
    },
  ];
}

/** `Login` of `/gatehouse.auth.v1.AuthService/Login` (the metrics label). */
export const methodName = (path: string) => path.slice(path.lastIndexOf('/') + 1);

/** What every binding shares: the policy chain's dependencies, client addresses, metrics. */
export function createBindDeps(config: Config, log: Logger, deps: GrpcServerDeps): BindDeps {
  const { services, metrics } = deps;
  return {
    log,
    clientAddress: createClientAddressResolver(config.trustedProxies),
    policies: deps.policies,
    chain: {
      accepting: deps.accepting,
      limits: services.limits,
      verifyBearer: (token, info) => services.auth.authenticate(token, info),
      pool: deps.pool,
      permissions: deps.permissions,
      mfaEnrollment: services.mfaEnrollment,
      reauthenticationWindowSec: services.reauthenticationWindowSec,
    },
    shutdown: deps.shutdown,
    onCallEnd(method, code, durationMs) {
      const name = methodName(method);
      metrics.rpcTotal.inc({ method: name, code: String(code) });
      metrics.rpcDuration.observe({ method: name }, durationMs / 1000);
    },
  };
}
