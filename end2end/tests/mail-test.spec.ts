import { type Page } from "@playwright/test";
import { test, expect } from "../support/fixtures";
import { assertLogClean, startServer, stopServer, type RunningServer } from "../support/server";
import { startKit, type Kit } from "../support/peers";
import { uniq } from "../support/helpers";

// Mailbridge pointed at the whole peers kit: its OAuth server as "Google", its Dovecot and
// Postfix as the mail servers, its private CA trusted through MAILBRIDGE_CA_FILE.
let kit: Kit;
let server: RunningServer;
const admin = { email: "test-admin@example.test", password: "test admin password" };

test.beforeAll(async () => {
  kit = await startKit();
  const issuer = kit.env.PEERS_ISSUER;
  server = await startServer({
    env: {
      MAILBRIDGE_ADMIN_EMAIL: admin.email,
      MAILBRIDGE_ADMIN_PASSWORD: admin.password,
      MAILBRIDGE_GOOGLE_AUTH_URL: `${issuer}/auth`,
      MAILBRIDGE_GOOGLE_TOKEN_URL: `${issuer}/token`,
      MAILBRIDGE_GOOGLE_USERINFO_URL: `${issuer}/me`,
      MAILBRIDGE_GOOGLE_REVOKE_URL: `${issuer}/token/revocation`,
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

async function ready(page: Page) {
  await expect(page.locator('[data-hydrated="true"]').first()).toBeVisible();
}

test("after linking, Run test shows IMAP and SMTP passing; after revocation, the failure and Authorize again", async ({ page }) => {
  const appName = `Kit ${uniq()}`;
  const subject = `Kit mail ${uniq()}`;
  const mailbox = `carol-${uniq()}@example.test`;

  await page.goto(server.url + "/login");
  await ready(page);
  await page.getByLabel("Email").fill(admin.email);
  await page.getByLabel("Password").fill(admin.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(server.url + "/");

  await page.goto(server.url + "/applications");
  await ready(page);
  await page.getByLabel("Name", { exact: true }).fill(appName);
  await page.getByRole("button", { name: "Save" }).click();
  const redirectUri = await page.locator(`#applications-table tr[data-name="${appName}"] input.redirect-uri`).inputValue();
  const reg = await (await fetch(`${kit.env.PEERS_ISSUER}/reg`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ redirect_uris: [redirectUri] }),
  })).json();
  secrets.push(reg.client_secret);

  await page.goto(server.url + "/mail-servers/new");
  await ready(page);
  await page.getByLabel("Subject").fill(subject);
  await page.getByLabel("OAuth provider").selectOption("Google");
  await page.getByLabel("Client ID").fill(reg.client_id);
  await page.getByLabel("Client secret").fill(reg.client_secret);
  const value = await page.locator("#server-redirect-uri option", { hasText: appName }).getAttribute("value");
  await page.getByLabel("Redirect URI").selectOption(value!);
  await page.getByLabel("IMAP host").fill("127.0.0.1");
  await page.getByLabel("IMAP port").fill(kit.env.PEERS_IMAPS_PORT);
  await page.getByLabel("SMTP host").fill("127.0.0.1");
  await page.getByLabel("SMTP port").fill(kit.env.PEERS_SMTP_STARTTLS_PORT);
  await page.getByLabel("SMTP encryption").selectOption("STARTTLS");
  await page.getByRole("button", { name: "Save" }).click();
  await page.waitForURL(/\/mail-servers$/);

  await page.goto(server.url + "/mail-accounts");
  await ready(page);
  await page.getByLabel("Mail server", { exact: true }).selectOption({ label: subject });
  await page.getByLabel("Login").fill(mailbox);
  await page.getByRole("button", { name: "Add mail account" }).click();
  await page.locator(`#mail-accounts-table tr[data-login="${mailbox}"]`).getByRole("button", { name: "Authorize" }).click();
  await page.waitForURL(/\/oauth\/result/);
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Mailbox linked");
  await page.getByRole("link", { name: "View the mail account" }).click();
  await ready(page);

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
  await ready(page);
  await expect(page.locator(".actions").getByRole("button", { name: "Authorize again" })).toBeVisible();
});
