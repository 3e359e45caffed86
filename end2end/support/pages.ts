// Page-level steps shared by the specs. Each takes an optional `{ origin }` for the specs that run
// their own Mailbridge; without it they drive the suite's server (`base()`).
import { expect, Page } from "@playwright/test";
import { At, hydrated, originOf } from "./helpers";

/** Opens `path` on the server and waits for it to hydrate. */
export async function visit(page: Page, path: string, at: At = {}) {
  await page.goto(originOf(at) + path);
  await hydrated(page);
}

/** Creates an application on the Applications page, waits for its row, returns its Redirect URI. */
export async function createApplication(page: Page, name: string, at: At = {}): Promise<string> {
  await visit(page, "/applications", at);
  await page.getByLabel("Name", { exact: true }).fill(name);
  await page.getByRole("button", { name: "Save" }).click();
  const row = page.locator(`#applications-table tr[data-name="${name}"]`);
  await expect(row).toBeVisible();
  return row.locator("input.redirect-uri").inputValue();
}

/** Opens the empty mail server form. */
export async function openNewServer(page: Page, at: At = {}) {
  await visit(page, "/mail-servers/new", at);
}

export interface NewServer {
  /** Left empty when omitted. */
  subject?: string;
  provider: string;
  clientId: string;
  clientSecret: string;
  /** The application whose Redirect URI is chosen (by name), or an option's index. */
  redirect: string | { index: number };
}

/** Opens the mail server form and fills its OAuth part, in the form's order; does not save. */
export async function newServer(page: Page, s: NewServer, at: At = {}) {
  await openNewServer(page, at);
  if (s.subject !== undefined) await page.getByLabel("Subject").fill(s.subject);
  await page.getByLabel("OAuth provider").selectOption(s.provider);
  await page.getByLabel("Client ID").fill(s.clientId);
  await page.getByLabel("Client secret", { exact: true }).fill(s.clientSecret);
  if (typeof s.redirect === "string") {
    const value = await page.locator("#server-redirect-uri option", { hasText: s.redirect }).getAttribute("value");
    await page.getByLabel("Redirect URI").selectOption(value!);
  } else {
    await page.getByLabel("Redirect URI").selectOption(s.redirect);
  }
}

/** Adds a mail account for `login` on the mail server `subject` from the Mail accounts page. */
export async function addMailAccount(page: Page, subject: string, login: string, at: At = {}) {
  await visit(page, "/mail-accounts", at);
  await page.getByLabel("Mail server", { exact: true }).selectOption({ label: subject });
  await page.getByLabel("Login").fill(login);
  await page.getByRole("button", { name: "Add mail account" }).click();
}
