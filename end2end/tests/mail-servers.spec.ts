import { test, expect } from "../support/fixtures";
import { admin, base, signIn, uniq } from "../support/helpers";
import { createApplication, newServer, openNewServer, visit } from "../support/pages";
import { startOidc } from "../support/peers";

test("admin creates an application, copies its Redirect URI, and creates a Google mail server with it", async ({ page, context }) => {
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: base() });
  await signIn(page, admin.email, admin.password);
  const appName = `Workspace ${uniq()}`;
  const uri = await createApplication(page, appName);
  expect(uri).toMatch(new RegExp(`^${base()}/oauth/callback/[A-Za-z0-9_-]{22,}$`));

  const row = page.locator(`#applications-table tr[data-name="${appName}"]`);
  await row.getByRole("button", { name: "Copy" }).click();
  await expect(row.getByText("Copied")).toBeVisible();
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(uri);

  // The server form: presets fill in when Google is chosen.
  const secret = `GOCSPX-${uniq()}-secret`;
  const subject = `Gmail ${uniq()}`;
  const apiBodies: string[] = [];
  page.on("response", async (r) => {
    if (r.url().includes("/api/")) apiBodies.push(await r.text().catch(() => ""));
  });
  await openNewServer(page);
  await page.getByLabel("Subject").fill(subject);
  await expect(page.getByLabel("Authorization method")).toHaveValue("oauth2");
  await page.getByLabel("OAuth provider").selectOption("Google");
  await expect(page.getByLabel("IMAP host")).toHaveValue("imap.gmail.com");
  await expect(page.getByLabel("IMAP port")).toHaveValue("993");
  await expect(page.getByLabel("IMAP encryption")).toHaveValue("ssl");
  await expect(page.getByLabel("SMTP host")).toHaveValue("smtp.gmail.com");
  await expect(page.getByLabel("SMTP port")).toHaveValue("465");
  await page.getByLabel("Client ID").fill("1234-abc.apps.googleusercontent.com");
  await page.getByLabel("Client secret", { exact: true }).fill(secret);
  await page.getByLabel("Redirect URI").selectOption({ label: `${appName} — ${uri}` });
  await expect(page.locator("#server-redirect-uri-value")).toHaveValue(uri);
  await page.getByRole("button", { name: "Save" }).click();
  await page.waitForURL(/\/mail-servers$/);
  const serverRow = page.locator(`#mail-servers-table tr[data-subject="${subject}"]`);
  await expect(serverRow).toContainText("imap.gmail.com");
  await expect(serverRow).toContainText("Google");

  // Reopen: the secret is "set" but nowhere in the page or any server-function response.
  await serverRow.getByRole("link", { name: "Edit" }).click();
  await expect(page.locator("#secret-status")).toContainText("A client secret is set");
  await expect(page.getByLabel("Client secret", { exact: true })).toHaveValue("");
  expect(await page.content()).not.toContain(secret);
  const id = page.url().split("/").pop();
  const raw = await page.request.get(`${base()}/mail-servers/${id}`);
  expect(await raw.text()).not.toContain(secret);
  for (const b of apiBodies) expect(b).not.toContain(secret);

  await page.getByLabel("IMAP port").fill("1993");
  await page.getByRole("button", { name: "Save" }).click();
  await page.waitForURL(/\/mail-servers$/);
  await visit(page, `/mail-servers/${id}`);
  await expect(page.getByLabel("IMAP port")).toHaveValue("1993");
  await page.reload();
  await expect(page.getByLabel("IMAP port")).toHaveValue("1993");
});

test("presets fill only fields the admin has not typed into; Microsoft shows a tenant", async ({ page }) => {
  await signIn(page, admin.email, admin.password);
  await openNewServer(page);
  await page.getByLabel("IMAP host").fill("imap.mine.example");
  await page.getByLabel("OAuth provider").selectOption("Microsoft 365");
  await expect(page.getByLabel("IMAP host")).toHaveValue("imap.mine.example");
  await expect(page.getByLabel("SMTP host")).toHaveValue("smtp.office365.com");
  await expect(page.getByLabel("SMTP port")).toHaveValue("587");
  await expect(page.getByLabel("SMTP encryption")).toHaveValue("starttls");
  await expect(page.getByLabel("Tenant")).toBeVisible();
  // OAuth fields go away for the password method, without a round trip.
  await page.getByLabel("Authorization method").selectOption("Password");
  await expect(page.getByLabel("Client ID")).toHaveCount(0);
  await page.getByLabel("Authorization method").selectOption("OAuth2");
  await expect(page.getByLabel("Client ID")).toBeVisible();
});

test("invalid input shows the message beside the field and saves nothing", async ({ page }) => {
  await signIn(page, admin.email, admin.password);
  const appName = `App ${uniq()}`;
  await createApplication(page, appName);

  // A bad CIDR in the application form.
  await page.getByLabel("Name", { exact: true }).fill(`Other ${uniq()}`);
  await page.getByLabel("Allowed IP addresses").fill("10.0.0.0/33");
  await expect(page.locator("#app-ips-error")).toContainText("prefix length");
  await page.getByRole("button", { name: "Save" }).click();
  await expect(page.locator("#app-ips-error")).toContainText("prefix length");

  // A valid server to collide with.
  const subject = `Taken ${uniq()}`;
  await newServer(page, { subject, provider: "Google", clientId: "id", clientSecret: "secret", redirect: { index: 1 } });
  await page.getByRole("button", { name: "Save" }).click();
  await page.waitForURL(/\/mail-servers$/);
  // Count only once the list (loaded after the client-side navigation) shows the new server.
  await expect(page.locator(`#mail-servers-table tr[data-subject="${subject}"]`)).toBeVisible();
  const before = await page.locator("#mail-servers-table tbody tr").count();

  await newServer(page, { provider: "Google", clientId: "id", clientSecret: "secret", redirect: { index: 1 } });
  // Empty subject: refused in the browser, next to the field.
  await page.getByRole("button", { name: "Save" }).click();
  await expect(page.locator("#server-subject-error")).toHaveText("is required");
  // Port out of range, shown as typed.
  await page.getByLabel("IMAP port").fill("70000");
  await expect(page.locator("#server-imap-port-error")).toHaveText("must be a number from 1 to 65535");
  await page.getByLabel("IMAP port").fill("993");
  // Duplicate subject (another case): the server's message, beside the field.
  await page.getByLabel("Subject").fill(subject.toUpperCase());
  await page.getByRole("button", { name: "Save" }).click();
  await expect(page.locator("#server-subject-error")).toHaveText("a mail server with this subject already exists");
  await expect(page).toHaveURL(/\/mail-servers\/new$/);

  await page.goto(base() + "/mail-servers");
  await expect(page.locator("#mail-servers-table tbody tr")).toHaveCount(before);
});

test("a generic provider is saved from a real discovery document; an unreachable issuer is a field error", async ({ page }) => {
  const oidc = await startOidc();
  try {
    await signIn(page, admin.email, admin.password);
    const appName = `Generic ${uniq()}`;
    await createApplication(page, appName);
    const subject = `Generic ${uniq()}`;
    await newServer(page, { subject, provider: "Generic OAuth2", clientId: "client", clientSecret: "secret", redirect: appName });
    await page.getByLabel("Issuer URL").fill("http://127.0.0.1:1");
    await page.getByLabel("Scopes").fill("openid email offline_access");
    await page.getByLabel("IMAP host").fill("127.0.0.1");
    await page.getByLabel("IMAP port").fill("10993");
    await page.getByLabel("SMTP host").fill("127.0.0.1");
    await page.getByLabel("SMTP port").fill("10465");
    await page.getByRole("button", { name: "Save" }).click();
    await expect(page.locator("#server-issuer-error")).toContainText("could not reach");
    await page.getByLabel("Issuer URL").fill(oidc.issuer);
    await page.getByRole("button", { name: "Save" }).click();
    await page.waitForURL(/\/mail-servers$/);
    await expect(page.locator(`#mail-servers-table tr[data-subject="${subject}"]`)).toContainText("Generic OAuth2");
  } finally {
    await oidc.stop();
  }
});
