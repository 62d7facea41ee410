import { requireSecondFactorProof } from '../auth/checkSecondFactor.ts';
import type { AuthService } from '../auth/createAuthService.ts';
import { sessionIdOf } from '../auth/Principal.ts';
import type { MfaMethodName } from '../domain/SecondFactor.ts';
import { invalidArgument } from '../errors/AppError.ts';
import { type AuthServiceServer, MfaMethod } from '../gen/gatehouse/auth/v1/auth_service.ts';
import type { RevocationService } from '../revocations/createRevocationService.ts';
import { MAX_ACCESS_TOKEN_LENGTH } from './bearerToken.ts';
import type { UnaryHandlers } from './bindService.ts';
import { revocationItemToProto } from './revocationToProto.ts';
import {
  introspectionToProto,
  passkeyToProto,
  sessionToProto,
  tokensToProto,
  userToProto,
} from './toProto.ts';

const MFA_METHOD: Record<MfaMethodName, MfaMethod> = {
  totp: MfaMethod.MFA_METHOD_TOTP,
  recovery_code: MfaMethod.MFA_METHOD_RECOVERY_CODE,
  passkey: MfaMethod.MFA_METHOD_PASSKEY,
};

/**
 * AuthService transport: translates messages to use-case calls and back. Who may call, the
 * principal and the budgets come from each RPC's call policy, through `ctx`.
 */
export function createAuthHandlers(
  auth: AuthService,
  revocations: RevocationService,
): UnaryHandlers<AuthServiceServer> {
  return {
    watchRevocations(req, ctx, stream) {
      return revocations.watch(req.afterCursor, ctx.signal, (item) =>
        stream.write(revocationItemToProto(item)),
      );
    },
    async register(req, ctx) {
      const { user, tokens } = await auth.register(
        {
          email: req.email,
          password: req.password,
          username: req.username,
          displayName: req.displayName,
          invitationToken: req.invitationToken,
        },
        ctx.info,
        ctx.admitAccount,
      );
      return { user: userToProto(user), tokens: tokensToProto(tokens) };
    },
    async login(req, ctx) {
      const result = await auth.login(
        { identifier: req.identifier, password: req.password, organizationId: req.organizationId },
        ctx.info,
        ctx.admitAccount,
      );
      if (result.kind === 'mfa_required') {
        return {
          mfaRequired: {
            challengeToken: result.challengeToken,
            methods: result.methods.map((m) => MFA_METHOD[m]),
            expiresAt: result.expiresAt,
          },
        };
      }
      return { user: userToProto(result.user), tokens: tokensToProto(result.tokens) };
    },
    async completeMfaLogin(req, ctx) {
      const { user, tokens } = await auth.completeMfaLogin(
        { challengeToken: req.challengeToken, factor: req.factor },
        ctx.info,
        ctx.admitAccount,
      );
      return { user: userToProto(user), tokens: tokensToProto(tokens) };
    },
    async startTotpEnrollment(_req, ctx) {
      return auth.startTotpEnrollment(ctx.principal, ctx.info);
    },
    async confirmTotpEnrollment(req, ctx) {
      return auth.confirmTotpEnrollment(ctx.principal, req.code, ctx.info, ctx.admitAccount);
    },
    async reauthenticate(req, ctx) {
      const r = await auth.reauthenticate(
        ctx.principal,
        { password: req.password, factor: req.factor },
        ctx.info,
        ctx.admitAccount,
      );
      return {
        accessToken: r.accessToken,
        accessTokenExpiresAt: r.accessTokenExpiresAt,
        tokenType: 'Bearer',
        amr: [...r.amr],
        authTime: r.authTime,
      };
    },
    async startReauthenticationPasskey(_req, ctx) {
      return auth.startReauthenticationPasskey(ctx.principal, ctx.info);
    },
    async disableTotp(req, ctx) {
      const proof = requireSecondFactorProof(req.factor);
      await auth.disableTotp(ctx.principal, proof, ctx.info, ctx.admitAccount);
      return {};
    },
    async regenerateRecoveryCodes(req, ctx) {
      const proof = requireSecondFactorProof(req.factor);
      return auth.regenerateRecoveryCodes(ctx.principal, proof, ctx.info, ctx.admitAccount);
    },
    async listAuthFactors(_req, ctx) {
      const f = await auth.listAuthFactors(ctx.principal);
      return {
        totp: {
          enrolled: f.totp.enrolled,
          ...(f.totp.confirmedAt === null ? {} : { confirmedAt: f.totp.confirmedAt }),
          enrollmentPending: f.totp.enrollmentPending,
        },
        recoveryCodesRemaining: f.recoveryCodesRemaining,
        passkeys: f.passkeys.map(passkeyToProto),
      };
    },
    async startPasskeyRegistration(_req, ctx) {
      return auth.startPasskeyRegistration(ctx.principal, ctx.info);
    },
    async finishPasskeyRegistration(req, ctx) {
      const passkey = await auth.finishPasskeyRegistration(
        ctx.principal,
        { responseJson: req.responseJson, displayName: req.displayName },
        ctx.info,
        ctx.admitAccount,
      );
      return { passkey: passkeyToProto(passkey) };
    },
    async listPasskeys(_req, ctx) {
      return { passkeys: (await auth.listPasskeys(ctx.principal)).map(passkeyToProto) };
    },
    async renamePasskey(req, ctx) {
      const passkey = await auth.renamePasskey(
        ctx.principal,
        { passkeyId: req.passkeyId, displayName: req.displayName },
        ctx.info,
      );
      return { passkey: passkeyToProto(passkey) };
    },
    async deletePasskey(req, ctx) {
      await auth.deletePasskey(ctx.principal, req.passkeyId, ctx.info);
      return {};
    },
    async startPasskeyLogin(req, ctx) {
      return auth.startPasskeyLogin(req.identifier, ctx.info, ctx.admitAccount);
    },
    async finishPasskeyLogin(req, ctx) {
      const { user, tokens } = await auth.finishPasskeyLogin(
        { challengeId: req.challengeId, responseJson: req.responseJson },
        ctx.info,
        ctx.admitAccount,
      );
      return { user: userToProto(user), tokens: tokensToProto(tokens) };
    },
    async startMfaPasskey(req, ctx) {
      return auth.startMfaPasskey(req.challengeToken, ctx.info, ctx.admitAccount);
    },
    async refresh(req, ctx) {
      const tokens = await auth.refresh(req.refreshToken, ctx.info, ctx.admitAccount);
      return { tokens: tokensToProto(tokens) };
    },
    async logout(req, ctx) {
      await auth.logout({ refreshToken: req.refreshToken, bearerToken: ctx.bearerToken }, ctx.info);
      return {};
    },
    async validateToken(req, ctx) {
      if (req.accessToken === '') {
        throw invalidArgument([
          { field: 'access_token', description: 'an access token is required' },
        ]);
      }
      // Longer than any token we issue: inactive, without decoding it.
      const v =
        req.accessToken.length > MAX_ACCESS_TOKEN_LENGTH
          ? null
          : await auth.validate(req.accessToken, ctx.info);
      return introspectionToProto(v);
    },
    async exchangeApiKey(_req, ctx) {
      const t = await auth.exchangeApiKey(ctx.principal, ctx.info);
      return { accessToken: t.accessToken, expireTime: t.expiresAt, tokenType: 'Bearer' };
    },
    async getJwks() {
      return { jwksJson: auth.jwks() };
    },
    async getCurrentUser(_req, ctx) {
      return { user: userToProto(await auth.currentUser(ctx.principal)) };
    },
    async changePassword(req, ctx) {
      const tokens = await auth.changePassword(
        ctx.principal,
        { currentPassword: req.currentPassword, newPassword: req.newPassword },
        ctx.info,
        ctx.admitAccount,
      );
      return { tokens: tokensToProto(tokens) };
    },
    async listSessions(req, ctx) {
      const principal = ctx.principal;
      const page = await auth.listSessions(principal, {
        pageSize: req.pageSize,
        pageToken: req.pageToken,
      });
      return {
        sessions: page.sessions.map((s) => sessionToProto(s, sessionIdOf(principal))),
        nextPageToken: page.nextPageToken,
      };
    },
    async revokeSession(req, ctx) {
      await auth.revokeSession(ctx.principal, req.sessionId, ctx.info);
      return {};
    },
    async revokeOtherSessions(_req, ctx) {
      return { revokedCount: await auth.revokeOtherSessions(ctx.principal, ctx.info) };
    },
    async requestPasswordReset(req, ctx) {
      await auth.requestPasswordReset(req.email, ctx.info, ctx.admitAccount);
      return {};
    },
    async resetPassword(req, ctx) {
      await auth.resetPassword({ token: req.token, newPassword: req.newPassword }, ctx.info);
      return {};
    },
    async requestEmailVerification(_req, ctx) {
      await auth.requestEmailVerification(ctx.principal, ctx.info, ctx.admitAccount);
      return {};
    },
    async verifyEmail(req, ctx) {
      return { user: userToProto(await auth.verifyEmail(req.token, ctx.info)) };
    },
    async switchOrganization(req, ctx) {
      const t = await auth.switchOrganization(ctx.principal, req.organizationId, ctx.info);
      return {
        accessToken: t.accessToken,
        accessTokenExpiresAt: t.accessTokenExpiresAt,
        tokenType: 'Bearer',
        organizationId: t.organization?.id ?? '',
        organizationRoles: [...(t.organization?.roles ?? [])],
      };
    },
    async listMyOrganizations(_req, ctx) {
      const { organizations, truncated } = await auth.listMyOrganizations(ctx.principal);
      return {
        organizations: organizations.map((o) => ({
          organizationId: o.organizationId,
          slug: o.slug,
          displayName: o.displayName,
          roles: o.roleNames,
        })),
        truncated,
      };
    },
    async acceptInvitation(req, ctx) {
      const { organization, token } = await auth.acceptInvitation(
        ctx.principal,
        req.token,
        ctx.info,
      );
      return {
        organizationId: organization.id,
        membershipId: organization.membershipId,
        organizationRoles: organization.roles,
        accessToken: token.accessToken,
        accessTokenExpiresAt: token.accessTokenExpiresAt,
        tokenType: 'Bearer',
      };
    },
  };
}
