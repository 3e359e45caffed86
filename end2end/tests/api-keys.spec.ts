import { test, expect } from "../support/fixtures";
import { admin, base, signIn, uniq } from "../support/helpers";
import { visit } from "../support/pages";

test("an admin creates an API key, copies it, a program uses it, and a revoked key is refused", async ({ page, context, request }) => {
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: base() });
  await signIn(page, admin.email, admin.password);
  await visit(page, "/api-keys");
  const name = `Helpdesk ${uniq()}`;
  await page.getByLabel("Name", { exact: true }).fill(name);
  await page.getByLabel("accounts: list and read accounts", { exact: false }).check();
  await page.getByRole("button", { name: "Create key" }).click();

  // Shown once, in full, with a Copy button.
  const box = page.locator("#created-key");
  await expect(box).toBeVisible();
  const key = await page.locator("#new-key").inputValue();
  expect(key).toMatch(/^mbk_[A-Za-z0-9_-]{43}$/);
  await box.getByRole("button", { name: "Copy" }).click();
  await expect(box.getByText("Copied")).toBeVisible();
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(key);

  const row = page.locator(`#api-keys-table tr[data-name="${name}"]`);
  await expect(row).toContainText(key.slice(0, 12));
  await expect(row).toContainText("tokens, accounts");
  await expect(row.locator(".last-used")).toHaveText("never");

  // A program uses it; the list then says when and from where.
  const used = await request.get(`${base()}/api/v1/accounts`, { headers: { Authorization: `Bearer ${key}` } });
  expect(used.status()).toBe(200);
  expect((await used.json()).page_size).toBe(50);
  await page.reload();
  await expect(row.locator(".last-used")).toContainText("from 127.0.0.1");
  // After a reload the key is nowhere in the page.
  expect(await page.content()).not.toContain(key.slice(12));

  await row.getByRole("button", { name: "Revoke" }).click();
  await expect(row).toContainText("revoked");
  const refused = await request.get(`${base()}/api/v1/accounts`, { headers: { Authorization: `Bearer ${key}` } });
  expect(refused.status()).toBe(401);
  expect(refused.headers()["www-authenticate"]).toBe('Bearer error="invalid_token"');
});

test("an API key form with mistakes names each field and creates nothing", async ({ page }) => {
  await signIn(page, admin.email, admin.password);
  await visit(page, "/api-keys");
  const before = await page.locator("#api-keys-table tbody tr").count();
  await page.getByLabel("tokens: get access tokens").uncheck();
  await page.getByLabel("All mail servers").uncheck();
  await page.getByLabel("Allowed IP addresses").fill("10.0.0.0/33");
  await page.getByRole("button", { name: "Create key" }).click();
  await expect(page.locator("#key-name-error")).toContainText("required");
  await expect(page.locator("#key-servers-error")).toContainText("at least one mail server");
  await expect(page.locator("#key-permissions-error")).toContainText("tokens or accounts");
  await expect(page.locator("#key-ips-error")).not.toBeEmpty();
  await expect(page.locator("#created-key")).toHaveCount(0);
  await page.reload();
  await expect(page.locator("#api-keys-table tbody tr")).toHaveCount(before);
});
