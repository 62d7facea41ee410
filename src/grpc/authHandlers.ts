import type { AuthService } from '../auth/createAuthService.ts';
import { invalidArgument } from '../errors/AppError.ts';
import type { AuthServiceServer } from '../gen/gatehouse/auth/v1/auth_service.ts';
import { MAX_ACCESS_TOKEN_LENGTH } from './bearerToken.ts';
import type { CallContext, UnaryHandlers } from './bindService.ts';
import { sessionToProto, tokensToProto, userToProto } from './toProto.ts';

const info = (ctx: CallContext) => ({
  clientIp: ctx.clientIp,
  userAgent: ctx.userAgent,
  requestId: ctx.requestId,
});

/** AuthService transport: translates messages to use-case calls and back. */
export function createAuthHandlers(auth: AuthService): UnaryHandlers<AuthServiceServer> {
  return {
    async register(req, ctx) {
      const { user, tokens } = await auth.register(
        {
          email: req.email,
          password: req.password,
          username: req.username,
          displayName: req.displayName,
        },
        info(ctx),
      );
      return { user: userToProto(user), tokens: tokensToProto(tokens) };
    },
    async login(req, ctx) {
      const { user, tokens } = await auth.login(
        { identifier: req.identifier, password: req.password },
        info(ctx),
      );
      return { user: userToProto(user), tokens: tokensToProto(tokens) };
    },
    async refresh(req, ctx) {
      return { tokens: tokensToProto(await auth.refresh(req.refreshToken, info(ctx))) };
    },
    async logout(req, ctx) {
      await auth.logout(
        { refreshToken: req.refreshToken, bearerToken: ctx.bearerToken },
        info(ctx),
      );
      return {};
    },
    async validateToken(req) {
      if (req.accessToken === '') {
        throw invalidArgument([
          { field: 'access_token', description: 'an access token is required' },
        ]);
      }
      // Longer than any token we issue: inactive, without decoding it.
      const v =
        req.accessToken.length > MAX_ACCESS_TOKEN_LENGTH
          ? null
          : await auth.validate(req.accessToken);
      if (v === null) {
        return {
          active: false,
          userId: '',
          sessionId: '',
          roles: [],
          tokenId: '',
          issuer: '',
          audience: [],
          scope: '',
        };
      }
      return {
        active: true,
        userId: v.userId,
        sessionId: v.sessionId,
        roles: v.roles,
        expiresAt: v.expiresAt,
        issuedAt: v.issuedAt,
        tokenId: v.tokenId,
        issuer: v.issuer,
        audience: v.audience,
        scope: '',
      };
    },
    async getJwks() {
      return { jwksJson: auth.deps.keys.jwks().json };
    },
    async getCurrentUser(_req, ctx) {
      return { user: userToProto(await auth.currentUser(await ctx.authenticate())) };
    },
    async changePassword(req, ctx) {
      const principal = await ctx.authenticate();
      const tokens = await auth.changePassword(
        principal,
        { currentPassword: req.currentPassword, newPassword: req.newPassword },
        info(ctx),
      );
      return { tokens: tokensToProto(tokens) };
    },
    async listSessions(req, ctx) {
      const principal = await ctx.authenticate();
      const page = await auth.listSessions(principal, {
        pageSize: req.pageSize,
        pageToken: req.pageToken,
      });
      return {
        sessions: page.sessions.map((s) => sessionToProto(s, principal.sessionId)),
        nextPageToken: page.nextPageToken,
      };
    },
    async revokeSession(req, ctx) {
      await auth.revokeSession(await ctx.authenticate(), req.sessionId, info(ctx));
      return {};
    },
    async revokeOtherSessions(_req, ctx) {
      return { revokedCount: await auth.revokeOtherSessions(await ctx.authenticate(), info(ctx)) };
    },
    async requestPasswordReset(req, ctx) {
      await auth.requestPasswordReset(req.email, info(ctx));
      return {};
    },
    async resetPassword(req, ctx) {
      await auth.resetPassword({ token: req.token, newPassword: req.newPassword }, info(ctx));
      return {};
    },
    async requestEmailVerification(_req, ctx) {
      await auth.requestEmailVerification(await ctx.authenticate(), info(ctx));
      return {};
    },
    async verifyEmail(req, ctx) {
      return { user: userToProto(await auth.verifyEmail(req.token, info(ctx))) };
    },
  };
}
