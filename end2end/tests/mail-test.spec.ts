import { test, expect } from "../support/fixtures";
import { adminEnvOf, assertLogClean, googleEnv, startServer, stopServer, type RunningServer } from "../support/server";
import { registerClient, startKit, type Kit } from "../support/peers";
import { hydrated, signIn, uniq, type At } from "../support/helpers";
import { addMailAccount, createApplication, newServer } from "../support/pages";

// Mailbridge pointed at the whole peers kit: its OAuth server as "Google", its Dovecot and
// Postfix as the mail servers, its private CA trusted through MAILBRIDGE_CA_FILE.
let kit: Kit;
let server: RunningServer;
const admin = { email: "test-admin@example.test", password: "test admin password" };

test.beforeAll(async () => {
  kit = await startKit();
  server = await startServer({
    env: {
      ...adminEnvOf(admin),
      ...googleEnv(kit.env.PEERS_ISSUER),
      MAILBRIDGE_CA_FILE: kit.env.PEERS_CA,
      MAILBRIDGE_MAIL_TIMEOUT_SECS: "5",
    },
  });
});

const secrets: string[] = [];

test.afterAll(async () => {
  await stopServer(server);
  // Nothing the provider issued or the admin pasted may be in the log of the whole run.
  assertLogClean(server, secrets);
  kit.stop();
});

// The helpers drive this spec's own server.
const at = (): At => ({ origin: server.url });

test("after linking, Run test shows IMAP and SMTP passing; after revocation, the failure and Authorize again", async ({ page }) => {
  const appName = `Kit ${uniq()}`;
  const subject = `Kit mail ${uniq()}`;
  const mailbox = `carol-${uniq()}@example.test`;

  await signIn(page, admin.email, admin.password, at());

  const redirectUri = await createApplication(page, appName, at());
  const reg = await registerClient(kit.env.PEERS_ISSUER, redirectUri);
  secrets.push(reg.client_secret);

  await newServer(page, { subject, provider: "Google", clientId: reg.client_id, clientSecret: reg.client_secret, redirect: appName }, at());
  await page.getByLabel("IMAP host").fill("127.0.0.1");
  await page.getByLabel("IMAP port").fill(kit.env.PEERS_IMAPS_PORT);
  await page.getByLabel("SMTP host").fill("127.0.0.1");
  await page.getByLabel("SMTP port").fill(kit.env.PEERS_SMTP_STARTTLS_PORT);
  await page.getByLabel("SMTP encryption").selectOption("STARTTLS");
  await page.getByRole("button", { name: "Save" }).click();
  await page.waitForURL(/\/mail-servers$/);

  await addMailAccount(page, subject, mailbox, at());
  await page.locator(`#mail-accounts-table tr[data-login="${mailbox}"]`).getByRole("button", { name: "Authorize" }).click();
  await page.waitForURL(/\/oauth\/result/);
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Mailbox linked");
  await page.getByRole("link", { name: "View the mail account" }).click();
  await hydrated(page);

  await page.getByRole("button", { name: "Run test" }).click();
  const imap = page.locator('.protocol[data-protocol="IMAP"] .result');
  const smtp = page.locator('.protocol[data-protocol="SMTP"] .result');
  await expect(imap).toHaveAttribute("data-ok", "true");
  await expect(imap).toContainText(/INBOX holds \d+ message/);
  await expect(smtp).toHaveAttribute("data-ok", "true");

  // The provider forgets the grant (its tokens are in memory): the login is refused, the one
  // refresh is refused too, and the page says so and offers to authorize again.
  await kit.restartAs();
  await page.getByRole("button", { name: "Run test" }).click();
  await expect(imap).toHaveAttribute("data-ok", "false");
  await expect(imap).toContainText("refused");
  await expect(page.locator('.protocol[data-protocol="IMAP"] .hint')).toContainText("authorize");
  await expect(page.locator('.protocol[data-protocol="IMAP"]').getByRole("button", { name: "Authorize again" })).toBeVisible();
  // The restarted server forgot the client too (invalid_client), so the account is in error
  // rather than needs_reauth; either way its page offers to authorize again.
  await page.reload();
  await hydrated(page);
  await expect(page.locator(".actions").getByRole("button", { name: "Authorize again" })).toBeVisible();
});
