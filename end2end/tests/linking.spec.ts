import { test, expect } from "../support/fixtures";
import { adminEnvOf, assertLogClean, googleEnv, startServer, stopServer, type RunningServer } from "../support/server";
import { startOidc, type Oidc } from "../support/peers";
import { signIn, signOut, uniq, type At } from "../support/helpers";
import { addMailAccount, createApplication, newServer, visit } from "../support/pages";

// Its own Mailbridge, whose built-in Google provider points at a local oidc-provider (as
// MAILBRIDGE_GOOGLE_*_URL allow for private clouds), plus a second provider that asks for
// login and consent, for the deny path.
let google: Oidc;
let consenting: Oidc;
let server: RunningServer;
const admin = { email: "link-admin@example.test", password: "link admin password" };

test.beforeAll(async () => {
  google = await startOidc();
  consenting = await startOidc({ AUTO_APPROVE: "0" });
  server = await startServer({ env: { ...adminEnvOf(admin), ...googleEnv(google.issuer) } });
});

const secrets: string[] = [];

test.afterAll(async () => {
  await stopServer(server);
  // Nothing the provider issued or the admin pasted may be in the log of the whole run.
  assertLogClean(server, secrets);
  await google.stop();
  await consenting.stop();
});

// The helpers drive this spec's own server.
const at = (): At => ({ origin: server.url });

test("an admin links a user, who authorises the mailbox at the provider and comes back linked", async ({ page }) => {
  const appName = `Web ${uniq()}`;
  const subject = `Google ${uniq()}`;
  const userEmail = `owner-${uniq()}@example.test`;
  const mailbox = `alice-${uniq()}@example.test`;
  const password = "owner password 1";

  await signIn(page, admin.email, admin.password, at());
  const redirectUri = await createApplication(page, appName, at());
  // Register the OAuth client at the provider with exactly the URI shown, as in Google Cloud.
  const client = await google.register(redirectUri);
  secrets.push(client.client_secret);
  await newServer(page, { subject, provider: "Google", clientId: client.client_id, clientSecret: client.client_secret, redirect: appName }, at());
  await page.getByRole("button", { name: "Save" }).click();
  await page.waitForURL(/\/mail-servers$/);

  await visit(page, "/users", at());
  await page.locator("#new-user-email").fill(userEmail);
  await page.locator("#new-user-name").fill("Mailbox Owner");
  await page.locator("#new-user-password").fill(password);
  await page.getByRole("button", { name: "Create user" }).click();
  await expect(page.locator(`#users-table tr[data-email="${userEmail}"]`)).toBeVisible();

  // On the server's page: "Link a user".
  await visit(page, "/mail-servers", at());
  await page.locator(`#mail-servers-table tr[data-subject="${subject}"]`).getByRole("link", { name: "Edit" }).click();
  // An edit in the server form, not yet saved, survives linking a user below it.
  await page.getByLabel("IMAP port").fill("1993");
  await page.locator("#link-user-owner").selectOption({ label: userEmail });
  await page.locator("#link-user-login").fill(mailbox);
  await page.getByRole("button", { name: "Link a user" }).click();
  await expect(page.locator(`#linked-accounts tr[data-login="${mailbox}"]`)).toContainText("pending");
  await expect(page.getByLabel("IMAP port")).toHaveValue("1993");
  await signOut(page);

  // The owner authorises from their own page.
  await signIn(page, userEmail, password, at());
  await visit(page, "/mail-accounts", at());
  const row = page.locator(`#mail-accounts-table tr[data-login="${mailbox}"]`);
  await expect(row).toContainText("pending");
  await row.getByRole("button", { name: "Authorize" }).click();
  await page.waitForURL(/\/oauth\/result/);
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Mailbox linked");
  await page.getByRole("link", { name: "Back to mail accounts" }).click();
  const linked = page.locator(`#mail-accounts-table tr[data-login="${mailbox}"]`);
  await expect(linked).toHaveAttribute("data-status", "linked");
  await expect(linked.locator(".expiry")).toContainText(/expires in (59|60) min/);
});

test("denying consent at the provider ends on a clear page and stores no tokens", async ({ page }) => {
  const appName = `Deny ${uniq()}`;
  const subject = `Consent ${uniq()}`;
  const mailbox = `bob-${uniq()}@example.test`;
  await signIn(page, admin.email, admin.password, at());
  const redirectUri = await createApplication(page, appName, at());
  const client = await consenting.register(redirectUri);
  secrets.push(client.client_secret);
  await newServer(page, { subject, provider: "Generic OAuth2", clientId: client.client_id, clientSecret: client.client_secret, redirect: appName }, at());
  await page.getByLabel("Issuer URL").fill(consenting.issuer);
  await page.getByLabel("Scopes").fill("openid email offline_access https://mail.google.com/");
  await page.getByLabel("IMAP host").fill("127.0.0.1");
  await page.getByLabel("IMAP port").fill("10993");
  await page.getByLabel("SMTP host").fill("127.0.0.1");
  await page.getByLabel("SMTP port").fill("10465");
  await page.getByRole("button", { name: "Save" }).click();
  await page.waitForURL(/\/mail-servers$/);

  await addMailAccount(page, subject, mailbox, at());
  const row = page.locator(`#mail-accounts-table tr[data-login="${mailbox}"]`);
  await row.getByRole("button", { name: "Authorize" }).click();

  // The provider's own pages: sign in, then Deny.
  await page.locator("#password").fill("anything");
  await page.locator("#submit").click();
  await page.locator("#deny").click();
  await page.waitForURL(/\/oauth\/result/);
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Access denied");
  await expect(page.getByRole("button", { name: "Try again" })).toBeVisible();
  await page.getByRole("link", { name: "View the mail account" }).click();
  await expect(page.locator("#account-status")).toContainText("pending");
  await expect(page.locator("#account-expiry")).toHaveText("—");
  await expect(page.locator("#account-error")).toContainText("access_denied");
});

test("a linked server's tokens go nowhere new without a confirmation, and never in the clear", async ({ page }) => {
  const appName = `Move ${uniq()}`;
  const subject = `Moved ${uniq()}`;
  const mailbox = `carol-${uniq()}@example.test`;
  await signIn(page, admin.email, admin.password, at());
  const redirectUri = await createApplication(page, appName, at());
  const client = await google.register(redirectUri);
  secrets.push(client.client_secret);
  await newServer(page, { subject, provider: "Google", clientId: client.client_id, clientSecret: client.client_secret, redirect: appName }, at());
  await page.getByRole("button", { name: "Save" }).click();
  await page.waitForURL(/\/mail-servers$/);
  await addMailAccount(page, subject, mailbox, at());
  await page.locator(`#mail-accounts-table tr[data-login="${mailbox}"]`).getByRole("button", { name: "Authorize" }).click();
  await page.waitForURL(/\/oauth\/result/);
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Mailbox linked");

  await visit(page, "/mail-servers", at());
  await page.locator(`#mail-servers-table tr[data-subject="${subject}"]`).getByRole("link", { name: "Edit" }).click();
  await expect(page.getByLabel("IMAP host")).toHaveValue("imap.gmail.com");

  // No encryption, or no certificate check, for an OAuth2 server: named in the page, not saved.
  await page.getByLabel("IMAP encryption").selectOption({ label: "None" });
  await page.getByLabel("Validate certificate").uncheck();
  await page.getByRole("button", { name: "Save" }).click();
  await expect(page.locator("#server-imap-encryption-error")).toContainText("SSL/TLS or STARTTLS");
  await expect(page.locator("#server-validate-certificate-error")).toContainText("MAILBRIDGE_CA_FILE");
  await expect(page).toHaveURL(/\/mail-servers\/\d+$/);
  await page.getByLabel("IMAP encryption").selectOption({ label: "SSL/TLS" });
  await page.getByLabel("Validate certificate").check();

  // A new IMAP host: the page asks first, with the number of mailboxes concerned.
  await page.getByLabel("IMAP host").fill("imap.elsewhere.example");
  await page.getByRole("button", { name: "Save" }).click();
  const dialog = page.locator("#server-confirm");
  await expect(dialog).toContainText("1 linked mail account");
  await expect(dialog).toContainText("IMAP host");
  await dialog.getByRole("button", { name: "Save and re-authorise 1 account" }).click();
  await page.waitForURL(/\/mail-servers$/);

  // The mailbox is back to its owner, told why.
  await visit(page, "/mail-accounts", at());
  const row = page.locator(`#mail-accounts-table tr[data-login="${mailbox}"]`);
  await expect(row).toHaveAttribute("data-status", "needs_reauth");
  await row.getByRole("link").first().click();
  await expect(page.locator("#account-error")).toContainText("IMAP host");
  await expect(page.locator(".actions").getByRole("button", { name: "Authorize again" })).toBeVisible();
});
