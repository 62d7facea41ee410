import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Browser, type CDPSession, chromium, type Page } from 'playwright-core';

/** Debian's chromium (apt-get install chromium); CHROMIUM_PATH overrides. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** A WebAuthn credential as the DevTools protocol shows it (binary fields in base64). */
export interface VirtualCredential {
  credentialId: string;
  isResidentCredential: boolean;
  rpId?: string;
  privateKey: string;
  userHandle?: string;
  signCount: number;
}

/** A page on http://localhost:<port> with a virtual authenticator (CTAP2, internal, UV). */
export interface AuthenticatorPage {
  page: Page;
  cdp: CDPSession;
  authenticatorId: string;
  /** navigator.credentials.create() with Gatehouse's options_json; credential.toJSON() as text. */
  create(optionsJson: string): Promise<string>;
  /** navigator.credentials.get() with Gatehouse's options_json; credential.toJSON() as text. */
  get(optionsJson: string): Promise<string>;
  credentials(): Promise<VirtualCredential[]>;
  addCredential(credential: VirtualCredential): Promise<void>;
}

/**
 * The browser side of a ceremony, as source text (this project has no DOM types): parse
 * Gatehouse's options JSON with the WebAuthn Level 3 helpers, run it, relay credential.toJSON().
 */
function ceremony(kind: 'create' | 'get', optionsJson: string): string {
  const parse = kind === 'create' ? 'parseCreationOptionsFromJSON' : 'parseRequestOptionsFromJSON';
  return `(async () => {
    const publicKey = PublicKeyCredential.${parse}(JSON.parse(${JSON.stringify(optionsJson)}));
    const credential = await navigator.credentials.${kind}({ publicKey });
    return JSON.stringify(credential.toJSON());
  })()`;
}

/** A headless chromium and the localhost page server its authenticators run on. */
export interface PasskeyBrowser {
  /** The origin of the served page, e.g. http://localhost:41234 (the RP id is localhost). */
  origin: string;
  newAuthenticatorPage(): Promise<AuthenticatorPage>;
  close(): Promise<void>;
}

/**
 * Starts the page server and Debian's chromium. Fails (never skips) when chromium is missing,
 * saying how to install it: the passkey tests need a real authenticator.
 */
export async function startPasskeyBrowser(): Promise<PasskeyBrowser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(
      `the passkey tests need Debian's chromium at ${CHROMIUM_PATH} (or set CHROMIUM_PATH): ` +
        'install it with `apt-get update && apt-get install -y chromium` ' +
        '(CI installs it in scripts/setup-ci-services.sh)',
    );
  }
  const server: Server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end('<!doctype html><meta charset="utf-8"><title>Gatehouse passkeys test</title>');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://localhost:${(server.address() as AddressInfo).port}`;
  const browser: Browser = await chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  return {
    origin,
    async newAuthenticatorPage() {
      const context = await browser.newContext();
      const page = await context.newPage();
      await page.goto(`${origin}/`);
      const cdp = await page.context().newCDPSession(page);
      await cdp.send('WebAuthn.enable', { enableUI: false });
      const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
        options: {
          protocol: 'ctap2',
          transport: 'internal',
          hasResidentKey: true,
          hasUserVerification: true,
          isUserVerified: true,
          automaticPresenceSimulation: true,
        },
      });
      return {
        page,
        cdp,
        authenticatorId,
        create: (optionsJson) => page.evaluate<string>(ceremony('create', optionsJson)),
        get: (optionsJson) => page.evaluate<string>(ceremony('get', optionsJson)),
        async credentials() {
          const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
          return credentials as VirtualCredential[];
        },
        async addCredential(credential) {
          await cdp.send('WebAuthn.addCredential', { authenticatorId, credential });
        },
      };
    },
    async close() {
      await browser.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
