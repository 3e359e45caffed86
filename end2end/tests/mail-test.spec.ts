import * as fs from "node:fs";
import * as path from "node:path";
import { spawnSync } from "node:child_process";
import { test, expect } from "../support/fixtures";
import { adminEnvOf, assertLogClean, freePort, googleEnv, startServer, stopServer, type RunningServer } from "../support/server";
import { registerClient, startKit, type Kit } from "../support/peers";
import { hydrated, signIn, uniq, type At } from "../support/helpers";
import { addMailAccount, createApplication, newServer } from "../support/pages";

// Mailbridge pointed at the whole peers kit: its OAuth server as "Google", its Dovecot and
// Postfix as the mail servers, its private CA trusted through MAILBRIDGE_CA_FILE.
let kit: Kit;
let server: RunningServer;
let relayPort: number;
const admin = { email: "test-admin@example.test", password: "test admin password" };

test.beforeAll(async () => {
  kit = await startKit();
  relayPort = await freePort();
  // The relay presents the kit's certificate (signed by the CA the clients trust).
  const tls = path.dirname(kit.env.PEERS_CA);
  server = await startServer({
    env: {
      MAILBRIDGE_SMTP_RELAY_ADDR: `127.0.0.1:${relayPort}`,
      MAILBRIDGE_TLS_CERT_FILE: path.join(tls, "cert.pem"),
      MAILBRIDGE_TLS_KEY_FILE: path.join(tls, "key.pem"),
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

/** A Google-type server at the kit (IMAPS; SMTP on `smtpPort`), saved through the form. */
async function kitServer(page: import("@playwright/test").Page, subject: string, appName: string,
  reg: { client_id: string; client_secret: string }, smtpPort: string, startTls = false) {
  await newServer(page, { subject, provider: "Google", clientId: reg.client_id, clientSecret: reg.client_secret, redirect: appName }, at());
  await page.getByLabel("IMAP host").fill("127.0.0.1");
  await page.getByLabel("IMAP port").fill(kit.env.PEERS_IMAPS_PORT);
  await page.getByLabel("SMTP host").fill("127.0.0.1");
  await page.getByLabel("SMTP port").fill(smtpPort);
  if (startTls) await page.getByLabel("SMTP encryption").selectOption("STARTTLS");
  await page.getByRole("button", { name: "Save" }).click();
  await page.waitForURL(/\/mail-servers$/);
}

test("after linking, Run test shows IMAP and SMTP passing; after revocation, the failure and Authorize again", async ({ page }) => {
  const appName = `Kit ${uniq()}`;
  const subject = `Kit mail ${uniq()}`;
  const mailbox = `carol-${uniq()}@example.test`;

  await signIn(page, admin.email, admin.password, at());

  const redirectUri = await createApplication(page, appName, at());
  const reg = await registerClient(kit.env.PEERS_ISSUER, redirectUri);
  secrets.push(reg.client_secret);

  await kitServer(page, subject, appName, reg, kit.env.PEERS_SMTP_STARTTLS_PORT, true);

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

test("a mailbox that needs its owner again is e-mailed from the sender mailbox, and the link leads back to Authorize again", async ({ page }) => {
  const appName = `Notices ${uniq()}`;
  const senderServer = `Sender ${uniq()}`;
  const ownServer = `Own ${uniq()}`;
  const sender = `sender-${uniq()}@example.test`;
  const mine = `mine-${uniq()}@example.test`;
  await signIn(page, admin.email, admin.password, at());
  const redirectUri = await createApplication(page, appName, at());
  const reg = await registerClient(kit.env.PEERS_ISSUER, redirectUri);
  secrets.push(reg.client_secret);
  // Two servers at the kit: the sender mailbox's, and one whose settings will change.
  for (const subject of [senderServer, ownServer]) {
    await kitServer(page, subject, appName, reg, kit.env.PEERS_SMTPS_PORT);
  }
  for (const [subject, login] of [[senderServer, sender], [ownServer, mine]]) {
    await addMailAccount(page, subject, login, at());
    await page.locator(`#mail-accounts-table tr[data-login="${login}"]`).getByRole("button", { name: "Authorize" }).click();
    await page.waitForURL(/\/oauth\/result/);
    await expect(page.getByRole("heading", { level: 1 })).toHaveText("Mailbox linked");
  }

  // Settings: notices come from the sender mailbox.
  await page.goto(`${server.url}/settings`);
  await hydrated(page);
  await page.getByLabel("Notification sender").selectOption({ label: `${sender} (${senderServer})` });
  await page.getByRole("button", { name: "Save" }).click();
  await expect(page.getByText("Saved.")).toBeVisible();

  // The other server's IMAP port changes: its mailbox must be authorised again.
  await page.goto(`${server.url}/mail-servers`);
  await hydrated(page);
  await page.locator(`#mail-servers-table tr[data-subject="${ownServer}"]`).getByRole("link", { name: "Edit" }).click();
  await expect(page.getByLabel("IMAP port")).toHaveValue(kit.env.PEERS_IMAPS_PORT);
  await page.getByLabel("IMAP port").fill(kit.env.PEERS_IMAP_PORT);
  await page.getByLabel("IMAP encryption").selectOption({ label: "STARTTLS" });
  await page.getByRole("button", { name: "Save" }).click();
  await page.locator("#server-confirm").getByRole("button", { name: "Save and re-authorise 1 account" }).click();
  await page.waitForURL(/\/mail-servers$/);

  // The notice, sent through the sender's SMTP with XOAUTH2, lands in the owner's mailbox.
  const maildir = path.join(kit.env.PEERS_VAR, "mail", admin.email, "Maildir");
  let notice = "";
  await expect
    .poll(
      () => {
        for (const sub of ["new", "cur"]) {
          const dir = path.join(maildir, sub);
          if (!fs.existsSync(dir)) continue;
          for (const f of fs.readdirSync(dir)) {
            const text = fs.readFileSync(path.join(dir, f), "utf8").replace(/=\r?\n/g, "");
            // The body (a long Subject is folded across lines).
            if (text.includes(`your mailbox ${mine} on ${ownServer}`)) notice = text;
          }
        }
        return notice !== "";
      },
      { timeout: 30_000 },
    )
    .toBe(true);
  expect(notice).toContain(`From: Mailbridge <${sender}>`);
  const link = notice.match(/http:\/\/\S+\/mail-accounts\/\d+/)?.[0];
  expect(link).toBeTruthy();

  // The link leads to the mailbox, whose owner authorises it again.
  await page.goto(link!);
  await hydrated(page);
  await page.locator(".actions").getByRole("button", { name: "Authorize again" }).click();
  await page.waitForURL(/\/oauth\/result/);
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Mailbox linked");
});

/** Sends one message through the relay with Python's smtplib; its JSON answer. */
function relaySend(login: string, password: string, subject: string): Record<string, unknown> {
  const script = path.join(__dirname, "..", "..", "server", "tests", "support", "mailclient.py");
  const r = spawnSync("python3", [script, "send", "127.0.0.1", String(relayPort), "starttls", kit.env.PEERS_CA,
    login, password, login, login, subject], { encoding: "utf8" });
  return JSON.parse(r.stdout.trim());
}

test("an owner makes an app password for a scanner, which sends through the relay; revoked, it no longer can", async ({ page }) => {
  const appName = `Relay ${uniq()}`;
  const subject = `Relay mail ${uniq()}`;
  const mailbox = `scanner-${uniq()}@example.test`;
  await signIn(page, admin.email, admin.password, at());
  const redirectUri = await createApplication(page, appName, at());
  const reg = await registerClient(kit.env.PEERS_ISSUER, redirectUri);
  secrets.push(reg.client_secret);
  await kitServer(page, subject, appName, reg, kit.env.PEERS_SMTPS_PORT);
  await addMailAccount(page, subject, mailbox, at());
  await page.locator(`#mail-accounts-table tr[data-login="${mailbox}"]`).getByRole("button", { name: "Authorize" }).click();
  await page.waitForURL(/\/oauth\/result/);
  await page.getByRole("link", { name: "View the mail account" }).click();
  await hydrated(page);

  // A name is required, and the page says so under the field.
  await page.getByRole("button", { name: "New app password" }).click();
  await expect(page.locator("#app-password-name-error")).toContainText("required");
  await page.getByLabel("Name", { exact: true }).fill("Office scanner");
  await page.getByRole("button", { name: "New app password" }).click();
  const shown = page.getByLabel("Generated app password");
  await expect(shown).toHaveValue(/^([0-9a-z]{4}-){7}[0-9a-z]{4}$/);
  const password = await shown.inputValue();
  secrets.push(password);
  await expect(page.locator("#created-app-password")).toContainText("not shown again");
  const row = page.locator('#app-passwords-table tr[data-name="Office scanner"]');
  await expect(row.locator(".last-used")).toHaveText("never");

  // The scanner sends through the relay with it.
  const sent = relaySend(mailbox, password, `Scan ${uniq()}`);
  expect(sent).toEqual({ ok: true });
  await page.reload();
  await hydrated(page);
  await expect(row.locator(".last-used")).toContainText("from 127.0.0.1 (SMTP)");
  // Shown once: after a reload the password is nowhere on the page.
  expect(await page.content()).not.toContain(password);

  await row.getByRole("button", { name: "Revoke" }).click();
  await expect(row).toHaveCount(0);
  const refused = relaySend(mailbox, password, "After revoke");
  expect(refused.code).toBe(535);
});
