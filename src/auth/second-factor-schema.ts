/**
 * Two-factor sign-in in the schema: enrol, confirm, disable, the second step
 * of a login and `User.secondFactorEnabled`. Thin: the rules live in
 * second-factor.ts and accounts.ts.
 *
 * `login` keeps returning AuthPayload: a user with a second factor gets the
 * error SECOND_FACTOR_REQUIRED with `extensions.challenge`, which a client
 * that knows 2FA sends to `loginWithSecondFactor` with a code, and one that
 * does not shows as a refused sign-in.
 */
import { builder } from '../builder.ts';
import { isAdmin, requireViewer, type Context } from '../context.ts';
import type { IssuedSession } from './accounts.ts';
import { deviceTokenFromCookie, setDeviceCookie, setRefreshCookie } from './refresh-cookie.ts';
import { AuthPayload, boundOriginOf, originOf } from './schema.ts';

/** Hands a session to the client as `login` does: the refresh and device cookies with the payload. */
function handOver<T extends IssuedSession>(ctx: Context, issued: T): T {
  setRefreshCookie(ctx, issued.refreshToken, issued.refreshTokenExpiresAt);
  if (issued.device) setDeviceCookie(ctx, issued.device.token, issued.device.expiresAt);
  return issued;
}

const SecondFactorEnrolment = builder.objectRef<{ uri: string; secret: string }>('SecondFactorEnrolment').implement({
  description: 'A started enrolment: not in force until confirmSecondFactor.',
  fields: (t) => ({
    uri: t.exposeString('uri', { description: 'The otpauth://totp/ URI to show as a QR code for an authenticator app.' }),
    secret: t.exposeString('secret', { description: 'The same secret in base32, for typing into an app by hand.' }),
  }),
});

const SecondFactorConfirmation = builder.objectRef<{ recoveryCodes: string[]; session: IssuedSession | null }>('SecondFactorConfirmation').implement({
  fields: (t) => ({
    recoveryCodes: t.exposeStringList('recoveryCodes', {
      description: 'Ten one-time codes that stand in for the authenticator app at sign-in (and for disabling). Shown once: only their hashes are kept.',
    }),
    session: t.field({
      type: AuthPayload,
      nullable: true,
      description: 'When confirmed with an enrolment challenge (an admin signing in under ADMIN_REQUIRE_2FA): the session it starts. Else null.',
      resolve: (confirmation) => confirmation.session,
    }),
  }),
});

const SecondFactorLoginInput = builder.inputType('SecondFactorLoginInput', {
  fields: (t) => ({
    challenge: t.string({ required: true, description: 'extensions.challenge of the SECOND_FACTOR_REQUIRED error that login answered.' }),
    code: t.string({ required: true, description: 'The 6 digits the authenticator app shows, or an unused recovery code.' }),
    deviceToken: t.string({ description: 'The device token sent with that login (a browser\'s cookie is read when omitted).' }),
  }),
});

builder.prismaObjectField('User', 'secondFactorEnabled', (t) =>
  t.boolean({
    nullable: true,
    description: 'Whether this user signs in with a second factor: told to that user and to admins, null to everyone else.',
    resolve: async (user, _args, ctx) =>
      ctx.viewer && (ctx.viewer.userId === user.id || isAdmin(ctx.viewer)) ? ctx.app.secondFactor.enabled(user.id) : null,
  }),
);

builder.mutationFields((t) => ({
  loginWithSecondFactor: t.field({
    type: AuthPayload,
    description: 'The second step of a login that answered SECOND_FACTOR_REQUIRED. Failures count against the same budgets as wrong passwords.',
    args: { input: t.arg({ type: SecondFactorLoginInput, required: true }) },
    resolve: async (_root, { input }, ctx) => {
      const deviceToken = input.deviceToken ?? deviceTokenFromCookie(ctx);
      return handOver(ctx, await ctx.app.accounts.loginWithSecondFactor({ challenge: input.challenge, code: input.code, deviceToken }, await boundOriginOf(ctx)));
    },
  }),
  enrolSecondFactor: t.field({
    type: SecondFactorEnrolment,
    description:
      'Starts enrolling a TOTP second factor (replacing one not yet confirmed). Signed in, or with the challenge of a SECOND_FACTOR_ENROLMENT_REQUIRED login.',
    args: { challenge: t.arg.string() },
    resolve: (_root, { challenge }, ctx) =>
      ctx.app.secondFactor.enrol(challenge != null ? { challenge } : { userId: requireViewer(ctx).userId }, originOf(ctx)),
  }),
  confirmSecondFactor: t.field({
    type: SecondFactorConfirmation,
    description: 'Confirms the enrolment with a first code; from then on login asks for a code. With an enrolment challenge it also signs in (session).',
    args: { code: t.arg.string({ required: true }), challenge: t.arg.string(), deviceToken: t.arg.string() },
    resolve: async (_root, { code, challenge, deviceToken }, ctx) => {
      if (challenge != null) {
        const input = { challenge, code, deviceToken: deviceToken ?? deviceTokenFromCookie(ctx) };
        const issued = handOver(ctx, await ctx.app.accounts.confirmSecondFactorAtLogin(input, await boundOriginOf(ctx)));
        return { recoveryCodes: issued.recoveryCodes, session: issued };
      }
      const { recoveryCodes } = await ctx.app.secondFactor.confirm({ userId: requireViewer(ctx).userId }, code, originOf(ctx));
      return { recoveryCodes, session: null };
    },
  }),
  disableSecondFactor: t.boolean({
    description: 'Removes the second factor; needs a current code (or an unused recovery code). Attempts count against the login budgets.',
    args: { code: t.arg.string({ required: true }) },
    resolve: async (_root, { code }, ctx) => {
      await ctx.app.secondFactor.disable(requireViewer(ctx).userId, code, originOf(ctx));
      return true;
    },
  }),
}));
