/**
 * How a session starts: the password step, the second factor when the
 * account has one (or must enrol one), the device token each login hands
 * out, sign-in through the server's identity provider (OIDC), and binding
 * the new tokens to the DPoP key. The tokens it gets go to
 * client/session.ts through the `started` callback.
 */
import { ConfirmSecondFactorDocument, DisableSecondFactorDocument, EnrolSecondFactorDocument, LoginDocument, LoginWithSecondFactorDocument, RefreshDocument } from './documents.ts';
import type { AuthFieldsFragment } from './gql/graphql.ts';
import { deviceTokenFor, keepDeviceToken, type DeviceTokenStore } from './devices.ts';
import { withDpopFallback, type DpopKey, type DpopMode } from './dpop.ts';
import { GraphQLRequestError, secondFactorChallenge, type SecondFactorPrompt } from './errors.ts';
import type { HttpTransport, Request } from './transport.ts';

/** A login's answer: the session's tokens, and the device token when the server hands one out. */
type LoginAnswer = AuthFieldsFragment & { deviceToken?: string | null };

export interface SignInOptions {
  devices: DeviceTokenStore;
  dpop: DpopMode;
  /** The key the DPoP proofs are signed with (the transport's), named by an OIDC start. */
  dpopKey: DpopKey;
  secondFactor: SecondFactorPrompt | undefined;
}

/** The header a refresh spending the refresh cookie must carry (the server's CSRF_HEADER, src/core/codes.ts). */
const CSRF_HEADER = 'x-switchboard-csrf';

export class SignIn {
  /** The login waiting for its second step: the account (for its device token) and the challenge. */
  private pending: { account: string; challenge: string } | null = null;
  /** Whether the last password step went out bound (DPoP), so that its second step goes out bound too. */
  private bound = false;

  /** `started` adopts a new session's tokens and returns its user. */
  constructor(
    private readonly http: HttpTransport,
    private readonly request: Request,
    private readonly options: SignInOptions,
    private readonly started: (auth: AuthFieldsFragment) => AuthFieldsFragment['user'],
  ) {}

  async login(login: string, password: string, prompt: SecondFactorPrompt | undefined = this.options.secondFactor) {
    const account = login.trim().toLowerCase();
    const deviceToken = deviceTokenFor(this.options.devices, account);
    this.pending = null;
    let auth: LoginAnswer;
    try {
      auth = await this.passwordStep({ input: { login, password, deviceToken } });
    } catch (error) {
      const challenge = secondFactorChallenge(error);
      if (!challenge) throw error;
      this.pending = { account, challenge: challenge.challenge };
      if (challenge.enrolment || !prompt) throw error;
      return this.completeLogin(await prompt(challenge));
    }
    return this.adopt(auth, account);
  }

  async completeLogin(code: string, challenge = this.pending?.challenge) {
    if (!challenge) throw new GraphQLRequestError([{ message: 'No sign-in is waiting for a code: call login first.', extensions: { code: 'BAD_USER_INPUT' } }]);
    const account = this.pendingAccount(challenge);
    const deviceToken = deviceTokenFor(this.options.devices, account);
    // Bound like the password step when that one was (DPoP): the session's tokens carry the same key.
    const { loginWithSecondFactor: auth } = await this.http.post(LoginWithSecondFactorDocument, { input: { challenge, code, deviceToken } }, null, this.bound);
    return this.adopt(auth, account);
  }

  /**
   * Where to send the browser to sign in through the server's identity provider: `start` (its
   * `/auth/providers` entry) resolved against the endpoint, naming the DPoP key (`dpop_jkt`) unless `dpop`
   * is false. In 'auto' too: the start is a navigation, so a refusal for want of a key could only be told
   * after a trip, and the server accepts a bound sign-in whether it requires one or not.
   */
  async oidcStartUrl(start: string): Promise<string> {
    const url = new URL(start, this.http.url);
    if (this.options.dpop !== false) url.searchParams.set('dpop_jkt', await this.options.dpopKey.thumbprint());
    return url.href;
  }

  /**
   * After the provider sent the browser back (`#oidc=signed-in`): spends the refresh cookie the callback set
   * (the browser sends it, same origin only) with a proof of the key the start named, which is where
   * possession of the key is proven; the answer is the session.
   */
  async completeOidcSignIn() {
    const { refresh: auth } = await this.http.post(RefreshDocument, {}, null, this.options.dpop !== false, { [CSRF_HEADER]: '1' });
    return this.adopt(auth, null);
  }

  async enrolSecondFactor(challenge?: string) {
    return (await this.request(EnrolSecondFactorDocument, { challenge: challenge ?? null }, { auth: !challenge })).enrolSecondFactor;
  }

  async confirmSecondFactor(code: string, challenge?: string) {
    const account = this.pendingAccount(challenge);
    const deviceToken = deviceTokenFor(this.options.devices, account);
    const { confirmSecondFactor: result } = await this.request(ConfirmSecondFactorDocument, { code, challenge: challenge ?? null, deviceToken }, { auth: !challenge });
    const user = result.session ? this.adopt(result.session, account) : null;
    return { recoveryCodes: result.recoveryCodes, user };
  }

  async disableSecondFactor(code: string): Promise<void> {
    await this.request(DisableSecondFactorDocument, { code });
  }

  /** The account of the login waiting on `challenge`; null when this client did not start it. */
  private pendingAccount(challenge: string | undefined): string | null {
    return challenge && this.pending?.challenge === challenge ? this.pending.account : null;
  }

  /**
   * The password step: bound to the DPoP key when `dpop` is true, or in 'auto' when the server asks for it
   * (it refuses before it checks the password, so nothing is counted against the account).
   */
  private passwordStep(input: { input: { login: string; password: string; deviceToken: string | null } }): Promise<LoginAnswer> {
    return withDpopFallback(this.options.dpop, this.options.dpop === true, async (bind) => {
      // Noted before it is sent: a second step due after a bound password step must be bound too.
      this.bound = bind;
      return (await this.http.post(LoginDocument, input, null, bind)).login;
    });
  }

  /** Keeps a new session's device token and hands its tokens on. */
  private adopt(auth: LoginAnswer, account: string | null) {
    this.pending = null;
    keepDeviceToken(this.options.devices, account, auth);
    return this.started(auth);
  }
}
